"""Borzoi's own building blocks: the separable convolution and Flashzoi's rotary attention.

The rest (convolution blocks, relative-position attention, transformer layers) are
Enformer's, from `mg.backbones.enformer.layers`, with Borzoi's epsilons and GELU.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from mg.backbones.enformer.layers import ConvBlock, RelativeAttention

NORM_EPS = 1e-3
"""Epsilon of Borzoi's batch and layer norms."""

POSITION_FEATURES = 32
"""Relative-position features of Borzoi's attention (central masks and their signed copy)."""

TRAINED_BINS = 4096
"""Transformer positions of the published window; the central-mask widths grow up to it."""


def tanh_gelu(x: Tensor) -> Tensor:
    """GELU with the tanh approximation, as Borzoi computes it."""
    return F.gelu(x, approximate="tanh")


def borzoi_conv_block(channels_in: int, channels_out: int, kernel_size: int = 1) -> ConvBlock:
    """Enformer's convolution block with Borzoi's batch-norm epsilon and GELU."""
    return ConvBlock(
        channels_in, channels_out, kernel_size, norm_eps=NORM_EPS, activation=tanh_gelu
    )


def relative_attention(dim: int, heads: int, key_size: int, value_size: int) -> nn.Module:
    """Enformer's relative attention with Borzoi's sizes and central-mask features only.

    The mask widths grow geometrically from 1 to ``TRAINED_BINS`` over the 16 features.
    """
    per_kind = POSITION_FEATURES // 2
    return RelativeAttention(
        dim,
        heads,
        key_size,
        value_size=value_size,
        position_size=POSITION_FEATURES,
        position_kinds=("central_mask",),
        central_growth=math.exp(math.log(TRAINED_BINS + 1) / per_kind),
    )


class SeparableConv(nn.Module):
    """A width-3 depthwise convolution (no bias), then a pointwise one.

    Args:
        channels (int): channels in and out.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv1d(channels, channels, 3, padding=1, groups=channels, bias=False)
        self.pointwise = nn.Conv1d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, channels, length)`` → the same shape."""
        return self.pointwise(self.depthwise(x))


def rotate(x: Tensor, base: float) -> Tensor:
    """Rotate pairs of features by angles that grow with the position (rotary embedding).

    Feature ``k`` of the first half pairs with feature ``k`` of the second half; the pair at
    position ``p`` turns by ``p * base ** (-2k / size)``.

    Args:
        x (Tensor): ``(batch, heads, n, size)``, ``size`` even.
        base (float): base of the frequencies.
    """
    n, size = x.shape[-2], x.shape[-1]
    steps = torch.arange(0, size, 2, device=x.device, dtype=torch.float32) / size
    frequencies = 1.0 / base**steps
    angles = torch.arange(n, device=x.device, dtype=torch.float32)[:, None] * frequencies
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    first, second = x[..., : size // 2], x[..., size // 2 :]
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)


class RotaryAttention(nn.Module):
    """Flashzoi's attention: rotary positions, grouped key/value heads, no attention mask.

    Each pair of query heads shares one key/value head (``heads // 2`` of them); the first
    ``rotary_dim`` features of every query and key head rotate with the position. The
    scores are scaled by ``(dim / heads) ** -0.5``. The published layout fuses the three
    projections into one (``Wqkv``); mg keeps them apart so LoRA names them as in Borzoi.

    Args:
        dim (int): model width.
        heads (int): query heads (even).
        rotary_dim (int): leading features per head that rotate.
        base (float): base of the rotary frequencies.
        dropout (float): dropout on the attention weights.
    """

    def __init__(
        self, dim: int, heads: int, rotary_dim: int, base: float, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.heads, self.kv_heads = heads, heads // 2
        self.head_size = dim // heads
        self.rotary_dim, self.base = rotary_dim, base
        self.attention_dropout = nn.Dropout(dropout)
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, self.kv_heads * self.head_size)
        self.value = nn.Linear(dim, self.kv_heads * self.head_size)
        self.output = nn.Linear(dim, dim)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def _split(self, x: Tensor) -> Tensor:
        """``(batch, n, h * size)`` → ``(batch, h, n, size)``."""
        batch, n, _ = x.shape
        return x.view(batch, n, -1, self.head_size).transpose(1, 2)

    def _rotate(self, x: Tensor) -> Tensor:
        turned = rotate(x[..., : self.rotary_dim], self.base)
        return torch.cat([turned, x[..., self.rotary_dim :]], dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, n, dim)`` → ``(batch, n, dim)``."""
        batch, n, _ = x.shape
        q = self._rotate(self._split(self.query(x)))
        k = self._rotate(self._split(self.key(x)))
        v = self._split(self.value(x))
        # Query head h reads key/value head h // 2.
        group = self.heads // self.kv_heads
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        scores = (q @ k.transpose(-1, -2)) * self.head_size**-0.5
        weights = self.attention_dropout(scores.softmax(-1))
        out = (weights @ v).transpose(1, 2).reshape(batch, n, -1)
        return self.output(out)
