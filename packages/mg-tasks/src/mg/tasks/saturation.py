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
from mg.core.backbone import BackboneInterface, Modality
from mg.core.checks import backbone_options
from mg.core.compat import target_class
from mg.tasks.batching import Sample, pack_index, residue_mask


class SaturationMutagenesis(TaskInterface):
    """Score every single-base substitution of each window with a masked-LM head.

    Nothing trains: run ``mg predict`` on a pretrained backbone or an `MLM` checkpoint.
    Windows come from any data module that gives ``"sequences"`` (e.g. reference windows
    cut around BED intervals).

    Predictions: ``{"ids": [...], "predictions": (batch, positions, len(bases)),
    "sequences": [...], "bases": [...]}``: the log-likelihood ratio of each base against
    the reference base at each position (0 at the reference base; positions past a
    shorter window's end are 0), with each window's sequence and the column order.
    `mg predict` writes each window's matrix as one row (a JSON list of positions, each a
    list over ``bases``); ``--output FILE.npy`` writes one ``(windows, positions, bases)``
    array instead. `mg report` draws the first windows as heat-maps.

    Args:
        backbone (BackboneCallable): builds the backbone (DNA or RNA; masked-LM head, mask
            token, one token per residue).
        bases (str | None): the bases, one column each, in this order; by default the
            backbone's nucleotides (``ACGT`` for DNA, ``ACGU`` for RNA).
        chunk (int): masked copies per forward pass (bounds memory).
        **kwargs (Any): other `TaskInterface` options.

    Raises:
        ValueError: ``bases`` is empty or repeats a base, or ``chunk`` is below 1.
    """

    supported_stages = frozenset({"predict"})
    uses_lm_head = True
    needs_capabilities = frozenset({Capability.PER_RESIDUE_TOKENS, Capability.MASK_TOKEN})

    def __init__(
        self,
        backbone: BackboneCallable,
        *,
        bases: str | None = None,
        chunk: int = 256,
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone, **kwargs)
        if bases is not None and (not bases or len(set(bases)) != len(bases)):
            raise ValueError(f"bases must list distinct bases, not {bases!r}.")
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, not {chunk}.")
        self.bases = bases
        self.chunk = chunk

    @classmethod
    def backbone_reasons(cls, backbone_cls: type[BackboneInterface]) -> list[str]:
        """A protein backbone cannot score nucleotide substitutions."""
        if backbone_cls.modality == Modality.PROTEIN:
            return [
                f"{cls.__name__} substitutes nucleotides, but {backbone_cls.__name__} reads "
                "protein: choose a DNA or RNA backbone with a masked-LM head "
                "(`mg list backbones`)."
            ]
        return []

    def check_options(self) -> None:
        """Settle ``bases`` from the backbone's class and options, before weights load.

        Raises:
            ValueError: a base is not one of the backbone's nucleotides.
        """
        super().check_options()
        self.bases = self._settled_bases(nucleotides_of(self.backbone_fn))

    def _settled_bases(self, nucleotides: str | None) -> str | None:
        """``bases`` as given (checked against ``nucleotides``) or the nucleotides themselves."""
        if nucleotides is None:
            return self.bases  # only the built backbone's vocabulary knows
        if self.bases is None:
            return nucleotides
        foreign = [b for b in self.bases if b not in nucleotides]
        if foreign:
            name = getattr(target_class(self.backbone_fn), "__name__", "the backbone")
            raise ValueError(
                f"SaturationMutagenesis bases {self.bases!r} hold {''.join(foreign)!r}, which "
                f"{name} does not read (its nucleotides are {nucleotides}): leave bases unset "
                f"to use them, or set bases: {nucleotides}."
            )
        return self.bases

    def configure_model(self) -> None:
        """Build the backbone with its LM head; nothing trains."""
        if self.backbone is not None:
            return
        self.backbone = self.build_backbone()
        self.backbone.requires_grad_(False)
        self.backbone.eval()
        known = self._settled_bases(nucleotides_of(self.backbone_fn))
        self.bases = known or _vocabulary_bases(self.backbone)

    def forward(self, batch: dict[str, Any]) -> Tensor:
        """Return ``(batch, positions, len(bases))`` log-likelihood ratios."""
        assert self.backbone is not None and self.bases is not None
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

    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Tokenize the windows, keeping each window's sequence for the output."""
        batch = self.tokenize_samples(samples)
        batch["sequences"] = [s["sequences"] for s in samples]
        return batch

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Return each window's ``(positions, bases)`` matrix with its sequence and bases."""
        scores = self(batch).cpu()
        return {
            "ids": batch["ids"],
            "predictions": scores,
            "sequences": batch["sequences"],
            "bases": [self.bases] * len(scores),
        }

    def evaluate(self, preds: Tensor, batch: dict[str, Any], stage: Any) -> dict[str, Tensor]:
        """Not used: saturation mutagenesis only predicts."""
        raise RuntimeError("SaturationMutagenesis only predicts (mg predict).")


def nucleotides_of(backbone: BackboneCallable) -> str | None:
    """The nucleotides a backbone callable reads, known without weights (None when not).

    From its ``alphabet`` option when set, else its class's residues; only the letters of
    ``ACGTU`` count (ambiguity codes are not bases to substitute).
    """
    cls = target_class(backbone)
    letters = backbone_options(backbone).get("alphabet") or getattr(cls, "residues", None)
    if not letters:
        return None
    return "".join(b for b in "ACGTU" if b in letters) or None


def _vocabulary_bases(backbone: BackboneInterface) -> str:
    """The nucleotides of a built backbone's vocabulary: ``ACGT``, else ``ACGU``."""
    vocabulary = backbone.get_vocab()
    for bases in ("ACGT", "ACGU"):
        if all(b in vocabulary for b in bases):
            return bases
    raise ValueError(
        f"{type(backbone).__name__}'s vocabulary has neither A, C, G, T nor A, C, G, U as "
        "tokens: set SaturationMutagenesis's bases to the nucleotide tokens it has."
    )
