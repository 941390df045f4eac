"""TrackRegression: predict binned signal tracks (Enformer-style) from a genome window."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torchmetrics import MeanSquaredError, Metric, PearsonCorrCoef

from mg.core import BackboneCallable, Capability, LabelKind, TaskInterface
from mg.core.backbone import BackboneInterface, Modality
from mg.core.compat import IncompatibleError, target_class
from mg.core.task import Stage
from mg.tasks.batching import Sample, pack_index, residue_mask
from mg.tasks.metrics import MeanOverOutputs, SelectOutput

DEFAULT_BIN_SIZE = 32
"""Residues per bin for a backbone with one state per residue, when none is given."""

TrackLoss = Literal["poisson", "multinomial"]
"""Poisson on every bin, or multinomial over a track's bins plus Poisson on its total."""


def poisson_loss(predicted: Tensor, target: Tensor) -> Tensor:
    """Mean Poisson negative log-likelihood of ``target`` given rates ``predicted``."""
    return F.poisson_nll_loss(predicted, target, log_input=False, full=False)


def multinomial_loss(predicted: Tensor, target: Tensor, total_weight: float = 0.2) -> Tensor:
    """Shape (multinomial over bins) plus scale (Poisson on each track's total).

    Args:
        predicted (Tensor): ``(batch, bins, tracks)`` positive rates.
        target (Tensor): ``(batch, bins, tracks)`` non-negative signal.
        total_weight (float): weight of the Poisson term on totals.
    """
    total_predicted, total_target = predicted.sum(1), target.sum(1)
    shape = -(target * torch.log(predicted / total_predicted[:, None] + 1e-8)).sum(1)
    scale = poisson_loss(total_predicted, total_target)
    return shape.mean() / predicted.shape[1] + total_weight * scale


class TrackRegression(TaskInterface):
    """Predict several signal tracks over fixed-size bins of a genome window.

    The backbone encodes the window; each bin's residue states are averaged and a linear
    head gives one positive rate (softplus) per track. A backbone that gives one state per
    bin itself (``output_bin_size``, e.g. Enformer's 128-residue bins) feeds its bins to the
    head directly; ``bin_size`` must then equal its bins.

    Data: samples with ``"sequences"`` (windows of ``bins * bin_size`` residues) and
    ``"labels"``: a ``(bins, tracks)`` array of non-negative signal (`IntervalTrackData`).

    Predictions: ``{"ids": [...], "predictions": (batch, bins, tracks)}``.

    Metrics: ``pearson`` (mean over tracks of the Pearson correlation over every bin),
    ``mse`` and, on test, ``pearson_track{i}`` per track.

    Args:
        backbone (BackboneCallable): builds the backbone (one token per residue, or one
            state per bin).
        num_tracks (int): tracks per window.
        bin_size (int | None): residues per bin; None takes the backbone's own bins where
            it declares them (``output_bin_size``), else 32.
        loss (TrackLoss): ``"poisson"`` or ``"multinomial"``.
        **kwargs (Any): other `TaskInterface` options.

    Raises:
        ValueError: ``num_tracks`` or ``bin_size`` below 1, or an unknown ``loss``.
        IncompatibleError: ``bin_size`` differs from the backbone class's own bins.
    """

    label_kind = LabelKind.REGRESSION
    accepts_binned_outputs = True
    # Bins are cut from residue states (unless the backbone gives bins): a k-mer token
    # would straddle two bins.
    needs_capabilities = frozenset({Capability.PER_RESIDUE_TOKENS})

    @classmethod
    def backbone_reasons(cls, backbone_cls: type[BackboneInterface]) -> list[str]:
        """Windows are cut from a DNA reference: an RNA or protein backbone cannot read them."""
        if backbone_cls.modality in (Modality.RNA, Modality.PROTEIN):
            return [
                f"{cls.__name__} reads windows of a DNA reference genome, but "
                f"{backbone_cls.__name__} reads {backbone_cls.modality.value}: choose a DNA "
                "backbone (`mg list backbones`)."
            ]
        return []

    def __init__(
        self,
        backbone: BackboneCallable,
        *,
        num_tracks: int = 1,
        bin_size: int | None = None,
        loss: TrackLoss = "poisson",
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone, **kwargs)
        bins_of = getattr(target_class(backbone), "output_bin_size", None)
        if bin_size is None:
            bin_size = bins_of or DEFAULT_BIN_SIZE
        if num_tracks < 1 or bin_size < 1:
            raise ValueError(f"num_tracks ({num_tracks}) and bin_size ({bin_size}) must be >= 1.")
        if loss not in ("poisson", "multinomial"):
            raise ValueError(f"loss must be 'poisson' or 'multinomial', not {loss!r}.")
        self.num_tracks = num_tracks
        self.bin_size = bin_size
        self._check_bins(bins_of, getattr(target_class(backbone), "__name__", "the backbone"))
        self.loss_fn = poisson_loss if loss == "poisson" else multinomial_loss
        self.head: nn.Module | None = None

    def configure_model(self) -> None:
        """Build the backbone and the per-bin head (once)."""
        if self.head is not None:
            return
        super().configure_model()
        assert self.backbone is not None
        self._check_bins(self.backbone.output_bin_size, type(self.backbone).__name__)
        self.head = nn.Linear(self.backbone.get_embedding_size(), self.num_tracks)

    def _check_bins(self, bins: int | None, name: str) -> None:
        """Refuse a backbone whose own bins differ from ``bin_size``."""
        if bins is not None and bins != self.bin_size:
            raise IncompatibleError(
                f"TrackRegression has bin_size={self.bin_size}, but {name} gives one state per "
                f"{bins}-residue bin: set the task's bin_size to {bins} (or leave it unset) "
                "and the data's bin_size to match."
            )

    def label_problem(self, label: Any) -> str | None:
        """Targets are a ``(bins, num_tracks)`` array of finite non-negative numbers."""
        values = np.asarray(label, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != self.num_tracks:
            return f"targets of shape {values.shape} are not (bins, {self.num_tracks} tracks)"
        if not np.isfinite(values).all() or (values < 0).any():
            return "targets hold a negative or non-finite value"
        return None

    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Tokenize the windows and stack targets ``(batch, bins, tracks)``.

        Raises:
            ValueError: a window is not a whole number of bins, or its targets have another
                number of bins (the data's bin_size differs from the task's).
        """
        for sample in samples:
            length = len(sample["sequences"])
            if length % self.bin_size:
                raise ValueError(
                    f"id {sample.get('ids')!r}: its window of {length} "
                    f"residues is not a whole number of {self.bin_size}-residue bins."
                )
            if "labels" in sample and len(sample["labels"]) != length // self.bin_size:
                raise ValueError(
                    f"id {sample.get('ids')!r}: its targets have {len(sample['labels'])} bins, "
                    f"but its window of {length} residues makes {length // self.bin_size} bins "
                    f"of the task's bin_size {self.bin_size}: give the data the same bin_size."
                )
        batch = self.tokenize_samples(samples)
        if samples and "labels" in samples[0]:
            batch["labels"] = torch.as_tensor(
                np.stack([np.asarray(s["labels"], dtype=np.float32) for s in samples])
            )
        return batch

    def forward(self, batch: dict[str, Any]) -> Tensor:
        """Return the predicted rates ``(batch, bins, tracks)``."""
        assert self.head is not None and self.backbone is not None
        states = self.backbone_outputs(batch).last_hidden_state
        if self.backbone.output_bin_size is not None:  # already one state per bin
            return F.softplus(self.head(states))
        index, _ = pack_index(residue_mask(batch))  # every window has the same length
        residues = states.gather(1, index[..., None].expand(-1, -1, states.shape[-1]))
        bins = residues.shape[1] // self.bin_size
        pooled = (
            residues[:, : bins * self.bin_size]
            .reshape(residues.shape[0], bins, self.bin_size, -1)
            .mean(2)
        )
        return F.softplus(self.head(pooled))

    def evaluate(self, preds: Tensor, batch: dict[str, Any], stage: Stage) -> dict[str, Tensor]:
        """The loss, and per-track Pearson over every bin of the batch."""
        target = batch["labels"].to(preds.device)
        if target.shape != preds.shape:
            raise ValueError(
                f"targets of shape {tuple(target.shape)} do not match predictions "
                f"{tuple(preds.shape)}: check bin_size and num_tracks against the data."
            )
        loss = self.loss_fn(preds.float(), target)
        flat = preds.detach().float().reshape(-1, self.num_tracks)
        flat_target = target.reshape(-1, self.num_tracks)
        if self.num_tracks == 1:  # one-output Pearson takes vectors
            flat, flat_target = flat[:, 0], flat_target[:, 0]
        self.update_metrics(stage, flat, flat_target)
        return {"loss": loss}

    def configure_metrics(self, stage: Stage) -> dict[str, Metric]:
        """``pearson`` averaged over tracks, ``mse``; per-track Pearson on test."""
        n = self.num_tracks
        metrics: dict[str, Metric] = {
            "pearson": MeanOverOutputs(PearsonCorrCoef(num_outputs=n)),
            "mse": MeanSquaredError(),
        }
        if stage == "test" and n > 1:
            for i in range(n):
                metrics[f"pearson_track{i}"] = SelectOutput(PearsonCorrCoef(), i)
        return metrics

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Return ``{"ids": [...], "predictions": (batch, bins, tracks)}``."""
        return {"ids": batch["ids"], "predictions": self(batch).float().cpu()}
