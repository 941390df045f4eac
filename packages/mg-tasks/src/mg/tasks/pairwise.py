"""PairwiseTokenClassification: a yes/no map over residue pairs (contacts, base pairs)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import Metric

from mg.adapters import MLPPairwiseAdapter
from mg.core import (
    BackboneCallable,
    BackboneInterface,
    Capability,
    LabelKind,
    PairwiseAdapter,
    PairwiseAdapterCallable,
    TaskInterface,
)
from mg.core.task import Stage
from mg.tasks.batching import (
    Sample,
    gather_pairs,
    pack_index,
    residue_mask,
    unpack,
)
from mg.tasks.metrics import TopLPrecision


class PairwiseTokenClassification(TaskInterface):
    """Predict which residue pairs are in contact (protein contacts, RNA base pairs, ...).

    A `PairwiseAdapter` scores every token pair; the task keeps the residue pairs (special
    tokens and padding dropped) as an ``(L, L)`` map per sequence. The loss is binary
    cross-entropy over real residue pairs ``i < j`` with ``j - i >= min_separation``:
    closer pairs are trivially in contact along the chain and say little.

    Data: samples with ``"sequences"`` and, except for prediction, ``"labels"``: a list
    of ``[i, j]`` pairs, 0-based residue indices, that are in contact. Pairs beyond a
    truncated sequence's end are dropped with it.

    Predictions: per item, ``"predictions"``, the ``(L, L)`` contact probabilities over its
    residues (symmetric; pairs closer than ``min_separation`` are not trained).

    Metrics: ``top_l_precision``, ``top_l2_precision`` and ``top_l5_precision``: the
    precision of the ``L``, ``L/2`` and ``L/5`` highest-scored pairs with
    ``|i - j| >= min_separation``, computed per sequence and averaged over sequences.

    Args:
        backbone (BackboneCallable): builds the backbone (one token per residue).
        adapter (PairwiseAdapterCallable): builds the pairwise head, filled with
            ``(embedding_size, 1)``.
        min_separation (int): smallest ``|i - j|`` that the loss and metrics count.
        pos_weight (float | None): weight of the positive (contact) class in the loss;
            contacts are rare, so values above 1 raise recall.
        **kwargs (Any): `TaskInterface` options (``optimizer``, ``lr_scheduler``, ...).

    Raises:
        ValueError: ``min_separation`` is below 1 or ``pos_weight`` is not positive.
    """

    adapter_type = PairwiseAdapter
    default_adapter = MLPPairwiseAdapter
    label_kind = LabelKind.PAIRS
    needs_capabilities = frozenset({Capability.PER_RESIDUE_TOKENS})
    supports_embedding_cache = True

    def __init__(
        self,
        backbone: BackboneCallable,
        adapter: PairwiseAdapterCallable = default_adapter,
        *,
        min_separation: int = 6,
        pos_weight: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone, adapter, **kwargs)
        if min_separation < 1:
            raise ValueError(f"min_separation must be at least 1, not {min_separation}.")
        if pos_weight is not None and not pos_weight > 0:
            raise ValueError(f"pos_weight must be positive, not {pos_weight}.")
        self.min_separation = min_separation
        weight = torch.tensor(pos_weight, dtype=torch.float32) if pos_weight is not None else None
        self.register_buffer("pos_weight", weight, persistent=False)

    def adapter_arguments(self, backbone: BackboneInterface) -> tuple[int, int]:
        """The head gives one score per pair of token embeddings."""
        return backbone.get_embedding_size(), 1

    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Tokenize, then draw each item's pairs into a residue-by-residue 0/1 map.

        Returns:
            dict[str, Any]: the tokenized batch, plus ``"labels"`` ``(batch, R, R)`` float,
            ``R`` the most residues of any item, symmetric.

        Raises:
            ValueError: a pair points past the end of its sequence.
        """
        return self.add_labels(self.tokenize_samples(samples), samples)

    def forward(self, batch: dict[str, Any]) -> Tensor:
        """Return residue-pair logits ``(batch, R, R)``, residues packed to the top-left."""
        out = self.backbone_outputs(batch)
        scores = self.adapter(out.last_hidden_state, out.attention_mask).squeeze(-1)
        index, _ = pack_index(residue_mask(batch))
        return gather_pairs(scores, index)

    def pair_mask(self, residues: Tensor) -> Tensor:
        """Return the pairs that count: real residues ``i < j`` with ``j - i >= min_separation``.

        Args:
            residues (Tensor): ``(batch, R)`` bool, the packed residue mask.

        Returns:
            Tensor: ``(batch, R, R)`` bool.
        """
        width = residues.shape[1]
        far = torch.ones(width, width, dtype=torch.bool, device=residues.device).triu(
            self.min_separation
        )
        return residues[:, :, None] & residues[:, None, :] & far

    def evaluate(self, preds: Tensor, batch: dict[str, Any], stage: Stage) -> dict[str, Tensor]:
        """Binary cross-entropy over the pairs that count; update the top-L precisions."""
        logits = preds.float()
        labels = batch["labels"].to(logits.device)
        _, packed = pack_index(residue_mask(batch))
        counted = self.pair_mask(packed)
        if counted.any():
            loss = F.binary_cross_entropy_with_logits(
                logits[counted], labels[counted], pos_weight=self.pos_weight
            )
        else:  # every item shorter than min_separation: nothing to learn from
            loss = logits.sum() * 0.0
        self.stage_metrics(stage).update(logits.detach(), labels, packed)
        return {"loss": loss}

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Return each item's ``(L, L)`` contact probabilities."""
        _, packed = pack_index(residue_mask(batch))
        probabilities = self(batch).float().sigmoid()
        return {"ids": batch["ids"], "predictions": unpack(probabilities, packed, pairwise=True)}

    def configure_metrics(self, stage: Stage) -> dict[str, Metric]:
        """Top-L, L/2 and L/5 precision for ``|i - j| >= min_separation``."""
        return {
            "top_l_precision": TopLPrecision(1, self.min_separation),
            "top_l2_precision": TopLPrecision(2, self.min_separation),
            "top_l5_precision": TopLPrecision(5, self.min_separation),
        }
