"""Tasks on the backbone's own masked-LM head: Inference (read it) and MLM (train it)."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import MeanMetric, Metric

from mg.core import BackboneCallable, Capability, TaskInterface
from mg.core.labels import IGNORE_INDEX
from mg.core.task import Stage
from mg.tasks.batching import (
    Sample,
    gather_tokens,
    pack_index,
    residue_mask,
    unpack,
)
from mg.tasks.masking import mask_task_batch

InferenceOutput = Literal["probabilities", "logits", "tokens"]
"""What `Inference` predicts per residue token."""


class _LMHeadTask(TaskInterface):
    """Shared parts of the tasks that read the backbone's masked-LM head."""

    uses_lm_head = True

    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Tokenize the sequences (the tokens are their own targets: no labels).

        Returns:
            dict[str, Any]: the tokenized batch.
        """
        return self.tokenize_samples(samples)

    def lm_logits(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Return the masked-LM head's logits ``(batch, length, vocab_size)``."""
        out = self.backbone(input_ids, attention_mask)
        return self.backbone.get_decoder()(out.last_hidden_state)

    def alphabet_ids(self, device: torch.device) -> Tensor:
        """Return the residue token ids as a tensor on ``device``."""
        return torch.tensor(self.backbone.get_alphabet_token_ids(), device=device)

    def best_residues(self, logits: Tensor) -> Tensor:
        """Return the most likely residue token (never a special token) at each position."""
        alphabet = self.alphabet_ids(logits.device)
        return alphabet[logits[..., alphabet].argmax(-1)]

    def decode_items(self, token_ids: list[Tensor]) -> list[str]:
        """Decode per-item residue token ids into strings."""
        return [self.backbone.decode_tokens(ids[None])[0] for ids in token_ids]

    def configure_metrics(self, stage: Stage) -> dict[str, Metric]:
        """``accuracy``: the fraction of target tokens predicted exactly."""
        return {"accuracy": MeanMetric()}

    def _loss_and_accuracy(self, logits: Tensor, targets: Tensor, stage: Stage) -> Tensor:
        logits = logits.float()
        loss = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE_INDEX)
        chosen = targets != IGNORE_INDEX
        if chosen.any():
            correct = (logits.detach()[chosen].argmax(-1) == targets[chosen]).float()
            self.stage_metrics(stage)["accuracy"].update(correct)
        return loss


class Inference(_LMHeadTask):
    """Read a pretrained masked-LM head: per-token probabilities, logits or best tokens.

    Meant for ``predict`` (and ``test``) on a pretrained backbone or on a checkpoint of
    `MLM`, whose weights it loads as they are. ``test`` reports how well the head
    reproduces the input tokens (``loss``: mean cross-entropy of each residue token,
    unmasked; ``accuracy``); ``fit`` trains on that same objective.

    Data: samples with ``"sequences"``.

    Predictions: per item, trimmed to its residue tokens: ``"predictions"`` as chosen by
    ``output`` (``(residues, vocab_size)`` probabilities or logits, or ``(residues,)``
    best residue token ids), and ``"sequences"``, the best residue at every position
    decoded to a string.

    Args:
        backbone (BackboneCallable): builds the backbone (with a masked-LM head).
        output (InferenceOutput): ``"probabilities"``, ``"logits"`` or ``"tokens"``.
        **kwargs (Any): `TaskInterface` options (``optimizer``, ``lr_scheduler``, ...).
    """

    def __init__(
        self,
        backbone: BackboneCallable,
        *,
        output: InferenceOutput = "probabilities",
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone, **kwargs)
        if output not in ("probabilities", "logits", "tokens"):
            raise ValueError(
                f"output must be 'probabilities', 'logits' or 'tokens', not {output!r}."
            )
        self.output = output

    def forward(self, batch: dict[str, Any]) -> Tensor:
        """Return the LM head's logits ``(batch, length, vocab_size)`` for the unmasked input."""
        return self.lm_logits(batch["input_ids"], batch["attention_mask"])

    def evaluate(self, preds: Tensor, batch: dict[str, Any], stage: Stage) -> dict[str, Tensor]:
        """Cross-entropy of every residue token under the head (nothing masked)."""
        ids = batch["input_ids"].to(preds.device)
        targets = torch.where(residue_mask(batch), ids, torch.full_like(ids, IGNORE_INDEX))
        return {"loss": self._loss_and_accuracy(preds, targets, stage)}

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Return per-item outputs (see ``output``) and the best-residue strings."""
        index, packed = pack_index(residue_mask(batch))
        logits = gather_tokens(self(batch).float(), index)
        best = unpack(self.best_residues(logits), packed)
        if self.output == "tokens":
            predictions = best
        elif self.output == "logits":
            predictions = unpack(logits, packed)
        else:
            predictions = unpack(logits.softmax(-1), packed)
        return {
            "ids": batch["ids"],
            "predictions": predictions,
            "sequences": self.decode_items(best),
        }


class MLM(_LMHeadTask):
    """Continue masked-LM pretraining on your own sequences.

    Each step chooses residues with probability ``mask_rate`` (at least one per sequence;
    never a special token or padding) and corrupts them as BERT does: 80% become the mask
    token, 10% a random residue, 10% stay. The loss is the cross-entropy of the original
    residues at the chosen positions. Validation and test choose their positions with a
    generator seeded per sequence, so their scores are comparable from epoch to epoch and
    independent of batching.

    Data: samples with ``"sequences"``.

    Predictions: per item, ``"predictions"``, the best residue token id at every residue
    (nothing masked), and ``"sequences"``, those decoded. For probabilities, load the
    checkpoint into `Inference`.

    Metrics: ``accuracy`` of the predictions at the chosen positions.

    Args:
        backbone (BackboneCallable): builds the backbone (masked-LM head and mask token).
        mask_rate (float): probability that a residue is chosen, in ``(0, 1]``.
        seed (int): seed of the validation and test masks.
        **kwargs (Any): `TaskInterface` options (``optimizer``, ``lr_scheduler``, ...).

    Raises:
        ValueError: ``mask_rate`` outside ``(0, 1]``.
    """

    needs_capabilities = frozenset({Capability.MASK_TOKEN})

    def __init__(
        self,
        backbone: BackboneCallable,
        *,
        mask_rate: float = 0.15,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone, **kwargs)
        if not 0 < mask_rate <= 1:
            raise ValueError(f"mask_rate must be in (0, 1], not {mask_rate}.")
        self.mask_rate = mask_rate
        self.seed = seed

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Mask the batch (randomly in training, seeded per item otherwise) and predict.

        Returns:
            dict[str, Tensor]: ``"logits"`` ``(batch, length, vocab_size)`` and
            ``"targets"`` ``(batch, length)`` (original ids where chosen, -100 elsewhere).
        """
        corrupted, targets = mask_task_batch(self, batch)
        logits = self.lm_logits(corrupted, batch["attention_mask"])
        return {"logits": logits, "targets": targets}

    def evaluate(
        self, preds: dict[str, Tensor], batch: dict[str, Any], stage: Stage
    ) -> dict[str, Tensor]:
        """Cross-entropy at the chosen positions; update the masked accuracy."""
        return {"loss": self._loss_and_accuracy(preds["logits"], preds["targets"], stage)}

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Return the best residue at every position, as ids and as a string."""
        index, packed = pack_index(residue_mask(batch))
        logits = gather_tokens(self.lm_logits(batch["input_ids"], batch["attention_mask"]), index)
        best = unpack(self.best_residues(logits.float()), packed)
        return {"ids": batch["ids"], "predictions": best, "sequences": self.decode_items(best)}
