"""Tiny variants of every family: built from a config with seeded random init, no download.

They run in seconds on a CPU, so tests, quickstarts and the compatibility matrix use
them. Each has its family's real tokenizer and architecture at a toy size; the same seed
gives the same weights. ``save_pretrained`` writes one to a folder that the named family
(``ESM2(model_path=folder)``) loads exactly as it would published weights.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from transformers import (
    AutoModelForMaskedLM,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from mg.backbones.families import (
    BertDNAFamily,
    BertRNAFamily,
    ESM2Family,
    NucleotideTransformerFamily,
)
from mg.backbones.huggingface import TransformersBackbone
from mg.backbones.loading import apply_config_values


class TinyBackbone(TransformersBackbone):
    """Base of the tiny variants; a family mixin provides the tokenizer and config."""

    @staticmethod
    def build_tokenizer() -> PreTrainedTokenizerBase:
        """Return the family's tokenizer (provided by the family mixin)."""
        raise NotImplementedError

    @staticmethod
    def tiny_config(
        tokenizer: PreTrainedTokenizerBase,
        *,
        hidden_size: int,
        num_layers: int,
        num_heads: int,
        max_length: int,
    ) -> PretrainedConfig:
        """Return the family's config at the given size (provided by the family mixin)."""
        raise NotImplementedError

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        hidden_size: int = 32,
        num_layers: int = 2,
        num_heads: int = 4,
        max_length: int = 128,
        seed: int = 0,
        **options: Any,
    ) -> None:
        """Build the tokenizer and a seeded random model of the given size.

        Args:
            use_lm_head (bool): reserved; keep the masked-LM head.
            default_config (dict[str, Any] | None): reserved; task defaults for the model config.
            hidden_size (int): hidden state size.
            num_layers (int): encoder layers.
            num_heads (int): attention heads (must divide ``hidden_size``).
            max_length (int): tokens per sequence, special tokens included.
            seed (int): seed of the random initialisation.
            **options (Any): the options every variant shares (``config_overwrites``,
                ``model_init_args`` for ``from_config``, ``unknown``, ``truncation``,
                ``finetune``, the ``lora_*`` options, ``gradient_checkpointing``); see
                `TransformersBackbone`.
        """
        super().__init__(use_lm_head, default_config, **options)
        if hidden_size % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide hidden_size={hidden_size}.")
        self.seed = seed
        tokenizer = self.build_tokenizer()
        config = self.tiny_config(
            tokenizer,
            hidden_size=hidden_size,
            num_layers=num_layers,
            num_heads=num_heads,
            max_length=max_length,
        )
        apply_config_values(config, self.default_config, self.config_overwrites)
        self._config = config
        masked_lm = self._build_masked_lm()
        # The head is built either way, so the encoder's weights do not depend on use_lm_head.
        model = masked_lm if use_lm_head else masked_lm.base_model
        self.finish(tokenizer, model, max_length=max_length)

    def _build_masked_lm(self) -> PreTrainedModel:
        config = copy.deepcopy(self._config)
        classes = getattr(self, "model_classes", None)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            if classes is not None:  # a family whose architecture is mg's, not transformers'
                return classes.masked_lm(config, **self.model_init_args)
            return AutoModelForMaskedLM.from_config(config, **self.model_init_args)

    def exportable_model(self) -> PreTrainedModel:
        """Return the model with its masked-LM head, so the saved folder serves every task.

        Without ``use_lm_head`` the head written is the seeded initial one.
        """
        model = super().exportable_model()
        if self.use_lm_head:
            return model
        masked_lm = self._build_masked_lm()
        masked_lm.base_model.load_state_dict(model.state_dict())
        return masked_lm


class ESM2Tiny(ESM2Family, TinyBackbone):
    """A tiny ESM-2 (random init, seeded) with the real ESM-2 tokenizer; for tests."""


class NucleotideTransformerTiny(NucleotideTransformerFamily, TinyBackbone):
    """A tiny Nucleotide Transformer (v1 layout, 6-mer tokens, seeded random init); for tests."""


class BertDNATiny(BertDNAFamily, TinyBackbone):
    """A tiny character-level BERT for DNA (seeded random init); for tests."""


class BertRNATiny(BertRNAFamily, TinyBackbone):
    """A tiny character-level BERT for RNA (seeded random init); for tests."""
