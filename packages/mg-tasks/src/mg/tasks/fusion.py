"""Multi-modal fusion: two or three backbones, each reading its own sequence column.

A label that depends on, say, a DNA sequence and the protein it meets is predicted from
both: each backbone encodes its own column, and a `FusionAdapter` (concatenation of
pooled embeddings, or cross-attention between token states) turns them into one output.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torch.nn import functional as F
from torchmetrics import MeanSquaredError, Metric, PearsonCorrCoef, SpearmanCorrCoef
from torchmetrics.classification import MulticlassAccuracy

from mg.adapters import ConcatFusionAdapter
from mg.core import (
    BackboneCallable,
    BackboneInterface,
    CompatibilityReport,
    FusionAdapter,
    FusionAdapterCallable,
    LabelKind,
    TaskInterface,
    check_compatibility,
)
from mg.core.data import DataInterface, stage_name
from mg.core.labels import label_handler
from mg.core.task import Stage
from mg.tasks.batching import Sample
from mg.tasks.metrics import MeanOverOutputs


class _FusionTask(TaskInterface):
    """Builds one backbone per sequence column and a fusion adapter over all of them.

    Its subclasses add their output count (``n_classes``, ``num_outputs``) and take
    these options through ``*args, **kwargs``.

    Args:
        backbones (dict[str, BackboneCallable]): sample key → backbone; two or three,
            one of them under ``sequences``.
        adapter (FusionAdapterCallable): builds the fusion head, filled with
            ``(hidden sizes, output count)``.
        **kwargs (Any): `TaskInterface` options (``optimizer``, ``lr_scheduler``, ...).

    Raises:
        ValueError: not two or three backbones, or none under ``sequences``.
    """

    adapter_type = FusionAdapter
    accepts_binned_outputs = True  # the adapter reads each backbone's own mask
    default_adapter = ConcatFusionAdapter

    def __init__(
        self,
        backbones: dict[str, BackboneCallable],
        adapter: FusionAdapterCallable = default_adapter,
        **kwargs: Any,
    ) -> None:
        if not 2 <= len(backbones) <= 3:
            raise ValueError(
                f"Fusion takes two or three backbones, one per sequence column; got "
                f"{len(backbones)} ({sorted(backbones)})."
            )
        if "sequences" not in backbones:
            raise ValueError(
                f"One backbone must read the data module's sequence column: name it "
                f"'sequences' in backbones (got {sorted(backbones)})."
            )
        super().__init__(backbones["sequences"], adapter, **kwargs)
        self.backbone_fns = dict(backbones)
        self.keys = list(backbones)
        self.other_backbones: nn.ModuleDict | None = None
        self.out_features = 0  # set by the subclass, through `set_out_features`

    def set_out_features(self, option: str, value: int, minimum: int) -> int:
        """Take the subclass's output-count option: how many numbers the adapter gives.

        Args:
            option (str): its name, for the message.
            value (int): its value.
            minimum (int): the least it may be.

        Returns:
            int: ``value``, now also ``out_features``.

        Raises:
            ValueError: ``value`` is below ``minimum``.
        """
        if value < minimum:
            raise ValueError(f"{option} must be at least {minimum}, not {value}.")
        self.out_features = value
        return value

    @property
    def label_size(self) -> int:
        """A label holds as many classes or numbers as the adapter gives (`out_features`)."""
        return self.out_features

    # ----------------------------------------------------------------- checks
    def compatibility(
        self, datamodule: DataInterface | None = None, stage: str = "fit"
    ) -> CompatibilityReport:
        """Check every backbone with the task and adapter, and every sequence column.

        Args:
            datamodule (DataInterface | None): also check that it provides every column.
            stage (str): the Lightning stage whose columns to check.
        """
        reports = [
            check_compatibility(self, fn, self.adapter_fn, datamodule, stage)
            for fn in self.backbone_fns.values()
        ]
        reasons = list(dict.fromkeys(r for report in reports for r in report.reasons))
        if datamodule is not None:
            provided = datamodule.provided_columns(stage_name(stage))
            for key in self.keys:
                if key not in provided:
                    reasons.append(
                        f"{type(self).__name__} feeds its {key!r} backbone from a {key!r} column, "
                        f"but {type(datamodule).__name__} provides only {sorted(provided)}: map "
                        f"it with MultiColumnData's columns option ({key}: <file column>)."
                    )
        return CompatibilityReport(
            task=type(self).__name__,
            backbone=" & ".join(
                f"{key}={r.backbone}" for key, r in zip(self.keys, reports, strict=True)
            ),
            adapter=reports[0].adapter,
            reasons=tuple(reasons),
        )

    def sequence_backbones(self) -> dict[str, BackboneCallable]:
        """Every sequence column, with the backbone that reads it."""
        return dict(self.backbone_fns)

    # ----------------------------------------------------------------- model
    def configure_model(self) -> None:
        """Build every backbone, then the adapter over their hidden sizes.

        The ``sequences`` backbone is ``self.backbone``, as in every task; the others live
        in ``self.other_backbones`` under their keys.
        """
        if self.backbone is not None:
            return
        self.backbone = self.build_backbone()
        others = {}
        for key, fn in self.backbone_fns.items():
            if key == "sequences":
                continue
            backbone = fn(False, None)
            if not isinstance(backbone, BackboneInterface):
                raise TypeError(
                    f"The {key!r} backbone option built a {type(backbone).__name__}, not a "
                    "backbone: give a subclass of mg.core.BackboneInterface."
                )
            others[key] = backbone
        self.other_backbones = nn.ModuleDict(others)
        sizes = [self.backbone_for(key).get_embedding_size() for key in self.keys]
        self.adapter = self.adapter_fn(sizes, self.out_features)

    def backbone_for(self, key: str) -> BackboneInterface:
        """Return the backbone that reads the column ``key``."""
        if key == "sequences":
            assert self.backbone is not None
            return self.backbone
        assert self.other_backbones is not None
        return self.other_backbones[key]  # type: ignore[return-value]

    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Tokenize each column with its own backbone.

        Returns:
            dict[str, Any]: ``"inputs"``, per key the tokenized batch of that column; the
            ``"sequences"`` column's ``input_ids`` and ``attention_mask`` also at the top
            level; ``"ids"``; and ``"labels"`` when the samples are labelled.
        """
        inputs = {}
        for key in self.keys:
            texts = [s[key] for s in samples]
            try:
                inputs[key] = self.tokenize_samples(samples, texts, backbone=self.backbone_for(key))
            except ValueError as error:
                raise ValueError(f"Column {key!r}: {error}") from error
        batch: dict[str, Any] = {
            "inputs": {k: {n: v for n, v in t.items() if n != "ids"} for k, t in inputs.items()},
            "input_ids": inputs["sequences"]["input_ids"],
            "attention_mask": inputs["sequences"]["attention_mask"],
            "ids": [s.get("ids") for s in samples],
        }
        if samples and "labels" in samples[0]:
            batch["labels"] = label_handler(self.label_kind).stack(samples, batch, self.label_size)
        return batch

    def forward(self, batch: dict[str, Any]) -> Tensor:
        """Encode every column with its backbone and fuse: ``(batch, out_features)``."""
        states, masks = [], []
        for key in self.keys:
            tokens = batch["inputs"][key]
            out = self.backbone_for(key)(tokens["input_ids"], tokens["attention_mask"])
            states.append(out.last_hidden_state)
            masks.append(out.attention_mask)
        return self.adapter(states, masks)

    # ----------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep only trainable backbone weights, per backbone."""
        super().on_save_checkpoint(checkpoint)
        for key, backbone in (self.other_backbones or {}).items():
            prefix = f"other_backbones.{key}."
            checkpoint["mg"]["omitted_keys"] += backbone.on_save_checkpoint(checkpoint, prefix)


class FusionClassification(_FusionTask):
    """Classify items described by two or three sequences, each read by its own backbone.

    ``backbones`` maps a sample key to the backbone that reads it: ``sequences`` is the
    data module's sequence column, the others are extra columns (`MultiColumnData`'s
    ``columns``), e.g. ``{"sequences": BertDNATiny, "protein": ESM2Tiny}``. A
    `FusionAdapter` fuses the backbones' hidden states into ``n_classes`` logits.

    Data: samples with ``"sequences"``, one column per other backbone key, and (except
    for predict) ``"labels"``: a class index.

    Predictions: ``{"ids": [...], "predictions": (batch,) class, "probabilities": (batch,
    n_classes)}``.

    Metrics: ``accuracy``.

    Args:
        *args (Any): ``backbones`` and ``adapter`` (filled with ``(hidden sizes,
            n_classes)``); see `_FusionTask`.
        n_classes (int): number of classes.
        **kwargs (Any): `TaskInterface` options (``optimizer``, ``lr_scheduler``, ...).

    Raises:
        ValueError: ``n_classes`` below 2, or the backbones as `_FusionTask` says.
    """

    label_kind = LabelKind.CLASS

    def __init__(self, *args: Any, n_classes: int = 2, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.n_classes = self.set_out_features("n_classes", n_classes, minimum=2)

    def evaluate(self, preds: Tensor, batch: dict[str, Any], stage: Stage) -> dict[str, Tensor]:
        """Cross-entropy; update the accuracy."""
        labels = batch["labels"].to(preds.device)
        loss = F.cross_entropy(preds.float(), labels)
        self.update_metrics(stage, preds.detach().float(), labels)
        return {"loss": loss}

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Return the predicted class and the class probabilities (as SequenceClassification)."""
        probabilities = self(batch).float().softmax(-1).cpu()
        return {
            "ids": batch["ids"],
            "predictions": probabilities.argmax(-1),
            "probabilities": probabilities,
        }

    def configure_metrics(self, stage: Stage) -> dict[str, Metric]:
        """``accuracy``."""
        return {"accuracy": MulticlassAccuracy(self.n_classes, average="micro")}


class FusionRegression(_FusionTask):
    """Predict numbers for items described by two or three sequences, one backbone each.

    As `FusionClassification`, with ``num_outputs`` numbers per item and a mean squared
    error loss.

    Data: samples with ``"sequences"``, one column per other backbone key, and (except
    for predict) ``"labels"``: a number or ``num_outputs`` numbers.

    Predictions: ``{"ids": [...], "predictions": (batch,) or (batch, num_outputs)}``.

    Metrics: ``pearson`` and ``mse``; ``spearman`` on validation and test.

    Args:
        *args (Any): as for `FusionClassification`, the head filled with ``(hidden sizes,
            num_outputs)``.
        num_outputs (int): numbers per item.
        **kwargs (Any): `TaskInterface` options.

    Raises:
        ValueError: ``num_outputs`` below 1, or the backbones as `_FusionTask` says.
    """

    label_kind = LabelKind.REGRESSION

    def __init__(self, *args: Any, num_outputs: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.num_outputs = self.set_out_features("num_outputs", num_outputs, minimum=1)

    def _squeeze(self, values: Tensor) -> Tensor:
        return values.squeeze(-1) if self.num_outputs == 1 else values

    def evaluate(self, preds: Tensor, batch: dict[str, Any], stage: Stage) -> dict[str, Tensor]:
        """Mean squared error; update the metrics."""
        labels = batch["labels"].to(preds.device)
        loss = F.mse_loss(preds.float(), labels)
        self.update_metrics(stage, self._squeeze(preds.detach().float()), self._squeeze(labels))
        return {"loss": loss}

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Return the predicted numbers."""
        return {"ids": batch["ids"], "predictions": self._squeeze(self(batch).float()).cpu()}

    def configure_metrics(self, stage: Stage) -> dict[str, Metric]:
        """``pearson``, ``mse``, and ``spearman`` outside training."""
        n = self.num_outputs
        metrics: dict[str, Metric] = {
            "pearson": MeanOverOutputs(PearsonCorrCoef(num_outputs=n)),
            "mse": MeanSquaredError(),
        }
        if stage != "train":
            metrics["spearman"] = MeanOverOutputs(SpearmanCorrCoef(num_outputs=n))
        return metrics
