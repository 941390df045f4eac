"""Building blocks of ESM C: attention with query/key norms and rotary positions, SwiGLU MLP.

ESM C is a pre-norm encoder. In each layer a LayerNorm precedes one fused query/key/value
projection; queries and keys are normalised again (over the whole model width) before
the rotary positions turn them; a LayerNorm precedes a SwiGLU MLP. Both residual branches
are divided by ``sqrt(layers / 36)``. No projection has a bias.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from transformers.modeling_layers import GradientCheckpointingLayer

from mg.backbones.aido.layers import apply_rotary, head_width


def swiglu_width(hidden_size: int, expansion: float = 8 / 3) -> int:
    """Return ESM C's MLP width: ``expansion * hidden_size`` rounded up to a multiple of 256.

    Args:
        hidden_size (int): model width.
        expansion (float): ratio before rounding (ESM C uses 8/3).
    """
    return int((expansion * hidden_size + 255) // 256 * 256)


class ESMCAttention(nn.Module):
    """Pre-norm multi-head self-attention with query/key norms and rotary positions.

    Args:
        hidden_size (int): model width.
        num_heads (int): attention heads (must divide ``hidden_size``).
        eps (float): epsilon of the norms.
    """

    def __init__(self, hidden_size: int, num_heads: int, eps: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_width(hidden_size, num_heads)
        self.norm = nn.LayerNorm(hidden_size, eps=eps)
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size, bias=False)
        self.q_norm = nn.LayerNorm(hidden_size, eps=eps, bias=False)
        self.k_norm = nn.LayerNorm(hidden_size, eps=eps, bias=False)
        self.out_proj = nn.Linear(hidden_size, hidden_size, bias=False)

    def _heads(self, x: Tensor) -> Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self, hidden: Tensor, key_mask: Tensor | None, rotary: tuple[Tensor, Tensor]
    ) -> Tensor:
        """Attend over ``(batch, length, hidden)``.

        Args:
            hidden (Tensor): the layer input.
            key_mask (Tensor | None): ``(batch, 1, 1, length)`` bool, True for keys to attend
                to; None when every key is real (lets the GPU use its flash kernel).
            rotary (tuple[Tensor, Tensor]): cos and sin, ``(length, head_dim)``.
        """
        query, key, value = self.qkv(self.norm(hidden)).chunk(3, dim=-1)
        query, key = self.q_norm(query), self.k_norm(key)
        cos, sin = rotary
        query = apply_rotary(self._heads(query), cos, sin)
        key = apply_rotary(self._heads(key), cos, sin)
        context = F.scaled_dot_product_attention(query, key, self._heads(value), attn_mask=key_mask)
        batch, _, length, _ = context.shape
        return self.out_proj(context.transpose(1, 2).reshape(batch, length, -1))


class ESMCFeedForward(nn.Module):
    """Pre-norm SwiGLU MLP with one fused input projection (gated half first).

    Args:
        hidden_size (int): model width.
        intermediate_size (int): width of the gated layer.
        eps (float): epsilon of the norm.
    """

    def __init__(self, hidden_size: int, intermediate_size: int, eps: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden_size, eps=eps)
        self.up_proj = nn.Linear(hidden_size, 2 * intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)

    def forward(self, hidden: Tensor) -> Tensor:
        """``down(silu(gate) * value)`` of the normed input."""
        gate, value = self.up_proj(self.norm(hidden)).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * value)


class ESMCLayer(GradientCheckpointingLayer):
    """One ESM C layer: attention, then the MLP, each added back scaled down.

    Args:
        hidden_size (int): model width.
        num_heads (int): attention heads.
        intermediate_size (int): MLP width.
        residual_scale (float): each branch is divided by it (``sqrt(layers / 36)``).
        eps (float): epsilon of the norms.
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        intermediate_size: int,
        residual_scale: float,
        eps: float,
    ) -> None:
        super().__init__()
        self.attention = ESMCAttention(hidden_size, num_heads, eps)
        self.mlp = ESMCFeedForward(hidden_size, intermediate_size, eps)
        self.residual_scale = residual_scale

    def forward(
        self, hidden: Tensor, key_mask: Tensor | None, rotary: tuple[Tensor, Tensor]
    ) -> Tensor:
        """Run the layer on ``(batch, length, hidden)``."""
        hidden = hidden + self.attention(hidden, key_mask, rotary) / self.residual_scale
        return hidden + self.mlp(hidden) / self.residual_scale


class ESMCSequenceHead(nn.Module):
    """The sequence (masked-LM) head: dense, GELU, LayerNorm, vocabulary projection."""

    def __init__(self, hidden_size: int, vocab_size: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.norm = nn.LayerNorm(hidden_size, eps=eps)
        self.decoder = nn.Linear(hidden_size, vocab_size)

    def forward(self, hidden: Tensor) -> Tensor:
        """Return vocabulary logits."""
        return self.decoder(self.norm(F.gelu(self.dense(hidden))))
