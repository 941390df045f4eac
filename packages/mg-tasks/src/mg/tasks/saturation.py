"""Saturation mutagenesis: every position times every base of a window, scored by an MLM.

For each position the reference window is read with that position masked; the score of
base ``b`` there is ``log p(b) - log p(ref)``, so the reference base scores 0 and a base
the model finds less likely than the reference scores below 0. Each window gives a
``(positions, bases)`` matrix.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from mg.core import BackboneCallable, Capability, TaskInterface
from mg.tasks.batching import Sample, pack_index, residue_mask


class SaturationMutagenesis(TaskInterface):
    """Score every single-base substitution of each window with a masked-LM head.

    Nothing trains: run ``mg predict`` on a pretrained backbone or an `MLM` checkpoint.
    Windows come from any data module that gives ``"sequences"`` (e.g. reference windows
    cut around BED intervals).

    Predictions: ``{"ids": [...], "predictions": (batch, positions, len(bases))}``, the
    log-likelihood ratio of each base against the reference base at each position
    (0 at the reference base; positions past a shorter window's end are 0).

    Args:
        backbone (BackboneCallable): builds the backbone (masked-LM head, mask token, one
            token per residue).
        bases (str): the alternative bases, one column each, in this order.
        chunk (int): masked copies per forward pass (bounds memory).
        **kwargs (Any): other `TaskInterface` options.

    Raises:
        ValueError: ``bases`` is empty or repeats a base, or ``chunk`` is below 1.
    """

    supported_stages = frozenset({"predict"})
    uses_lm_head = True
    needs_capabilities = frozenset({Capability.PER_RESIDUE_TOKENS, Capability.MASK_TOKEN})

    def __init__(
        self, backbone: BackboneCallable, *, bases: str = "ACGT", chunk: int = 256, **kwargs: Any
    ) -> None:
        super().__init__(backbone, **kwargs)
        if not bases or len(set(bases)) != len(bases):
            raise ValueError(f"bases must list distinct bases, not {bases!r}.")
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, not {chunk}.")
        self.bases = bases
        self.chunk = chunk

    def configure_model(self) -> None:
        """Build the backbone with its LM head; nothing trains."""
        if self.backbone is not None:
            return
        self.backbone = self.build_backbone()
        self.backbone.requires_grad_(False)
        self.backbone.eval()

    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Tokenize the windows."""
        return self.tokenize_samples(samples)

    def forward(self, batch: dict[str, Any]) -> Tensor:
        """Return ``(batch, positions, len(bases))`` log-likelihood ratios."""
        assert self.backbone is not None
        ids, mask = batch["input_ids"], batch["attention_mask"]
        index, packed = pack_index(residue_mask(batch))
        base_ids = torch.tensor(
            [self.backbone.get_token_id(b) for b in self.bases], device=ids.device
        )
        rows, columns = packed.nonzero(as_tuple=True)
        positions = index[rows, columns]
        scores = torch.zeros(*packed.shape, len(self.bases), device=ids.device)
        mask_id = self.backbone.get_special_token_id("mask")
        decoder = self.backbone.get_decoder()
        for start in range(0, len(rows), self.chunk):
            r, c, p = (t[start : start + self.chunk] for t in (rows, columns, positions))
            masked = ids[r].clone()
            masked[torch.arange(len(r), device=ids.device), p] = mask_id
            states = self.backbone(masked, mask[r]).last_hidden_state
            at = states[torch.arange(len(r), device=ids.device), p]
            log_probs = F.log_softmax(decoder(at).float(), -1)
            reference = log_probs.gather(1, ids[r, p][:, None])
            scores[r, c] = log_probs[:, base_ids] - reference
        return scores

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Return ``{"ids": [...], "predictions": (batch, positions, bases)}``."""
        return {"ids": batch["ids"], "predictions": self(batch).cpu()}

    def evaluate(self, preds: Tensor, batch: dict[str, Any], stage: Any) -> dict[str, Tensor]:
        """Not used: saturation mutagenesis only predicts."""
        raise RuntimeError("SaturationMutagenesis only predicts (mg predict).")
