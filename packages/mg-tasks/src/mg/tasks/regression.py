"""SequenceRegression: one or more real numbers per sequence."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torchmetrics import (
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    PearsonCorrCoef,
    R2Score,
    SpearmanCorrCoef,
)

from mg.core import (
    BackboneCallable,
    BackboneInterface,
    LabelKind,
    SequenceAdapterCallable,
)
from mg.core.data import DataInterface
from mg.core.label_values import as_numbers
from mg.core.task import Stage
from mg.tasks.batching import Sample
from mg.tasks.metrics import MeanOverOutputs, SelectOutput
from mg.tasks.per_sequence import PerSequenceTask

RegressionLoss = Literal["mse", "huber", "l1"]
"""The built-in regression losses, by name."""

LossCallable = Callable[[], nn.Module]
"""Builds a loss module called as ``loss(predictions, targets)``, e.g. ``torch.nn.HuberLoss``."""

LOSSES: dict[str, type[nn.Module]] = {"mse": nn.MSELoss, "huber": nn.HuberLoss, "l1": nn.L1Loss}


class SequenceRegression(PerSequenceTask):
    """Predict one or more real numbers for each sequence (stability, expression, ...).

    The backbone encodes each sequence and a `SequenceAdapter` turns its hidden states into
    ``num_outputs`` numbers. With ``normalize_labels`` the model learns standardized
    labels: their mean and standard deviation come from the training split alone, are kept
    as buffers (so checkpoints carry them) and are undone before metrics and predictions,
    which therefore come out in the data's own units.

    Data: samples with ``"sequences"`` (``"expression"`` with a cell backbone, from
    `CellData`) and, for fit, validate and test, ``"labels"``: a
    number, or a list of ``num_outputs`` numbers.

    Predictions: ``{"ids": [...], "predictions": Tensor}`` in label units, shaped
    ``(batch,)``, or ``(batch, num_outputs)`` when ``num_outputs > 1``.

    Metrics, logged as ``{stage}_{name}``: ``pearson``, ``spearman``, ``mae``, ``mse`` and
    ``r2``, averaged over outputs (``spearman`` on validation and test only); on test with
    several outputs, also one per output as ``test_{name}_output{i}``.

    Example:
        >>> from functools import partial
        >>> from mg.adapters import LinearMeanPoolAdapter
        >>> from mg.core.testing import ToyBackbone
        >>> task = SequenceRegression(
        ...     backbone=partial(ToyBackbone, hidden_size=32),
        ...     adapter=partial(LinearMeanPoolAdapter, dropout=0.1),
        ...     num_outputs=2,
        ...     loss="huber",
        ... )

    Args:
        backbone (BackboneCallable): builds the backbone; the task fills its reserved
            ``(use_lm_head, default_config)`` arguments.
        adapter (SequenceAdapterCallable): builds the head; the task fills its reserved
            ``(in_features, out_features)`` with the backbone's embedding size and
            ``num_outputs``.
        num_outputs (int): how many numbers to predict per sequence.
        loss (RegressionLoss | LossCallable): ``"mse"``, ``"huber"`` or ``"l1"``, or a
            callable returning a loss module (``torch.nn.HuberLoss`` with ``delta`` bound,
            say). The loss is computed on standardized labels when ``normalize_labels``.
        normalize_labels (bool): learn ``(label - mean) / std`` with the training split's
            statistics (per output).
        **kwargs (Any): `TaskInterface` options: ``optimizer``, ``lr_scheduler``,
            ``lr_scheduler_interval``, ``lr_scheduler_monitor``.

    Raises:
        ValueError: ``num_outputs`` is below 1 or ``loss`` is an unknown name.
    """

    label_kind = LabelKind.REGRESSION

    def __init__(
        self,
        backbone: BackboneCallable,
        adapter: SequenceAdapterCallable = PerSequenceTask.default_adapter,
        *,
        num_outputs: int = 1,
        loss: RegressionLoss | LossCallable = "mse",
        normalize_labels: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone, adapter, **kwargs)
        if num_outputs < 1:
            raise ValueError(f"num_outputs must be at least 1, not {num_outputs}.")
        if isinstance(loss, str) and loss not in LOSSES:
            raise ValueError(
                f"Unknown loss {loss!r}: choose one of {sorted(LOSSES)} or a callable."
            )
        self.num_outputs = num_outputs
        self.normalize_labels = normalize_labels
        self.loss_fn = LOSSES[loss]() if isinstance(loss, str) else loss()
        # Buffers, so that a checkpoint carries the statistics its weights were trained with.
        self.register_buffer("label_mean", torch.zeros(num_outputs))
        self.register_buffer("label_std", torch.ones(num_outputs))

    def adapter_arguments(self, backbone: BackboneInterface) -> tuple[int, int]:
        """The head maps the embedding size to ``num_outputs`` numbers."""
        return backbone.get_embedding_size(), self.num_outputs

    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Tokenize the sequences and stack the labels, when there are any.

        Args:
            samples (list[Sample]): dicts with ``"sequences"``, ``"ids"`` and, except for
                prediction, ``"labels"``.

        Returns:
            dict[str, Any]: the tokenized batch, plus ``"labels"`` as a float tensor of
            shape ``(batch, num_outputs)`` when the samples are labelled.
        """
        return self.add_labels(self.tokenize_samples(samples), samples)

    def evaluate(self, preds: Tensor, batch: dict[str, Any], stage: Stage) -> dict[str, Tensor]:
        """Compute the loss on standardized labels and the metrics in label units.

        Args:
            preds (Tensor): ``(batch, num_outputs)`` from `forward`.
            batch (dict[str, Any]): the batch, with ``"labels"``.
            stage (Stage): ``"train"``, ``"val"`` or ``"test"``.

        Returns:
            dict[str, Tensor]: ``{"loss": ...}``.
        """
        labels = batch["labels"].to(preds.device)
        loss = self.loss_fn(preds.float(), self.to_model_units(labels))
        predicted = self.to_label_units(preds.detach().float())
        self.update_metrics(stage, self._squeeze(predicted), self._squeeze(labels))
        return {"loss": loss}

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Predict in label units.

        Args:
            batch (dict[str, Any]): a batch from `collate`.
            batch_idx (int): the batch's index.

        Returns:
            dict[str, Any]: ``{"ids": [...], "predictions": Tensor}``, ``(batch,)`` or
            ``(batch, num_outputs)``.
        """
        predicted = self.to_label_units(self(batch).float())
        return {"ids": batch["ids"], "predictions": self._squeeze(predicted).cpu()}

    # ----------------------------------------------------------------- label units
    def to_model_units(self, labels: Tensor) -> Tensor:
        """Standardize labels with the training statistics (identity when not normalizing)."""
        return (labels - self.label_mean) / self.label_std

    def to_label_units(self, preds: Tensor) -> Tensor:
        """Undo `to_model_units`: bring model outputs back to the data's units."""
        return preds * self.label_std + self.label_mean

    def _squeeze(self, values: Tensor) -> Tensor:
        return values.squeeze(-1) if self.num_outputs == 1 else values

    def on_fit_start(self) -> None:
        """Compute the label statistics from the training split, before the first step."""
        if not self.normalize_labels:
            return
        count, total, squares = self._training_label_sums()
        if count == 0:
            raise ValueError("normalize_labels needs labelled training data; the split is empty.")
        mean = total / count
        std = (squares / count - mean**2).clamp(min=0).sqrt()
        # A constant output cannot be standardized; leave its scale alone.
        std = torch.where(std > 0, std, torch.ones_like(std))
        self.label_mean.copy_(mean.to(self.label_mean))
        self.label_std.copy_(std.to(self.label_std))

    def _training_label_sums(self) -> tuple[int, Tensor, Tensor]:
        """Return the count, sum and sum of squares of the training labels (float64).

        Reads the data module's train split when it has one (every process reads all of
        it); otherwise the collated training batches, summed over processes.
        """
        datamodule = self.trainer.datamodule
        datasets = getattr(datamodule, "datasets", None)
        if isinstance(datamodule, DataInterface) and datasets and "train" in datasets:
            dataset = datasets["train"]
            values = getattr(dataset, "labels", None)  # skip reading sequences when we can
            if not isinstance(values, Sequence) or len(values) != len(dataset):
                values = [dataset[i]["labels"] for i in range(len(dataset))]
            # In blocks: a disk-stored split streams its labels rather than listing them all.
            sums = torch.zeros(2, self.num_outputs, dtype=torch.float64)
            count, iterator = 0, iter(values)
            while block := list(islice(iterator, 65_536)):
                rows = [as_numbers(value) for value in block]
                labels = torch.tensor(rows, dtype=torch.float64).view(-1, self.num_outputs)
                count += labels.shape[0]
                sums += torch.stack([labels.sum(0), labels.pow(2).sum(0)])
            return count, sums[0], sums[1]
        self.trainer.fit_loop.setup_data()
        loader = self.trainer.train_dataloader
        sums = torch.zeros(2 * self.num_outputs + 1, dtype=torch.float64)
        for batch in loader if loader is not None else []:
            labels = batch["labels"].double().view(-1, self.num_outputs).cpu()
            sums += torch.cat([labels.sum(0), labels.pow(2).sum(0), torch.tensor([len(labels)])])
        sums = self.trainer.strategy.reduce(sums.to(self.device), reduce_op="sum").cpu()
        n = self.num_outputs
        return int(sums[-1]), sums[:n], sums[n : 2 * n]

    # ----------------------------------------------------------------- declarations
    def configure_metrics(self, stage: Stage) -> dict[str, Metric]:
        """Pearson, Spearman, MAE, MSE and R2; per output on test when there are several.

        Spearman keeps every prediction until the epoch ends, so training skips it.

        Args:
            stage (Stage): the stage the metrics are for.

        Returns:
            dict[str, Metric]: name → metric, logged as ``{stage}_{name}``.
        """
        n = self.num_outputs
        metrics: dict[str, Metric] = {
            "pearson": MeanOverOutputs(PearsonCorrCoef(num_outputs=n)),
            "mae": MeanAbsoluteError(),
            "mse": MeanSquaredError(),
            "r2": R2Score(multioutput="uniform_average"),
        }
        if stage != "train":
            metrics["spearman"] = MeanOverOutputs(SpearmanCorrCoef(num_outputs=n))
        if stage == "test" and n > 1:
            for i in range(n):
                metrics[f"pearson_output{i}"] = SelectOutput(PearsonCorrCoef(), i)
                metrics[f"spearman_output{i}"] = SelectOutput(SpearmanCorrCoef(), i)
                metrics[f"mae_output{i}"] = SelectOutput(MeanAbsoluteError(), i)
                metrics[f"mse_output{i}"] = SelectOutput(MeanSquaredError(), i)
                metrics[f"r2_output{i}"] = SelectOutput(R2Score(), i)
        return metrics

    @property
    def label_size(self) -> int:
        """The numbers a label holds."""
        return self.num_outputs
