"""Enformer's building blocks: convolution blocks, attention pooling, relative attention.

Tensors in the convolutional part are channels-first ``(batch, channels, length)``; the
transformer reads ``(batch, bins, dim)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def sigmoid_gelu(x: Tensor) -> Tensor:
    """GELU as Enformer computes it: ``x * sigmoid(1.702 x)``."""
    return torch.sigmoid(1.702 * x) * x


class ConvBlock(nn.Module):
    """Batch norm, GELU, then a 1-D convolution whose output keeps the input's length.

    Args:
        channels_in (int): input channels.
        channels_out (int): output channels.
        kernel_size (int): convolution width (odd).
        norm_eps (float): the batch norm's epsilon (Borzoi uses 1e-3).
        activation (Callable[[Tensor], Tensor]): the GELU variant (Borzoi uses the tanh
            approximation).
    """

    def __init__(
        self,
        channels_in: int,
        channels_out: int,
        kernel_size: int = 1,
        *,
        norm_eps: float = 1e-5,
        activation: Callable[[Tensor], Tensor] = sigmoid_gelu,
    ) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(channels_in, eps=norm_eps)
        self.conv = nn.Conv1d(channels_in, channels_out, kernel_size, padding=kernel_size // 2)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, channels_in, length)`` → ``(batch, channels_out, length)``."""
        return self.conv(self.activation(self.norm(x)))


class AttentionPool(nn.Module):
    """Halve the length: each pair of positions is averaged with learned softmax weights.

    An odd length gets one padded position, which the softmax ignores.

    Args:
        channels (int): channels (the weights are per channel, mixed across channels).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        # Kept as the published 1x1 2-D convolution weight, (channels, channels, 1, 1).
        self.logits = nn.Conv2d(channels, channels, 1, bias=False)
        with torch.no_grad():  # start as a fixed softmax over each pair (identity times 2)
            self.logits.weight.zero_()
            self.logits.weight[:, :, 0, 0].copy_(2 * torch.eye(channels))

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, channels, length)`` → ``(batch, channels, ceil(length / 2))``."""
        batch, channels, length = x.shape
        odd = length % 2
        if odd:
            x = F.pad(x, (0, 1))
        pairs = x.view(batch, channels, -1, 2)
        logits = self.logits(pairs)
        if odd:
            padded = torch.zeros(pairs.shape[-2:], dtype=torch.bool, device=x.device)
            padded[-1, 1] = True
            logits = logits.masked_fill(padded, -torch.finfo(logits.dtype).max)
        return (pairs * logits.softmax(-1)).sum(-1)


def _exponential_features(distance: Tensor, features: int, length: int) -> Tensor:
    """Exponential decays of ``|distance|`` with half-lives from 8 to ``length``."""
    top = math.log(length) / math.log(2.0)
    half_life = 2 ** torch.linspace(3.0, top, features, device=distance.device)
    return torch.exp(-math.log(2.0) / half_life * distance.abs()[:, None])


def _central_mask_features(distance: Tensor, features: int, growth: float = 2.0) -> Tensor:
    """1 where ``|distance|`` is under ``growth**k - 1``, for k = 1..features."""
    exponents = torch.arange(1, features + 1, device=distance.device)
    widths = torch.pow(growth, exponents).float() - 1
    return (widths[None] > distance.abs()[:, None]).float()


def _gamma_features(distance: Tensor, features: int, length: int) -> Tensor:
    """Gamma densities over ``|distance|`` with means spread up to ``length``.

    Each row is scaled so that its largest feature is 1.
    """
    spread = length / (2 * features)
    mean = torch.linspace(length / features, length, features, device=distance.device)[None]
    shape, rate = (mean / spread) ** 2, mean / spread**2
    x = distance.float().abs()[:, None]
    log_density = (
        torch.xlogy(shape - 1.0, x) - rate * x - (torch.lgamma(shape) - shape * torch.log(rate))
    )
    density = torch.exp(log_density) + 1e-8
    return density / density.amax(-1, keepdim=True)


ENFORMER_POSITION_KINDS = ("exponential", "central_mask", "gamma")
"""The relative-position feature kinds of Enformer; Borzoi uses the central mask alone."""


def relative_position_features(
    length: int,
    size: int,
    device: torch.device,
    kinds: Sequence[str] = ENFORMER_POSITION_KINDS,
    central_growth: float = 2.0,
) -> Tensor:
    """Features of every relative distance ``-(length - 1) .. length - 1``.

    ``size // (2 * len(kinds))`` features of each kind (exponential, central mask, gamma),
    then the same multiplied by the distance's sign.

    Args:
        length (int): sequence length.
        size (int): features per distance.
        device (torch.device): where to build them.
        kinds (Sequence[str]): the feature kinds, in order.
        central_growth (float): ratio between successive central-mask widths (plus one).

    Returns:
        Tensor: ``(2 * length - 1, size)``.
    """
    distance = torch.arange(-length + 1, length, device=device)
    per_kind = size // (2 * len(kinds))
    builders = {
        "exponential": lambda: _exponential_features(distance, per_kind, length),
        "central_mask": lambda: _central_mask_features(distance, per_kind, central_growth),
        "gamma": lambda: _gamma_features(distance, per_kind, length),
    }
    unsigned = torch.cat([builders[kind]() for kind in kinds], dim=-1)
    return torch.cat([unsigned, torch.sign(distance)[:, None] * unsigned], dim=-1)


class RelativeAttention(nn.Module):
    """Multi-head self-attention with Transformer-XL style relative position logits.

    Args:
        dim (int): model width.
        heads (int): attention heads.
        key_size (int): query/key size per head.
        dropout (float): dropout on the attention weights.
        position_dropout (float): dropout on the relative-position features.
        value_size (int | None): value size per head; None: ``dim // heads``.
        position_size (int | None): relative-position features; None: ``dim // heads``.
        position_kinds (Sequence[str]): the feature kinds (see
            `relative_position_features`).
        central_growth (float): ratio between successive central-mask widths.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        key_size: int,
        dropout: float = 0.0,
        position_dropout: float = 0.0,
        *,
        value_size: int | None = None,
        position_size: int | None = None,
        position_kinds: Sequence[str] = ENFORMER_POSITION_KINDS,
        central_growth: float = 2.0,
    ) -> None:
        super().__init__()
        self.heads, self.key_size = heads, key_size
        self.value_size = value_size or dim // heads
        self.position_size = position_size or dim // heads
        self.position_kinds, self.central_growth = tuple(position_kinds), central_growth
        self.query = nn.Linear(dim, key_size * heads, bias=False)
        self.key = nn.Linear(dim, key_size * heads, bias=False)
        self.value = nn.Linear(dim, self.value_size * heads, bias=False)
        self.output = nn.Linear(self.value_size * heads, dim)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)
        self.relative_key = nn.Linear(self.position_size, key_size * heads, bias=False)
        self.content_bias = nn.Parameter(torch.randn(1, heads, 1, key_size))
        self.position_bias = nn.Parameter(torch.randn(1, heads, 1, key_size))
        self.position_dropout = nn.Dropout(position_dropout)
        self.attention_dropout = nn.Dropout(dropout)

    def _split(self, x: Tensor) -> Tensor:
        """``(batch, n, heads * size)`` → ``(batch, heads, n, size)``."""
        batch, n, _ = x.shape
        return x.view(batch, n, self.heads, -1).transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, n, dim)`` → ``(batch, n, dim)``."""
        batch, n, _ = x.shape
        q = self._split(self.query(x)) * self.key_size**-0.5
        k, v = self._split(self.key(x)), self._split(self.value(x))
        content = (q + self.content_bias) @ k.transpose(-1, -2)
        features = relative_position_features(
            n, self.position_size, x.device, self.position_kinds, self.central_growth
        ).to(x.dtype)
        relative_keys = self.relative_key(self.position_dropout(features))
        relative_keys = relative_keys.view(2 * n - 1, self.heads, -1).transpose(0, 1)
        # (batch, heads, n, 2n - 1): logits of query i for every distance
        by_distance = (q + self.position_bias) @ relative_keys.transpose(-1, -2)
        # Query i looks at key j through distance j - i, stored at column j - i + n - 1.
        rows = torch.arange(n, device=x.device)
        column = rows[None, :] - rows[:, None] + n - 1
        position = by_distance.gather(-1, column.expand(batch, self.heads, n, n))
        weights = self.attention_dropout((content + position).softmax(-1))
        out = (weights @ v).transpose(1, 2).reshape(batch, n, -1)
        return self.output(out)


class TransformerLayer(nn.Module):
    """Pre-norm residual attention, then a pre-norm residual ReLU feed-forward (2x wide).

    Args:
        dim (int): model width.
        heads (int): attention heads.
        key_size (int): query/key size per head.
        dropout (float): dropout after attention and in the feed-forward.
        attention_dropout (float): dropout on attention weights.
        position_dropout (float): dropout on relative-position features.
        attention (nn.Module | None): the attention to use, mapping ``(batch, n, dim)`` to
            the same shape; None builds Enformer's `RelativeAttention` from the sizes.
        norm_eps (float): the layer norms' epsilon (Borzoi uses 1e-3).
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        key_size: int,
        dropout: float,
        attention_dropout: float,
        position_dropout: float,
        *,
        attention: nn.Module | None = None,
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(dim, eps=norm_eps)
        self.attention = attention or RelativeAttention(
            dim, heads, key_size, dropout=attention_dropout, position_dropout=position_dropout
        )
        self.feed_forward_norm = nn.LayerNorm(dim, eps=norm_eps)
        self.feed_forward_in = nn.Linear(dim, 2 * dim)
        self.feed_forward_out = nn.Linear(2 * dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, n, dim)`` → ``(batch, n, dim)``."""
        x = x + self.dropout(self.attention(self.attention_norm(x)))
        hidden = F.relu(self.dropout(self.feed_forward_in(self.feed_forward_norm(x))))
        return x + self.dropout(self.feed_forward_out(hidden))
