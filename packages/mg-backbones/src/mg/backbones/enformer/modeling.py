"""The Enformer model: one-hot DNA in, one embedding per 128-bp bin out, plus track heads.

The trunk is a convolutional stem, a tower of convolution stages that each halve the
length (attention pooling), a transformer with relative positions over the bins, a crop
to the central ``target_length`` bins and a final pointwise convolution to ``2 * dim``
channels. The heads (one per organism) map each bin's embedding to positive track values.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from mg.backbones.enformer.config import EnformerConfig
from mg.backbones.enformer.layers import AttentionPool, ConvBlock, TransformerLayer, sigmoid_gelu


class Stem(nn.Module):
    """A wide convolution on the one-hot input, a residual pointwise block, a pool."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, channels, 15, padding=7)
        self.block = ConvBlock(channels, channels, 1)
        self.pool = AttentionPool(channels)

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, 4, length)`` → ``(batch, channels, ceil(length / 2))``."""
        x = self.conv(x)
        return self.pool(x + self.block(x))


class TowerStage(nn.Module):
    """A width-5 convolution block, a residual pointwise block, a pool."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.block = ConvBlock(channels_in, channels_out, 5)
        self.pointwise = ConvBlock(channels_out, channels_out, 1)
        self.pool = AttentionPool(channels_out)

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, channels_in, n)`` → ``(batch, channels_out, ceil(n / 2))``."""
        x = self.block(x)
        return self.pool(x + self.pointwise(x))


def crop_to_target(x: Tensor, target_length: int) -> Tensor:
    """Keep the central ``target_length`` bins of ``(batch, bins, dim)`` (-1 keeps all).

    As the reference does, an odd surplus drops one more bin on each side.

    Raises:
        ValueError: the window has fewer bins than ``target_length``.
    """
    bins = x.shape[1]
    if target_length == -1:
        return x
    if bins < target_length:
        raise ValueError(
            f"The window gives {bins} bins, fewer than target_length={target_length}: give "
            "longer windows or a smaller target_length."
        )
    cut = (bins - target_length + 1) // 2
    return x if cut == 0 else x[:, cut : bins - cut]


class EnformerModel(nn.Module):
    """Enformer's trunk and organism heads.

    Args:
        config (EnformerConfig): the sizes.
    """

    def __init__(self, config: EnformerConfig) -> None:
        super().__init__()
        self.config = config
        widths = config.tower_widths()
        self.stem = Stem(widths[0])
        self.conv_tower = nn.ModuleList(TowerStage(a, b) for a, b in itertools.pairwise(widths))
        self.transformer = nn.ModuleList(
            TransformerLayer(
                config.dim,
                config.heads,
                config.attn_dim_key,
                config.dropout_rate,
                config.attn_dropout,
                config.pos_dropout,
            )
            for _ in range(config.depth)
        )
        self.final = ConvBlock(widths[-1], 2 * config.dim, 1)
        self.final_dropout = nn.Dropout(config.dropout_rate / 8)
        self.heads = nn.ModuleDict(
            {name: nn.Linear(2 * config.dim, n) for name, n in config.output_heads.items()}
        )
        self.target_length = config.target_length
        self.gradient_checkpointing = config.use_checkpointing

    @property
    def embedding_size(self) -> int:
        """Width of each bin's embedding: ``2 * dim``."""
        return 2 * self.config.dim

    def forward(self, onehot: Tensor, target_length: int | None = None) -> Tensor:
        """Return the trunk's embeddings.

        Args:
            onehot (Tensor): ``(batch, length, 4)`` one-hot A, C, G, T (N all zero).
            target_length (int | None): bins to keep at the centre; None uses the model's
                ``target_length``, -1 keeps every bin.

        Returns:
            Tensor: ``(batch, bins, 2 * dim)``.
        """
        x = self.stem(onehot.transpose(1, 2))
        for stage in self.conv_tower:
            x = stage(x)
        x = x.transpose(1, 2)
        for layer in self.transformer:
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(layer, x, use_reentrant=False)
            else:
                x = layer(x)
        x = crop_to_target(x, self.target_length if target_length is None else target_length)
        x = self.final(x.transpose(1, 2)).transpose(1, 2)
        return sigmoid_gelu(self.final_dropout(x))

    def predict_tracks(self, embeddings: Tensor, head: str) -> Tensor:
        """Map embeddings to one organism's tracks (softplus, so positive).

        Args:
            embeddings (Tensor): ``(batch, bins, 2 * dim)`` from `forward`.
            head (str): an organism head (``"human"`` or ``"mouse"`` in the published model).

        Raises:
            KeyError: no such head (the message lists them).
        """
        if head not in self.heads:
            raise KeyError(f"Enformer has no head {head!r}; it has {sorted(self.heads)}.")
        return F.softplus(self.heads[head](embeddings))
