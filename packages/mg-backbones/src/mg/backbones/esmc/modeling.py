"""ESM C as transformers models, and the mapping from EvolutionaryScale's published weights.

`ESMCConfig` (``model_type: esmc``) holds the sizes; `ESMCModel` is the encoder and
`ESMCForMaskedLM` adds the sequence head. The published checkpoints are plain state dicts
named after the ``esm`` package's modules (``transformer.blocks.N.attn.layernorm_qkv.1``,
...); `from_published` renames every key to these classes' names and refuses a state
dict with a key left over or missing. A model saved by mg (``save_pretrained``) is read by
transformers' ``from_pretrained`` as usual. Nothing is registered with the Auto classes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from torch import Tensor, nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers import initialization as init

from mg.backbones.encoder_lm import EncoderMaskedLM, RotaryEncoder
from mg.backbones.esmc.layers import ESMCLayer, ESMCSequenceHead, swiglu_width


class ESMCConfig(PretrainedConfig):
    """Config of ESM C; the defaults are ESM C 300M's.

    ``intermediate_size`` None uses ESM C's rule (`swiglu_width`); ``residual_scaling``
    divides each residual branch by ``sqrt(num_hidden_layers / 36)`` as ESM C does.
    ``max_position_embeddings`` only bounds ``max_length`` (positions are rotary; ESM C
    was trained on up to 2048 tokens).
    """

    model_type = "esmc"

    def __init__(
        self,
        vocab_size: int = 64,
        hidden_size: int = 960,
        num_hidden_layers: int = 30,
        num_attention_heads: int = 15,
        intermediate_size: int | None = None,
        max_position_embeddings: int = 2048,
        layer_norm_eps: float = 1e-5,
        residual_scaling: bool = True,
        initializer_range: float = 0.02,
        pad_token_id: int = 1,
        tie_word_embeddings: bool = False,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size or swiglu_width(hidden_size)
        self.max_position_embeddings = max_position_embeddings
        self.layer_norm_eps = layer_norm_eps
        self.residual_scaling = residual_scaling
        self.initializer_range = initializer_range
        super().__init__(
            pad_token_id=pad_token_id, tie_word_embeddings=tie_word_embeddings, **kwargs
        )


class ESMCPreTrainedModel(PreTrainedModel):
    """Shared transformers plumbing (init, gradient checkpointing) of the ESM C models."""

    config_class = ESMCConfig
    base_model_prefix = "esmc"
    supports_gradient_checkpointing = True
    _no_split_modules = ["ESMCLayer"]

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)


class ESMCModel(RotaryEncoder, ESMCPreTrainedModel):
    """The ESM C encoder: token embedding, pre-norm layers, final norm.

    Padding: a padded key is never attended to; without padding in the batch no mask is
    built, so the GPU can use its flash kernel. Outputs at padded positions carry no
    meaning.
    """

    # A saved masked-LM model holds the head too; the bare encoder skips it.
    _keys_to_ignore_on_load_unexpected = [r"^sequence_head\."]
    embeddings_path = "embed_tokens"

    def __init__(self, config: ESMCConfig) -> None:
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        scale = math.sqrt(config.num_hidden_layers / 36) if config.residual_scaling else 1.0
        self.layers = nn.ModuleList(
            ESMCLayer(
                config.hidden_size,
                config.num_attention_heads,
                config.intermediate_size,
                scale,
                config.layer_norm_eps,
            )
            for _ in range(config.num_hidden_layers)
        )
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps, bias=False)
        self.rotary_dim = config.hidden_size // config.num_attention_heads  # all of each head
        self.post_init()

    def parts(self) -> tuple[nn.Module, Iterable[nn.Module], nn.Module]:
        """Return the token embedding, the layers and the final norm."""
        return self.embed_tokens, self.layers, self.norm


class ESMCForMaskedLM(EncoderMaskedLM, ESMCPreTrainedModel):
    """The ESM C encoder with its sequence head (logits over the 64-entry vocabulary)."""

    lm_head_name = "sequence_head"
    decoder_path = "sequence_head.decoder"

    def __init__(self, config: ESMCConfig) -> None:
        super().__init__(config)
        self.esmc = ESMCModel(config)
        self.sequence_head = ESMCSequenceHead(
            config.hidden_size, config.vocab_size, config.layer_norm_eps
        )
        self.post_init()


# Published module names (the esm package's) -> mg's, outside and inside the blocks.
_TOP_NAMES: dict[str, str] = {
    "embed": "esmc.embed_tokens",
    "transformer.norm": "esmc.norm",
    "sequence_head.0": "sequence_head.dense",
    "sequence_head.2": "sequence_head.norm",
    "sequence_head.3": "sequence_head.decoder",
}
_BLOCK_NAMES: dict[str, str] = {
    "attn.layernorm_qkv.0": "attention.norm",
    "attn.layernorm_qkv.1": "attention.qkv",
    "attn.q_ln": "attention.q_norm",
    "attn.k_ln": "attention.k_norm",
    "attn.out_proj": "attention.out_proj",
    "ffn.0": "mlp.norm",
    "ffn.1": "mlp.up_proj",
    "ffn.3": "mlp.down_proj",
}


def published_key(name: str) -> str | None:
    """Return mg's name for a published ESM C key, or None for a key ESM C does not have."""
    module, _, parameter = name.rpartition(".")
    if module in _TOP_NAMES:
        return f"{_TOP_NAMES[module]}.{parameter}"
    block = re.fullmatch(r"transformer\.blocks\.(\d+)\.(.+)", module)
    if block and block.group(2) in _BLOCK_NAMES:
        return f"esmc.layers.{block.group(1)}.{_BLOCK_NAMES[block.group(2)]}.{parameter}"
    return None


def published_sizes(state: Mapping[str, Tensor]) -> dict[str, int]:
    """Read the sizes a published state dict fixes: vocabulary, width, layers, MLP width.

    The number of attention heads is not among them: no weight's shape depends on it.

    Raises:
        ValueError: the state dict is not ESM C's (no ``embed.weight`` or no blocks).
    """
    if "embed.weight" not in state:
        raise ValueError(
            "The weights hold no 'embed.weight', so they are not an ESM C state dict as "
            "EvolutionaryScale publishes it (data/weights/esmc_*.pth)."
        )
    vocab_size, hidden_size = state["embed.weight"].shape
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"transformer\.blocks\.(\d+)\.", k))}
    if not blocks:
        raise ValueError("The ESM C weights hold no transformer.blocks: the file is incomplete.")
    sizes = {
        "vocab_size": int(vocab_size),
        "hidden_size": int(hidden_size),
        "num_hidden_layers": max(blocks) + 1,
    }
    down = state.get("transformer.blocks.0.ffn.3.weight")
    if down is not None:  # else ESM C's rule; a missing weight is reported when loading
        sizes["intermediate_size"] = int(down.shape[1])
    return sizes


def from_published(state: Mapping[str, Tensor], config: ESMCConfig) -> ESMCForMaskedLM:
    """Build `ESMCForMaskedLM` for ``config`` and load a published state dict into it.

    Args:
        state (Mapping[str, Tensor]): the published weights, with the ``esm`` package's names.
        config (ESMCConfig): sizes matching the weights.

    Raises:
        ValueError: a key has no counterpart, a weight is missing, or a shape differs.
    """
    renamed: dict[str, Tensor] = {}
    unknown = []
    for name, tensor in state.items():
        target = published_key(name)
        if target is None:
            unknown.append(name)
        else:
            renamed[target] = tensor
    model = ESMCForMaskedLM(config)
    expected = set(model.state_dict())
    missing = sorted(expected - set(renamed))
    unexpected = sorted(unknown + [k for k in renamed if k not in expected])
    if missing or unexpected:
        raise ValueError(
            f"The ESM C weights do not fit the architecture: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}. Use a checkpoint of ESM C 300M or 600M as published."
        )
    try:
        model.load_state_dict(renamed, strict=True)
    except RuntimeError as error:
        raise ValueError(
            f"The ESM C weights do not fit the config {config.to_diff_dict()}: {error}"
        ) from None
    return model.eval()
