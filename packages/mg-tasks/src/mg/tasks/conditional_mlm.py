"""ConditionalMLM: masked-LM training with a class or a value mixed into the token states."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import MeanMetric, Metric

from mg.adapters import ConditionalLMAdapter
from mg.core import (
    BackboneCallable,
    Capability,
    ConditionalGenerationAdapter,
    ConditionalGenerationAdapterCallable,
    TaskInterface,
)
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
from mg.tasks.conditioning import Conditioned, ConditionKind
from mg.tasks.masking import mask_task_batch

MLMOutput = Literal["tokens", "probabilities"]
"""What `ConditionalMLM` predicts per residue."""


class ConditionalMLM(Conditioned, TaskInterface):
    """Masked-LM training with each sequence's condition (a class or values) mixed in.

    As `MLM` (BERT-style 80/10/10 corruption of ``mask_rate`` of the residues, seeded per
    item outside training), but the logits come from a `ConditionalGenerationAdapter`
    (the adapter type of `ConditionalDiffusion`, so the same adapters fit both) that mixes
    each sequence's condition into the backbone's hidden states, starting from a copy of
    the backbone's masked-LM head. The condition is the sample's label: a class index
    (one-hot of ``n_classes``) or ``condition_size`` continuous values.

    Data: samples with ``"sequences"`` and ``"labels"`` (the condition) in every stage.

    Predictions: per item, trimmed to its residues and read with nothing masked:
    ``"predictions"``, the best residue token ids (``output="tokens"``) or the
    ``(residues, vocab_size)`` probabilities (``output="probabilities"``), under the
    item's condition; and ``"sequences"``, the best residues decoded.

    Metrics: ``accuracy`` of the predictions at the chosen positions.

    Args:
        backbone (BackboneCallable): builds the backbone (masked-LM head and mask token).
        adapter (ConditionalGenerationAdapterCallable): builds the conditional head,
            filled with ``(embedding_size, vocab_size, condition width, lm_head)``.
        condition (ConditionKind): ``"class"`` or ``"continuous"``.
        n_classes (int): number of classes (``condition="class"``).
        condition_size (int): number of continuous values (``condition="continuous"``).
        mask_rate (float): probability that a residue is chosen, in ``(0, 1]``.
        output (MLMOutput): ``"tokens"`` or ``"probabilities"`` in predictions.
        seed (int): seed of the validation and test masks.
        **kwargs (Any): `TaskInterface` options (``optimizer``, ``lr_scheduler``, ...).

    Raises:
        ValueError: an unknown ``condition`` or ``output``, ``n_classes`` below 2,
            ``condition_size`` below 1, or ``mask_rate`` outside ``(0, 1]``.
    """

    uses_lm_head = True
    needs_capabilities = frozenset({Capability.MASK_TOKEN})
    adapter_type = ConditionalGenerationAdapter
    default_adapter = ConditionalLMAdapter

    def __init__(
        self,
        backbone: BackboneCallable,
        adapter: ConditionalGenerationAdapterCallable = default_adapter,
        *,
        condition: ConditionKind = "class",
        n_classes: int = 2,
        condition_size: int = 1,
        mask_rate: float = 0.15,
        output: MLMOutput = "tokens",
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone, adapter, **kwargs)
        self.set_condition(condition, n_classes, condition_size)
        if not 0 < mask_rate <= 1:
            raise ValueError(f"mask_rate must be in (0, 1], not {mask_rate}.")
        if output not in ("tokens", "probabilities"):
            raise ValueError(f"output must be 'tokens' or 'probabilities', not {output!r}.")
        self.mask_rate = mask_rate
        self.output = output
        self.seed = seed

    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Tokenize and turn the labels into condition vectors.

        Returns:
            dict[str, Any]: the tokenized batch, plus ``"labels"`` and ``"condition"``
            ``(batch, condition width)`` float.
        """
        batch = self.tokenize_samples(samples)
        batch["labels"], batch["condition"] = self.condition_batch(samples)
        return batch

    def conditional_logits(
        self, input_ids: Tensor, attention_mask: Tensor, condition: Tensor
    ) -> Tensor:
        """Return the adapter's ``(batch, length, vocab_size)`` logits under ``condition``."""
        out = self.backbone(input_ids, attention_mask)
        condition = condition.to(out.last_hidden_state.device)
        return self.adapter(out.last_hidden_state, out.attention_mask, condition)

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Mask the batch as MLM does, then predict under each item's condition.

        Returns:
            dict[str, Tensor]: ``"logits"`` ``(batch, length, vocab_size)`` and
            ``"targets"`` ``(batch, length)`` (original ids where chosen, -100 elsewhere).
        """
        corrupted, targets = mask_task_batch(self, batch)
        logits = self.conditional_logits(corrupted, batch["attention_mask"], batch["condition"])
        return {"logits": logits, "targets": targets}

    def evaluate(
        self, preds: dict[str, Tensor], batch: dict[str, Any], stage: Stage
    ) -> dict[str, Tensor]:
        """Cross-entropy at the chosen positions; update the masked accuracy."""
        logits, targets = preds["logits"].float(), preds["targets"]
        loss = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE_INDEX)
        chosen = targets != IGNORE_INDEX
        if chosen.any():
            correct = (logits.detach()[chosen].argmax(-1) == targets[chosen]).float()
            self.stage_metrics(stage)["accuracy"].update(correct)
        return {"loss": loss}

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Return each residue's best token (or probabilities) under the item's condition."""
        logits = self.conditional_logits(
            batch["input_ids"], batch["attention_mask"], batch["condition"]
        ).float()
        index, packed = pack_index(residue_mask(batch))
        logits = gather_tokens(logits, index)
        alphabet = torch.tensor(self.backbone.get_alphabet_token_ids(), device=logits.device)
        best = unpack(alphabet[logits[..., alphabet].argmax(-1)], packed)
        sequences = [self.backbone.decode_tokens(ids[None])[0] for ids in best]
        predictions = best if self.output == "tokens" else unpack(logits.softmax(-1), packed)
        return {"ids": batch["ids"], "predictions": predictions, "sequences": sequences}

    def configure_metrics(self, stage: Stage) -> dict[str, Metric]:
        """``accuracy``: the fraction of chosen tokens predicted exactly."""
        return {"accuracy": MeanMetric()}

    def setup(self, stage: str) -> None:
        """Check columns, and the labels of the predict split too (they are conditions)."""
        super().setup(stage)
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if stage == "predict" and isinstance(datamodule, DataInterface):
            datamodule.check_labels(stage, self.label_problem)
