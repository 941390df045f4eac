"""ESM C (EvolutionaryScale's ESM Cambrian, 300M and 600M) as a named mg family, and a tiny one.

The architecture is mg's own (`mg.backbones.esmc.modeling`), so the ``esm`` package (which
pins an old transformers) is not needed. `ESMC` reads the checkpoints as EvolutionaryScale
publishes them (a plain state dict at ``data/weights/esmc_*.pth``, read as data with
``weights_only=True``) and, as well, what mg's ``save_pretrained`` writes. The tokenizer is
built in with the ids of the ``esm`` package's ``EsmSequenceTokenizer``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, ClassVar

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from mg.backbones.esmc.modeling import (
    ESMCConfig,
    ESMCForMaskedLM,
    ESMCModel,
    from_published,
    published_sizes,
)
from mg.backbones.families import sized_config
from mg.backbones.huggingface import HFBackbone
from mg.backbones.loading import (
    BackboneLoadError,
    HubOptions,
    ModelClasses,
    ModelPathNotFoundError,
    apply_config_values,
    fetch_hub_files,
    looks_like_local_path,
    read_weights,
    refuse_remote_code_override,
)
from mg.backbones.tiny import TinyBackbone
from mg.backbones.tokenization import esm_style_tokenizer
from mg.core.alphabets import PROTEIN, PROTEIN_AMBIGUITY
from mg.core.backbone import Capability, Modality

ESMC_CHECKPOINTS: dict[str, str] = {
    "300M": "EvolutionaryScale/esmc-300m-2024-12",
    "600M": "EvolutionaryScale/esmc-600m-2024-12",
}
"""Published ESM C checkpoints by size; pass one (or its local copy) as ``model_path``."""

ESMC_SIZES: dict[str, dict[str, int]] = {
    "300M": {"hidden_size": 960, "num_attention_heads": 15, "num_hidden_layers": 30},
    "600M": {"hidden_size": 1152, "num_attention_heads": 18, "num_hidden_layers": 36},
}
"""The published sizes (as the ``esm`` package builds them); the head count is read from
here, since no weight's shape reveals it."""

ESMC_VOCAB: tuple[str, ...] = (
    "<cls>", "<pad>", "<eos>", "<unk>", *"LAGVSERTIDPKQNFYMHWCXBUZO", ".", "-", "|", "<mask>",
)  # fmt: skip
"""ESM C's sequence token ids (the ``esm`` package's ``SEQUENCE_VOCAB``); the model's
embedding and head have 64 rows, the rest unused."""

ESMC_EMBEDDING_ROWS = 64
"""Rows of ESM C's token embedding and head (`ESMC_VOCAB` fills the first ones)."""

PUBLISHED_WEIGHTS = "data/weights/*.pth"
"""Where a published ESM C snapshot keeps its state dict, relative to the folder."""

_HUB_FILES = ["config.json", "*.safetensors", PUBLISHED_WEIGHTS]


def esmc_tokenizer() -> PreTrainedTokenizerBase:
    """Return ESM C's tokenizer: ``<cls> residues <eos>``, one token per residue."""
    return esm_style_tokenizer(ESMC_VOCAB)


class ESMCFamily:
    """Traits of ESM C: protein, one token per residue, ``<cls> ... <eos>``."""

    modality: ClassVar[Modality] = Modality.PROTEIN
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.MASKED_LM_HEAD, Capability.MASK_TOKEN, Capability.PER_RESIDUE_TOKENS}
    )
    residues: ClassVar[str | None] = PROTEIN
    extra_residues: ClassVar[str] = PROTEIN_AMBIGUITY
    character_level: ClassVar[bool] = True
    # The fused query/key/value projection and the attention output.
    lora_target_modules: ClassVar[tuple[str, ...] | None] = ("qkv", "out_proj")
    model_classes: ClassVar[ModelClasses | None] = ModelClasses(ESMCModel, ESMCForMaskedLM)

    @staticmethod
    def build_tokenizer() -> PreTrainedTokenizerBase:
        """Return the ESM C tokenizer."""
        return esmc_tokenizer()

    # ESM C's MLP width rule, and its 64 embedding rows (more than the vocabulary).
    tiny_config = staticmethod(
        functools.partial(
            sized_config, ESMCConfig, intermediate_factor=None, vocab_size=ESMC_EMBEDDING_ROWS
        )
    )


def _published_heads(sizes: dict[str, int], overwrites: dict[str, Any]) -> int:
    """The head count: the user's ``num_attention_heads``, else the published size's."""
    if overwrites.get("num_attention_heads"):
        return int(overwrites["num_attention_heads"])
    for known in ESMC_SIZES.values():
        if all(sizes[key] == known[key] for key in ("hidden_size", "num_hidden_layers")):
            return known["num_attention_heads"]
    raise ValueError(
        f"ESM C weights of width {sizes['hidden_size']} with {sizes['num_hidden_layers']} layers "
        "match no published size (300M: 960 wide, 30 layers; 600M: 1152 wide, 36 layers), "
        "and the head count cannot be read from weights: set config_overwrites: "
        "{num_attention_heads: N}."
    )


class ESMC(ESMCFamily, HFBackbone):
    """ESM C (300M, 600M): EvolutionaryScale's protein language model, one token per residue.

    ``model_path`` defaults to ``EvolutionaryScale/esmc-300m-2024-12``; see
    `ESMC_CHECKPOINTS`, or give a local folder holding a downloaded snapshot (with
    ``data/weights/esmc_*.pth``) or what ``save_pretrained`` wrote. mg's own code runs it:
    neither the ``esm`` package nor ``trust_remote_code``. Input may hold X, B, U, Z, O.
    The weights are under EvolutionaryScale's Cambrian Open License. Options: see
    `HFBackbone` (``model_init_args`` takes only ``dtype`` for published weights, and
    ``model_class`` does not apply).
    """

    default_model_path = ESMC_CHECKPOINTS["300M"]

    def load_tokenizer(
        self, source: str, is_local: bool, options: HubOptions
    ) -> PreTrainedTokenizerBase:
        """Return the built-in tokenizer (the published checkpoints ship none)."""
        return self.build_tokenizer()

    def load_pretrained(
        self,
        model_path: str,
        options: HubOptions,
        config_overwrites: dict[str, Any] | None,
        model_init_args: dict[str, Any] | None,
        model_class: str | None,
    ) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
        """Load a published snapshot (``data/weights/*.pth``) or a folder mg saved.

        Raises:
            ValueError: ``model_class`` is set, ``model_init_args`` holds more than
                ``dtype``, the head count cannot be known, or the weights do not fit.
            BackboneLoadError: the folder or Hub id cannot be read.
        """
        if model_class is not None:
            raise ValueError(
                "ESMC runs mg's own ESM C code, so model_class does not apply: drop it (or use "
                "HFBackbone with model_class for another implementation)."
            )
        init_args = dict(model_init_args or {})
        refuse_remote_code_override("model_init_args", init_args)
        folder = self._folder(model_path, options)
        weights = sorted(folder.glob(PUBLISHED_WEIGHTS))
        if not weights and not (folder / "config.json").is_file():
            raise BackboneLoadError(
                f"model_path {model_path!r} holds no ESM C model: neither a published snapshot "
                f"({PUBLISHED_WEIGHTS}, as `hf download {ESMC_CHECKPOINTS['300M']} --local-dir "
                "<folder>` writes it) nor a folder save_pretrained wrote (config.json)."
            )
        if not weights:
            return super().load_pretrained(
                str(folder), options, config_overwrites, model_init_args, None
            )
        dtype = init_args.pop("dtype", None)
        if init_args:
            raise ValueError(
                f"model_init_args sets {sorted(init_args)}, which do not apply to ESM C's "
                "published weights (mg builds the model itself): it takes dtype only."
            )
        if len(weights) > 1:
            raise BackboneLoadError(
                f"{folder} holds several ESM C state dicts ({[p.name for p in weights]}): keep "
                "one under data/weights, or point model_path at a folder with one."
            )
        state = read_weights(folder, torch_files=(PUBLISHED_WEIGHTS,))
        sizes = published_sizes(state)
        tokenizer = self.build_tokenizer()
        config = ESMCConfig(
            **sizes,
            num_attention_heads=_published_heads(sizes, config_overwrites or {}),
            pad_token_id=tokenizer.pad_token_id,
        )
        apply_config_values(config, self.default_config, config_overwrites)
        model: PreTrainedModel = from_published(state, config)
        if dtype is not None:
            model = model.to(getattr(torch, dtype) if isinstance(dtype, str) else dtype)
        return tokenizer, model if self.use_lm_head else model.base_model

    @staticmethod
    def _folder(model_path: str, options: HubOptions) -> Path:
        """Return the local folder of ``model_path``, fetching a Hub id's files if needed."""
        folder = Path(model_path).expanduser()
        if folder.is_dir():
            return folder
        if folder.exists():
            raise BackboneLoadError(
                f"model_path {model_path!r} is a file; point it at the folder that holds it "
                "(a published ESM C snapshot keeps data/weights/esmc_*.pth) or at the folder "
                "save_pretrained wrote."
            )
        if looks_like_local_path(model_path):
            raise ModelPathNotFoundError(
                f"model_path {model_path!r} looks like a local folder, but there is nothing at "
                f"{folder.resolve()}. Check the path, or give a Hub id such as "
                f"{ESMC_CHECKPOINTS['300M']!r}."
            )
        return fetch_hub_files(model_path, _HUB_FILES, options)


class ESMCTiny(ESMCFamily, TinyBackbone):
    """A tiny ESM C (seeded random init, real tokenizer and architecture); for tests."""
