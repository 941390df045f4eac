"""Masked discrete diffusion: train to unmask, generate by iterative unmasking.

Training (the forward process) masks a fraction ``t ~ U(0, 1]`` of each sequence's
residues and learns to predict them. Generation (the reverse process) starts from a
template whose unknown positions are masked and, over ``num_steps`` steps, samples every
masked position and keeps the most confident samples, until none is left.
"""

from __future__ import annotations

from typing import Any

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
from mg.core.labels import IGNORE_INDEX
from mg.core.task import Stage
from mg.tasks.batching import (
    Sample,
    item_generators,
    pack_index,
    residue_mask,
    uniform_at,
    unpack,
)
from mg.tasks.conditioning import Conditioned, ConditionKind
from mg.tasks.masking import mask_for_diffusion


class _MaskedDiffusion(TaskInterface):
    """The training objective and the sampler shared by `Diffusion` and `ConditionalDiffusion`."""

    uses_lm_head = True
    needs_capabilities = frozenset({Capability.MASK_TOKEN})

    def __init__(
        self,
        backbone: BackboneCallable,
        adapter: ConditionalGenerationAdapterCallable | None = None,
        *,
        num_steps: int,
        temperature: float,
        inverse_rate_weighting: bool,
        mask_character: str,
        seed: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone, adapter, **kwargs)
        if num_steps < 1:
            raise ValueError(f"num_steps must be at least 1, not {num_steps}.")
        if temperature < 0:
            raise ValueError(f"temperature must be 0 (greedy) or positive, not {temperature}.")
        if len(mask_character) != 1:
            raise ValueError(f"mask_character must be one character, not {mask_character!r}.")
        self.num_steps = num_steps
        self.temperature = temperature
        self.inverse_rate_weighting = inverse_rate_weighting
        self.mask_character = mask_character
        self.seed = seed

    def extra_characters(self) -> str:
        """``mask_character`` marks positions to fill: the data may hold it."""
        return self.mask_character

    # ----------------------------------------------------------------- subclass hook
    def denoise_logits(self, input_ids: Tensor, batch: dict[str, Any]) -> Tensor:
        """Return ``(batch, length, vocab_size)`` logits for (partly masked) ``input_ids``."""
        raise NotImplementedError

    # ----------------------------------------------------------------- batching
    def mask_id(self) -> int:
        """Return the backbone's mask token id."""
        mask_id = self.backbone.get_special_token_id("mask")
        if mask_id is None:
            raise ValueError(
                f"{type(self).__name__} needs a mask token; {type(self.backbone).__name__} "
                "has none."
            )
        return mask_id

    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Tokenize; positions holding ``mask_character`` become mask tokens to fill in.

        Returns:
            dict[str, Any]: the tokenized batch (``mask_character`` positions already set
            to the mask token), plus ``"unknown"`` ``(batch, length)`` bool marking them.

        Raises:
            ValueError: a template holds ``mask_character`` but the backbone does not make
                one token per residue, so the positions cannot be found.
        """
        sequences = [s["sequences"] for s in samples]
        templated = any(self.mask_character in seq for seq in sequences)
        if templated and Capability.PER_RESIDUE_TOKENS not in self.backbone.capabilities:
            raise ValueError(
                f"Templates with {self.mask_character!r} need a backbone with one token per "
                f"residue; {type(self.backbone).__name__} has none."
            )
        filler = self.backbone.decode_tokens(
            torch.tensor([self.backbone.get_alphabet_token_ids()[:1]])
        )[0]
        plain = [seq.replace(self.mask_character, filler) for seq in sequences]
        batch = self.tokenize_samples(samples, plain)
        unknown = torch.zeros_like(batch["attention_mask"])
        if templated:
            index, packed = pack_index(residue_mask(batch))
            for row, seq in enumerate(sequences):
                count = int(packed[row].sum())
                marks = torch.tensor([c == self.mask_character for c in seq[:count]], dtype=bool)
                unknown[row, index[row, :count][marks]] = True
            batch["input_ids"] = batch["input_ids"].masked_fill(unknown, self.mask_id())
        batch["unknown"] = unknown
        return batch

    # ----------------------------------------------------------------- training
    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Mask a random fraction of each item's residues and predict them.

        In training ``t`` and the positions are random; otherwise they come from a
        generator seeded per item, so validation scores are stable and batch-independent.
        Template positions (``mask_character``) stay masked and are never targets.

        Returns:
            dict[str, Tensor]: ``"logits"``, ``"targets"`` (-100 where nothing is asked)
            and ``"rate"`` (each item's masking rate ``t``).
        """
        unknown = batch["unknown"]
        known = residue_mask(batch) & ~unknown
        generators = None if self.training else item_generators(batch, known, self.seed)
        masked, targets, rate = mask_for_diffusion(
            batch["input_ids"], known, mask_id=self.mask_id(), generators=generators
        )
        logits = self.denoise_logits(masked, batch)
        return {"logits": logits, "targets": targets, "rate": rate}

    def evaluate(
        self, preds: dict[str, Tensor], batch: dict[str, Any], stage: Stage
    ) -> dict[str, Tensor]:
        """Cross-entropy at the masked positions, per item; weighted by ``1/t`` if asked."""
        logits, targets = preds["logits"].float(), preds["targets"]
        chosen = targets != IGNORE_INDEX
        per_token = F.cross_entropy(
            logits.transpose(1, 2), targets, ignore_index=IGNORE_INDEX, reduction="none"
        )
        if self.inverse_rate_weighting:
            # The ELBO of masked diffusion: the masked-token loss over the length, over t.
            known = (residue_mask(batch) & ~batch["unknown"]).sum(1).clamp(min=1)
            per_item = per_token.sum(1) / (known * preds["rate"])
        else:
            per_item = per_token.sum(1) / chosen.sum(1).clamp(min=1)
        has_targets = chosen.any(1)
        loss = per_item[has_targets].mean() if has_targets.any() else logits.sum() * 0.0
        if chosen.any():
            correct = (logits.detach()[chosen].argmax(-1) == targets[chosen]).float()
            self.stage_metrics(stage)["accuracy"].update(correct)
        return {"loss": loss}

    def configure_metrics(self, stage: Stage) -> dict[str, Metric]:
        """``accuracy`` of the predictions at the masked positions."""
        return {"accuracy": MeanMetric()}

    # ----------------------------------------------------------------- generation
    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Fill in every template's masked positions.

        Returns:
            dict[str, Any]: ``"ids"``; ``"predictions"``, per item the residue token ids of
            the finished sequence; and ``"sequences"``, those decoded to strings.
        """
        generated = self.generate(batch)
        index, packed = pack_index(residue_mask(batch))
        rows = torch.arange(generated.shape[0], device=generated.device)[:, None]
        tokens = unpack(generated[rows, index], packed)
        sequences = [self.backbone.decode_tokens(ids[None])[0] for ids in tokens]
        return {"ids": batch["ids"], "predictions": tokens, "sequences": sequences}

    @torch.no_grad()
    def generate(self, batch: dict[str, Any]) -> Tensor:
        """Iteratively unmask the ``unknown`` positions of a batch.

        At step ``s`` of ``num_steps``, every still-masked position draws a residue from
        the model's distribution (restricted to the alphabet, sharpened or flattened by
        ``temperature``; the most likely residue when it is 0). The draws the model is
        most confident in are kept so that ``floor(n (1 - s / num_steps))`` positions
        remain masked, ``n`` being the item's number of unknown positions; the others are
        masked again. Draws come from a generator seeded per item, so an item's result
        depends only on itself and ``seed``.

        Args:
            batch (dict[str, Any]): a collated batch with ``"unknown"`` positions.

        Returns:
            Tensor: ``(batch, length)`` token ids with every unknown position filled.
        """
        ids = batch["input_ids"].clone()
        unknown = batch["unknown"].to(ids.device)
        generators = item_generators(batch, residue_mask(batch) & ~unknown, self.seed)
        alphabet = torch.tensor(self.backbone.get_alphabet_token_ids(), device=ids.device)
        mask_id = self.mask_id()
        total = unknown.sum(1)
        for step in range(1, self.num_steps + 1):
            still = unknown & (ids == mask_id)
            if not still.any():
                break
            logits = self.denoise_logits(ids, batch)[..., alphabet].float()
            if self.temperature > 0:
                logits = logits / self.temperature
                noise = self._gumbel(unknown, generators, len(alphabet))
                choice = (logits + noise).argmax(-1)
            else:
                choice = logits.argmax(-1)
            confidence = logits.softmax(-1).gather(-1, choice[..., None]).squeeze(-1)
            confidence = confidence.masked_fill(~still, -1.0)
            remain = torch.floor(total * (1 - step / self.num_steps)).long()
            reveal = still.sum(1) - remain
            order = confidence.argsort(dim=1, descending=True, stable=True)
            rank = order.argsort(dim=1, stable=True)
            keep = still & (rank < reveal[:, None])
            ids = torch.where(keep, alphabet[choice], ids)
        return ids

    @staticmethod
    def _gumbel(mask: Tensor, generators: list[torch.Generator], size: int) -> Tensor:
        """Gumbel noise ``(batch, length, size)``, drawn per item at ``mask`` positions only."""
        u = uniform_at(mask, generators, size).clamp(1e-10, 1 - 1e-7)
        return -torch.log(-torch.log(u))


class Diffusion(_MaskedDiffusion):
    """Masked discrete diffusion on the backbone's masked-LM head: train, then generate.

    Training masks a fraction ``t ~ U(0, 1]`` of each sequence's residues (drawn per
    sequence) and learns to predict them with the LM head; the loss is the mean
    cross-entropy at the masked positions, or with ``inverse_rate_weighting`` the
    diffusion ELBO (masked-token loss summed, over length times ``t``).

    Prediction generates. Each ``"sequences"`` value is a template: every
    ``mask_character`` is a position to fill, other characters stay as they are. A
    template of ``n`` mask characters generates ``n`` residues from scratch.

    Data: samples with ``"sequences"`` (training sequences, or templates to predict).

    Predictions: ``"predictions"``, per item the generated residue token ids, and
    ``"sequences"``, the generated strings (residues of the backbone's alphabet only).

    Metrics: ``accuracy`` of the predictions at the masked positions.

    Args:
        backbone (BackboneCallable): builds the backbone (masked-LM head and mask token).
        num_steps (int): denoising steps in generation.
        temperature (float): sampling temperature; 0 always takes the likeliest residue.
        inverse_rate_weighting (bool): weight each sequence's loss by ``1/t`` (the ELBO).
        mask_character (str): the template character that marks a position to generate.
        seed (int): seed of generation and of the validation masks (combined with each
            item's id, so every item gets its own stream).
        **kwargs (Any): `TaskInterface` options (``optimizer``, ``lr_scheduler``, ...).

    Raises:
        ValueError: ``num_steps`` below 1, negative ``temperature``, or a
            ``mask_character`` that is not a single character.
    """

    def __init__(
        self,
        backbone: BackboneCallable,
        *,
        num_steps: int = 32,
        temperature: float = 1.0,
        inverse_rate_weighting: bool = False,
        mask_character: str = "?",
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            backbone,
            num_steps=num_steps,
            temperature=temperature,
            inverse_rate_weighting=inverse_rate_weighting,
            mask_character=mask_character,
            seed=seed,
            **kwargs,
        )

    def denoise_logits(self, input_ids: Tensor, batch: dict[str, Any]) -> Tensor:
        """Return the LM head's logits for ``input_ids``."""
        out = self.backbone(input_ids, batch["attention_mask"])
        return self.backbone.get_decoder()(out.last_hidden_state)


class ConditionalDiffusion(Conditioned, _MaskedDiffusion):
    """Masked discrete diffusion conditioned on a class or on continuous values.

    As `Diffusion`, but the logits come from a `ConditionalGenerationAdapter` that mixes
    each sequence's condition into the backbone's hidden states (starting from a copy of
    the backbone's LM head). The condition is the sample's label: a class index (one-hot
    of ``n_classes``) or ``condition_size`` continuous values. Prediction generates for
    the condition of each sample.

    Data: samples with ``"sequences"`` and ``"labels"`` in every stage (the condition).

    Predictions: ``"predictions"``, per item the generated residue token ids, and
    ``"sequences"``, the generated strings.

    Metrics: ``accuracy`` of the predictions at the masked positions.

    Args:
        backbone (BackboneCallable): builds the backbone (masked-LM head and mask token).
        adapter (ConditionalGenerationAdapterCallable): builds the conditional head,
            filled with ``(embedding_size, vocab_size, condition width, lm_head)``.
        condition (ConditionKind): ``"class"`` or ``"continuous"``.
        n_classes (int): number of classes (``condition="class"``).
        condition_size (int): number of continuous values (``condition="continuous"``).
        num_steps (int): denoising steps in generation.
        temperature (float): sampling temperature; 0 always takes the likeliest residue.
        inverse_rate_weighting (bool): weight each sequence's loss by ``1/t`` (the ELBO).
        mask_character (str): the template character that marks a position to generate.
        seed (int): seed of generation and of the validation masks.
        **kwargs (Any): `TaskInterface` options (``optimizer``, ``lr_scheduler``, ...).

    Raises:
        ValueError: an unknown ``condition``, ``n_classes`` below 2 or ``condition_size``
            below 1, or a bad generation option (see `Diffusion`).
    """

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
        num_steps: int = 32,
        temperature: float = 1.0,
        inverse_rate_weighting: bool = False,
        mask_character: str = "?",
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            backbone,
            adapter,
            num_steps=num_steps,
            temperature=temperature,
            inverse_rate_weighting=inverse_rate_weighting,
            mask_character=mask_character,
            seed=seed,
            **kwargs,
        )
        self.set_condition(condition, n_classes, condition_size)

    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Tokenize as `Diffusion` does, and turn the labels into condition vectors.

        Returns:
            dict[str, Any]: the batch, plus ``"labels"`` and ``"condition"``
            ``(batch, condition width)`` float.
        """
        batch = super().collate(samples)
        batch["labels"], batch["condition"] = self.condition_batch(samples)
        return batch

    def denoise_logits(self, input_ids: Tensor, batch: dict[str, Any]) -> Tensor:
        """Return the conditional adapter's logits for ``input_ids``."""
        out = self.backbone(input_ids, batch["attention_mask"])
        condition = batch["condition"].to(out.last_hidden_state.device)
        return self.adapter(out.last_hidden_state, out.attention_mask, condition)
