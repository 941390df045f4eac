"""The AIDO encoders as transformers models, loading the published checkpoints as they are.

`AIDOBertConfig` (``model_type: rnabert``) describes AIDO.DNA and AIDO.RNA,
`AIDOFMConfig` (``model_type: fm4bio``) AIDO.Protein. Both read the ``config.json`` the
published checkpoints carry; the models' parameter names are the checkpoints' own
(``bert.encoder.layer.N...``, ``cls.predictions...``), so no key is renamed, missing or
left over. Nothing here is registered with transformers' Auto classes: mg's AIDO families
name these classes directly, so no code from a checkpoint ever runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_layers import GradientCheckpointingLayer

from mg.backbones.aido.layers import (
    AIDOAttention,
    AIDORMSNorm,
    FusedGLU,
    MixtureOfGLUs,
    SplitSwiGLU,
    make_norm,
)
from mg.backbones.encoder_lm import EncoderMaskedLM, RotaryEncoder


class AIDOBertConfig(PretrainedConfig):
    """Config of AIDO.DNA and AIDO.RNA (ModelGenerator's ``rnabert``), defaults as published.

    Attributes beyond transformers' usual ones: ``normalization_type`` (``"RMSNorm"`` or
    ``"LayerNorm"``), ``position_embedding_type`` (``"rope"`` or ``"absolute"``),
    ``rotary_percent`` (share of each head's features that rotate), ``add_linear_bias``
    and ``attention_kernel`` (``"auto"``, ``"sdpa"`` or ``"plain"``; see
    `mg.backbones.aido.layers.choose_kernel`).
    """

    model_type = "rnabert"

    def __init__(
        self,
        vocab_size: int = 16,
        hidden_size: int = 1024,
        num_hidden_layers: int = 24,
        num_attention_heads: int = 16,
        intermediate_size: int = 4096,
        hidden_act: str = "swiglu",
        hidden_dropout_prob: float = 0.0,
        attention_probs_dropout_prob: float = 0.0,
        max_position_embeddings: int = 512,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-5,
        pad_token_id: int = 0,
        add_linear_bias: bool = True,
        position_embedding_type: str = "rope",
        normalization_type: str = "RMSNorm",
        rotary_percent: float = 1.0,
        attention_kernel: str = "auto",
        tie_word_embeddings: bool = True,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.add_linear_bias = add_linear_bias
        self.position_embedding_type = position_embedding_type
        self.normalization_type = normalization_type
        self.rotary_percent = rotary_percent
        self.attention_kernel = attention_kernel
        super().__init__(
            pad_token_id=pad_token_id, tie_word_embeddings=tie_word_embeddings, **kwargs
        )


class AIDOFMConfig(AIDOBertConfig):
    """Config of AIDO.Protein (ModelGenerator's ``fm4bio``), defaults as published.

    Adds the mixture of experts (``moe``, ``num_experts``, ``experts_per_token``),
    ``apply_residual_connection_post_layernorm`` and ``use_lm_head`` (False: a plain
    linear ``output_embed`` head over ``output_vocab_size`` or the vocabulary).
    """

    model_type = "fm4bio"

    def __init__(
        self,
        vocab_size: int = 128,
        max_position_embeddings: int = 2048,
        moe: bool = False,
        num_experts: int = 0,
        experts_per_token: int = 0,
        apply_residual_connection_post_layernorm: bool = False,
        use_lm_head: bool = True,
        output_vocab_size: int | None = None,
        str_embedding_in: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.moe = moe
        self.num_experts = num_experts
        self.experts_per_token = experts_per_token
        self.apply_residual_connection_post_layernorm = apply_residual_connection_post_layernorm
        self.use_lm_head = use_lm_head
        self.output_vocab_size = output_vocab_size
        self.str_embedding_in = str_embedding_in
        super().__init__(
            vocab_size=vocab_size, max_position_embeddings=max_position_embeddings, **kwargs
        )


def _norm(config: AIDOBertConfig) -> nn.Module:
    return make_norm(config.normalization_type, config.hidden_size, config.layer_norm_eps)


class AIDOEmbeddings(nn.Module):
    """Token embeddings, plus learned positions when the config does not use rotary ones."""

    def __init__(self, config: AIDOBertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(
            config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id
        )
        if config.position_embedding_type == "absolute":
            self.position_embeddings = nn.Embedding(
                config.max_position_embeddings, config.hidden_size
            )
        elif config.position_embedding_type != "rope":
            raise ValueError(
                f"position_embedding_type={config.position_embedding_type!r} is not supported by "
                "mg's AIDO models (they take 'rope' or 'absolute'; AIDO.Protein-RAG's 'rope_2d' "
                "needs MSA positions, which mg does not feed)."
            )
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: Tensor) -> Tensor:
        """Embed ``(batch, length)`` ids."""
        hidden = self.word_embeddings(input_ids)
        if hasattr(self, "position_embeddings"):
            positions = torch.arange(input_ids.shape[1], device=input_ids.device)
            hidden = hidden + self.position_embeddings(positions)
        return self.dropout(hidden)


class AIDOLayer(GradientCheckpointingLayer):
    """One pre-norm encoder layer: attention block, then ``ln`` and the MLP, each residual."""

    def __init__(self, config: AIDOBertConfig) -> None:
        super().__init__()
        bias = config.add_linear_bias
        self.attention = AIDOAttention(
            config.hidden_size,
            config.num_attention_heads,
            bias,
            config.hidden_dropout_prob,
            _norm(config),
            config.attention_probs_dropout_prob,
        )
        self.attention.self.kernel = config.attention_kernel
        self.ln = _norm(config)
        if isinstance(config, AIDOFMConfig):
            if config.moe:
                self.mlp: nn.Module = MixtureOfGLUs(
                    config.hidden_size,
                    config.intermediate_size,
                    bias,
                    config.hidden_act,
                    config.num_experts,
                    config.experts_per_token,
                )
            else:
                self.mlp = FusedGLU(
                    config.hidden_size, config.intermediate_size, bias, config.hidden_act
                )
            post_norm = config.apply_residual_connection_post_layernorm
        else:
            if config.hidden_act != "swiglu":
                raise ValueError(f"hidden_act={config.hidden_act!r}: AIDO.DNA/RNA use 'swiglu'.")
            self.mlp = SplitSwiGLU(config.hidden_size, config.intermediate_size, bias)
            post_norm = False
        # DeepNorm variant: the residual is the scaled normed input instead of the input.
        self.residual_scale = (2 * config.num_hidden_layers) ** 0.5 if post_norm else None
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def _residual(self, hidden: Tensor, normed: Tensor) -> Tensor:
        return hidden if self.residual_scale is None else self.residual_scale * normed

    def forward(
        self,
        hidden: Tensor,
        key_mask: Tensor | None = None,
        rotary: tuple[Tensor, Tensor] | None = None,
    ) -> Tensor:
        """Run the layer on ``(batch, length, hidden)``."""
        normed = self.attention.ln(hidden)
        context = self.attention.self(normed, key_mask, rotary)
        hidden = self._residual(hidden, normed) + self.attention.output(context)
        normed = self.ln(hidden)
        return self._residual(hidden, normed) + self.dropout(self.mlp(normed))


class AIDOEncoder(nn.Module):
    """The layers and the final norm (``ln``)."""

    def __init__(self, config: AIDOBertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(AIDOLayer(config) for _ in range(config.num_hidden_layers))
        self.ln = _norm(config)


class AIDOPreTrainedModel(PreTrainedModel):
    """Shared transformers plumbing (init, gradient checkpointing) of the AIDO models."""

    config_class = AIDOBertConfig
    base_model_prefix = "bert"
    supports_gradient_checkpointing = True
    _no_split_modules = ["AIDOLayer"]

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, AIDORMSNorm):
            init.ones_(module.weight)
        elif isinstance(module, AIDOLMPredictionHead):
            init.zeros_(module.bias)


class AIDOModel(RotaryEncoder, AIDOPreTrainedModel):
    """The AIDO encoder: embeddings, pre-norm layers with rotary attention, final norm.

    Padding: a padded key is never attended to; when no row has padding no mask is built
    at all, so the GPU can use its flash kernel. Outputs at padded positions carry no
    meaning and differ from ModelGenerator's there.
    """

    # The published checkpoints hold the masked-LM head too; the bare encoder skips it.
    _keys_to_ignore_on_load_unexpected = [r"^cls\."]
    embeddings_path = "embeddings.word_embeddings"

    def __init__(self, config: AIDOBertConfig, add_pooling_layer: bool = False) -> None:
        super().__init__(config)
        self.embeddings = AIDOEmbeddings(config)
        self.encoder = AIDOEncoder(config)
        head_dim = config.hidden_size // config.num_attention_heads
        rotary_dim = (
            int(head_dim * config.rotary_percent) if config.rotary_percent < 1 else head_dim
        )
        self.rotary_dim = rotary_dim if config.position_embedding_type == "rope" else 0
        self.post_init()

    def parts(self) -> tuple[nn.Module, Iterable[nn.Module], nn.Module]:
        """Return the embeddings, the layers and the final norm."""
        return self.embeddings, self.encoder.layer, self.encoder.ln

    def set_attention_kernel(self, kernel: str) -> None:
        """Use ``"auto"`` (per device and size), ``"sdpa"`` or ``"plain"`` attention."""
        if kernel not in ("auto", "sdpa", "plain"):
            raise ValueError(f"attention_kernel={kernel!r}: choose 'auto', 'sdpa' or 'plain'.")
        self.config.attention_kernel = kernel
        for layer in self.encoder.layer:
            layer.attention.self.kernel = kernel


class AIDOPredictionHeadTransform(nn.Module):
    """Dense, GELU and norm before the vocabulary projection."""

    def __init__(self, config: AIDOBertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = _norm(config)

    def forward(self, hidden: Tensor) -> Tensor:
        """Transform hidden states."""
        return self.LayerNorm(nn.functional.gelu(self.dense(hidden)))


class AIDOLMPredictionHead(nn.Module):
    """Transform, then the vocabulary projection tied to the token embedding, plus a bias."""

    def __init__(self, config: AIDOBertConfig) -> None:
        super().__init__()
        self.transform = AIDOPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=True)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden: Tensor) -> Tensor:
        """Return vocabulary logits."""
        return self.decoder(self.transform(hidden))


class AIDOOnlyMLMHead(nn.Module):
    """The masked-LM head (``cls.predictions``)."""

    def __init__(self, config: AIDOBertConfig) -> None:
        super().__init__()
        self.predictions = AIDOLMPredictionHead(config)

    def forward(self, hidden: Tensor) -> Tensor:
        """Return vocabulary logits."""
        return self.predictions(hidden)


class AIDOForMaskedLM(EncoderMaskedLM, AIDOPreTrainedModel):
    """An AIDO encoder with its masked-LM head (``cls``)."""

    lm_head_name = "cls"
    decoder_path = "cls.predictions.decoder"

    _tied_weights_keys = {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }

    def __init__(self, config: AIDOBertConfig) -> None:
        super().__init__(config)
        if getattr(config, "use_lm_head", True) is False:
            raise ValueError(
                "This AIDO.Protein checkpoint has no masked-LM head (use_lm_head: false); use it "
                "without a masked-LM task."
            )
        self.bert = AIDOModel(config)
        self.cls = AIDOOnlyMLMHead(config)
        self.post_init()


class AIDOFMModel(AIDOModel):
    """The AIDO.Protein encoder (``fm4bio`` config)."""

    config_class = AIDOFMConfig


class AIDOFMForMaskedLM(AIDOForMaskedLM):
    """AIDO.Protein with its masked-LM head (``fm4bio`` config)."""

    config_class = AIDOFMConfig
