"""SequenceClassification (one class or several labels per sequence) and TokenClassification."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryF1Score,
    BinaryMatthewsCorrCoef,
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassF1Score,
    MulticlassMatthewsCorrCoef,
    MultilabelAccuracy,
    MultilabelAUROC,
    MultilabelF1Score,
    MultilabelMatthewsCorrCoef,
)

from mg.adapters import LinearTokenAdapter
from mg.core import (
    BackboneCallable,
    BackboneInterface,
    Capability,
    LabelKind,
    SequenceAdapterCallable,
    TaskInterface,
    TokenAdapter,
    TokenAdapterCallable,
)
from mg.core.compat import CompatibilityReport
from mg.core.data import DataInterface
from mg.core.labels import IGNORE_INDEX
from mg.core.task import Stage
from mg.tasks.batching import (
    Sample,
    gather_tokens,
    pack_index,
    residue_mask,
    unpack,
)
from mg.tasks.losses import (
    BALANCED,
    balanced_class_weights,
    balanced_pos_weight,
    check_loss_options,
    classification_loss,
    multilabel_loss,
    training_labels,
)
from mg.tasks.metrics import SelectOutput
from mg.tasks.per_sequence import PerSequenceTask


def _check_class_options(
    n_classes: int,
    class_weights: Sequence[float] | None,
    class_names: Sequence[str] | None = None,
    minimum: int = 2,
) -> None:
    if n_classes < minimum:
        raise ValueError(f"n_classes must be at least {minimum}, not {n_classes}.")
    if class_weights is not None:
        if len(class_weights) != n_classes:
            raise ValueError(
                f"class_weights has {len(class_weights)} values but n_classes is {n_classes}."
            )
        if any(not w > 0 for w in class_weights):
            raise ValueError(f"class_weights must all be positive, got {list(class_weights)}.")
    if class_names is not None and len(class_names) != n_classes:
        raise ValueError(f"class_names has {len(class_names)} names but n_classes is {n_classes}.")


def _single_label_metrics(n_classes: int, with_auroc: bool = True) -> dict[str, Metric]:
    """Accuracy, F1, MCC (and AUROC): binary metrics for two classes, macro F1 and AUROC above."""
    if n_classes == 2:
        metrics: dict[str, Metric] = {
            "accuracy": BinaryAccuracy(),
            "f1": BinaryF1Score(),
            "mcc": BinaryMatthewsCorrCoef(),
        }
        if with_auroc:
            metrics["auroc"] = BinaryAUROC()
        return metrics
    metrics = {
        "accuracy": MulticlassAccuracy(n_classes, average="micro"),
        "f1": MulticlassF1Score(n_classes, average="macro"),
        "mcc": MulticlassMatthewsCorrCoef(n_classes),
    }
    if with_auroc:
        metrics["auroc"] = MulticlassAUROC(n_classes, average="macro")
    return metrics


def _metric_scores(probabilities: Tensor) -> Tensor:
    """What single-label metrics read: P(class 1) for two classes, every probability above."""
    return probabilities[..., 1] if probabilities.shape[-1] == 2 else probabilities


class SequenceClassification(PerSequenceTask):
    """Assign each sequence one of ``n_classes`` classes, or any number of labels.

    Single-label (the default) trains with cross-entropy; ``multilabel`` trains one
    independent yes/no decision per label with binary cross-entropy.

    Data: samples with ``"sequences"`` (``"expression"`` with a cell backbone, from
    `CellData`) and, except for prediction, ``"labels"``: a class
    index in ``[0, n_classes)``, or with ``multilabel`` a list of ``n_classes`` 0/1 values.

    Predictions: ``"predictions"``, the predicted class ``(batch,)`` (multilabel: 0/1 per
    label, ``(batch, n_classes)``), and ``"probabilities"`` ``(batch, n_classes)``.

    Metrics: ``accuracy``, ``f1``, ``mcc``, ``auroc`` (binary for two classes, macro F1 and
    AUROC for more, macro over labels for multilabel; ``auroc`` on validation and test
    only); with ``multilabel``, on test also per label as ``test_{metric}_{name}``, with
    ``class_names`` or ``label{i}`` as name.

    Args:
        backbone (BackboneCallable): builds the backbone; the task fills its reserved
            ``(use_lm_head, default_config)`` arguments.
        adapter (SequenceAdapterCallable): builds the head, filled with
            ``(embedding_size, n_classes)``.
        n_classes (int): number of classes (or of labels, with ``multilabel``).
        multilabel (bool): each sequence carries any subset of the labels.
        class_weights (list[float] | Literal["balanced"] | None): per-class loss weights
            (cross-entropy ``weight``); with ``multilabel``, the positive weight of each
            label. ``"balanced"`` counts them from the training labels at fit start
            (see `mg.tasks.losses`) and says them once.
        class_names (list[str] | None): names used for per-label metrics.
        label_smoothing (float): share of each target spread over all classes (for
            ``multilabel``, targets move to ``s/2`` and ``1 - s/2``).
        focal_gamma (float): focal loss exponent; 0 (the default) is plain cross-entropy.
        **kwargs (Any): `TaskInterface` options (``optimizer``, ``lr_scheduler``, ...).

    Raises:
        ValueError: fewer than two classes (one label for multilabel), or
            ``class_weights`` / ``class_names`` of the wrong length.
    """

    label_kind = LabelKind.CLASS

    def __init__(
        self,
        backbone: BackboneCallable,
        adapter: SequenceAdapterCallable = PerSequenceTask.default_adapter,
        *,
        n_classes: int = 2,
        multilabel: bool = False,
        class_weights: list[float] | Literal["balanced"] | None = None,
        class_names: list[str] | None = None,
        label_smoothing: float = 0.0,
        focal_gamma: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone, adapter, **kwargs)
        self.balanced = class_weights == BALANCED
        listed = None if self.balanced else class_weights
        _check_class_options(n_classes, listed, class_names, 1 if multilabel else 2)
        check_loss_options(label_smoothing, focal_gamma)
        self.n_classes = n_classes
        self.multilabel = multilabel
        self.label_kind = LabelKind.MULTILABEL if multilabel else LabelKind.CLASS
        self.class_names = list(class_names) if class_names is not None else None
        self.label_smoothing = label_smoothing
        self.focal_gamma = focal_gamma
        if self.balanced:
            # Counted from the training labels at fit start, and kept in the checkpoint so
            # that validate and test score with the weights the model was trained with.
            self.register_buffer("class_weights", torch.ones(n_classes), persistent=True)
        else:
            weights = torch.tensor(listed, dtype=torch.float32) if listed else None
            self.register_buffer("class_weights", weights, persistent=False)

    def on_fit_start(self) -> None:
        """With ``class_weights: balanced``, count the training labels and say the weights."""
        super().on_fit_start()
        datamodule = getattr(self.trainer, "datamodule", None)
        if not self.balanced or datamodule is None:
            return
        labels = training_labels(datamodule)
        if self.multilabel:
            weights = balanced_pos_weight(labels, self.n_classes)
        else:
            weights = balanced_class_weights(labels, self.n_classes)
        self.class_weights.copy_(weights.to(self.class_weights.device))
        names = self.class_names or [str(i) for i in range(self.n_classes)]
        shown = ", ".join(f"{n}={w:.4g}" for n, w in zip(names, weights.tolist(), strict=True))
        what = "pos_weight per label" if self.multilabel else "class weights"
        if self.trainer.is_global_zero:
            print(
                f"class_weights: balanced -> {what} {shown} (from {len(labels)} training rows)",
                file=sys.stderr,
                flush=True,
            )

    @property
    def label_size(self) -> int:
        """The number of classes (of labels, with ``multilabel``) a label holds."""
        return self.n_classes

    def adapter_arguments(self, backbone: BackboneInterface) -> tuple[int, int]:
        """The head maps the embedding size to ``n_classes`` logits."""
        return backbone.get_embedding_size(), self.n_classes

    def check_data(self, datamodule: DataInterface, stage: str) -> CompatibilityReport:
        """Check the data as every task does; say so when class names outnumber ``n_classes``."""
        try:
            return super().check_data(datamodule, stage)
        except ValueError as error:
            names = getattr(datamodule, "class_names", None)
            if self.multilabel or not names or len(names) <= self.n_classes:
                raise
            raise ValueError(
                f"The labels name {len(names)} classes {names}, but n_classes is "
                f"{self.n_classes}: set n_classes: {len(names)}. ({error})"
            ) from None

    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Tokenize the sequences; stack labels as class indices or a 0/1 matrix.

        Returns:
            dict[str, Any]: the tokenized batch, plus ``"labels"``: long ``(batch,)``, or
            float ``(batch, n_classes)`` with ``multilabel``.
        """
        return self.add_labels(self.tokenize_samples(samples), samples)

    def evaluate(self, preds: Tensor, batch: dict[str, Any], stage: Stage) -> dict[str, Tensor]:
        """Cross-entropy (binary cross-entropy for multilabel), then update the metrics."""
        logits = preds.float()
        labels = batch["labels"].to(logits.device)
        options = {"label_smoothing": self.label_smoothing, "focal_gamma": self.focal_gamma}
        if self.multilabel:
            loss = multilabel_loss(logits, labels, self.class_weights, **options)
            self.update_metrics(stage, logits.detach().sigmoid(), labels.long())
        else:
            loss = classification_loss(logits, labels, self.class_weights, **options)
            scores = _metric_scores(logits.detach().softmax(-1))
            self.update_metrics(stage, scores, labels)
        return {"loss": loss}

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Return the predicted class (0/1 per label for multilabel) and the probabilities."""
        logits = self(batch).float()
        if self.multilabel:
            probabilities = logits.sigmoid()
            predictions = (probabilities > 0.5).long()
        else:
            probabilities = logits.softmax(-1)
            predictions = probabilities.argmax(-1)
        return {
            "ids": batch["ids"],
            "predictions": predictions.cpu(),
            "probabilities": probabilities.cpu(),
        }

    def configure_metrics(self, stage: Stage) -> dict[str, Metric]:
        """Accuracy, F1, MCC and AUROC; per label on test for multilabel.

        AUROC keeps every prediction until the epoch ends, so training skips it.
        """
        with_auroc = stage != "train"
        if not self.multilabel:
            return _single_label_metrics(self.n_classes, with_auroc)
        n = self.n_classes
        metrics: dict[str, Metric] = {
            "accuracy": MultilabelAccuracy(n, average="micro"),
            "f1": MultilabelF1Score(n, average="macro"),
            "mcc": MultilabelMatthewsCorrCoef(n),
        }
        if with_auroc:
            metrics["auroc"] = MultilabelAUROC(n, average="macro")
        if stage == "test":
            names = self.class_names or [f"label{i}" for i in range(n)]
            for i, name in enumerate(names):
                metrics[f"accuracy_{name}"] = SelectOutput(BinaryAccuracy(), i)
                metrics[f"f1_{name}"] = SelectOutput(BinaryF1Score(), i)
                metrics[f"mcc_{name}"] = SelectOutput(BinaryMatthewsCorrCoef(), i)
                metrics[f"auroc_{name}"] = SelectOutput(BinaryAUROC(), i)
        return metrics


class TokenClassification(TaskInterface):
    """Assign each residue one of ``n_classes`` classes (secondary structure, binding sites, ...).

    Labels line up with residues: the i-th label belongs to the i-th residue token, after
    the backbone's special tokens and its truncation to ``max_length``. Special tokens and
    padding get no label, and neither the loss nor the metrics read them.

    Data: samples with ``"sequences"`` and, except for prediction, ``"labels"``: one class
    index per residue (``len(labels) == len(sequence)``); ``-100`` marks a residue with no
    label.

    Predictions: per item, trimmed to its residues: ``"predictions"`` (class per residue)
    and ``"probabilities"`` ``(residues, n_classes)``.

    Metrics: ``accuracy``, ``f1`` and ``mcc`` over labelled residues (binary for two
    classes, macro F1 above).

    Args:
        backbone (BackboneCallable): builds the backbone (one token per residue).
        adapter (TokenAdapterCallable): builds the per-token head, filled with
            ``(embedding_size, n_classes)``.
        n_classes (int): number of classes.
        class_weights (list[float] | None): per-class cross-entropy weights.
        label_smoothing (float): share of each residue's target spread over all classes.
        focal_gamma (float): focal loss exponent; 0 (the default) is plain cross-entropy.
            Both work as in `SequenceClassification`, over labelled residues only.
        **kwargs (Any): `TaskInterface` options (``optimizer``, ``lr_scheduler``, ...).

    Raises:
        ValueError: fewer than two classes, ``class_weights`` of the wrong length, or a
            loss option out of range.
    """

    adapter_type = TokenAdapter
    default_adapter = LinearTokenAdapter
    label_kind = LabelKind.TOKEN
    supports_embedding_cache = True
    needs_capabilities = frozenset({Capability.PER_RESIDUE_TOKENS})

    def __init__(
        self,
        backbone: BackboneCallable,
        adapter: TokenAdapterCallable = default_adapter,
        *,
        n_classes: int = 2,
        class_weights: list[float] | None = None,
        label_smoothing: float = 0.0,
        focal_gamma: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone, adapter, **kwargs)
        _check_class_options(n_classes, class_weights)
        check_loss_options(label_smoothing, focal_gamma)
        self.n_classes = n_classes
        self.label_smoothing = label_smoothing
        self.focal_gamma = focal_gamma
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.register_buffer("class_weights", weights, persistent=False)

    def adapter_arguments(self, backbone: BackboneInterface) -> tuple[int, int]:
        """The head maps each token's embedding to ``n_classes`` logits."""
        return backbone.get_embedding_size(), self.n_classes

    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Tokenize, then put each residue's label at its token (``-100`` elsewhere).

        Returns:
            dict[str, Any]: the tokenized batch, plus ``"labels"`` ``(batch, length)`` long.

        Raises:
            ValueError: an item's labels do not have one value per residue.
        """
        return self.add_labels(self.tokenize_samples(samples), samples)

    def evaluate(self, preds: Tensor, batch: dict[str, Any], stage: Stage) -> dict[str, Tensor]:
        """Cross-entropy (focal, smoothed) over labelled residues; metrics over the same."""
        logits = preds.float()
        labels = batch["labels"].to(logits.device)
        # One row per token: the loss averages over labelled residues of the whole batch.
        loss = classification_loss(
            logits.reshape(-1, self.n_classes),
            labels.reshape(-1),
            self.class_weights,
            label_smoothing=self.label_smoothing,
            focal_gamma=self.focal_gamma,
            ignore_index=IGNORE_INDEX,
        )
        labelled = labels != IGNORE_INDEX
        if labelled.any():
            scores = _metric_scores(logits.detach()[labelled].softmax(-1))
            self.update_metrics(stage, scores, labels[labelled])
        return {"loss": loss}

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Return per-item class and probability tensors, trimmed to the item's residues."""
        index, packed = pack_index(residue_mask(batch))
        probabilities = gather_tokens(self(batch).float().softmax(-1), index)
        return {
            "ids": batch["ids"],
            "predictions": unpack(probabilities.argmax(-1), packed),
            "probabilities": unpack(probabilities, packed),
        }

    def configure_metrics(self, stage: Stage) -> dict[str, Metric]:
        """Accuracy, F1 and MCC over labelled residues."""
        return _single_label_metrics(self.n_classes, with_auroc=False)

    @property
    def label_size(self) -> int:
        """The number of classes a label indexes."""
        return self.n_classes
