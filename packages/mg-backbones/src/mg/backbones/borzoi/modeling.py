"""The Borzoi model: one-hot DNA in, one embedding per 32-bp bin out, plus track heads.

The trunk is a U-Net. Going down: a wide convolution and a max pool, a residual tower of
convolution blocks with max pools between them (32-bp bins at its end), one more pool and
block (64 bp), and a last pool (128 bp). A transformer runs over the 128-bp positions.
Going up: twice a pointwise block, a nearest-neighbour upsampling, the skip connection
from the same resolution (through a pointwise block) added, and a separable convolution.
Then a crop to the central bins and a pointwise block to ``final_channels``, the
embeddings the organism heads read.

A window must be a multiple of 128 residues for the skip connections to line up; mg pads
a shorter one with N (all-zero) positions and drops the bins that cover only padding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from mg.backbones.borzoi.config import BorzoiConfig
from mg.backbones.borzoi.layers import (
    NORM_EPS,
    RotaryAttention,
    SeparableConv,
    borzoi_conv_block,
    relative_attention,
    tanh_gelu,
)
from mg.backbones.enformer.layers import TransformerLayer
from mg.backbones.enformer.modeling import crop_to_target


def _pool(x: Tensor) -> Tensor:
    return F.max_pool1d(x, 2)


def _upsample(x: Tensor) -> Tensor:
    return x.repeat_interleave(2, dim=-1)


class BorzoiModel(nn.Module):
    """Borzoi's (or Flashzoi's) trunk and organism heads.

    Args:
        config (BorzoiConfig): the sizes.
    """

    def __init__(self, config: BorzoiConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.stem_channels, *config.tower_channels]
        dim = config.dim
        self.stem = nn.Conv1d(4, config.stem_channels, 15, padding=7)
        self.tower = nn.ModuleList(
            borzoi_conv_block(widths[i], widths[i + 1], 5) for i in range(len(widths) - 1)
        )
        self.unet1 = borzoi_conv_block(widths[-1], dim, 5)
        self.transformer = nn.ModuleList(self._layer(config) for _ in range(config.depth))
        self.horizontal0 = borzoi_conv_block(widths[-1], dim, 1)
        self.horizontal1 = borzoi_conv_block(dim, dim, 1)
        self.up1 = borzoi_conv_block(dim, dim, 1)
        self.separable1 = SeparableConv(dim)
        self.up0 = borzoi_conv_block(dim, dim, 1)
        self.separable0 = SeparableConv(dim)
        self.final = borzoi_conv_block(dim, config.final_channels, 1)
        self.final_dropout = nn.Dropout(0.1)
        tracks = {"human": config.human_tracks, "mouse": config.mouse_tracks}
        enabled = {"human": config.enable_human_head, "mouse": config.enable_mouse_head}
        self.heads = nn.ModuleDict(
            {
                name: nn.Conv1d(config.final_channels, n, 1)
                for name, n in tracks.items()
                if enabled[name]
            }
        )
        self.gradient_checkpointing = False

    @staticmethod
    def _layer(config: BorzoiConfig) -> TransformerLayer:
        if config.flashed:
            attention: nn.Module = RotaryAttention(
                config.dim,
                config.heads,
                config.rotary_dim,
                config.rotary_base,
                dropout=config.attn_dropout,
            )
        else:
            attention = relative_attention(
                config.dim, config.heads, config.attn_dim_key, config.attn_dim_value
            )
        return TransformerLayer(
            config.dim,
            config.heads,
            config.attn_dim_key,
            config.dropout_rate,
            config.attn_dropout,
            config.pos_dropout,
            attention=attention,
            norm_eps=NORM_EPS,
        )

    @property
    def embedding_size(self) -> int:
        """Width of each bin's embedding: ``final_channels``."""
        return self.config.final_channels

    def _transform(self, x: Tensor) -> Tensor:
        for layer in self.transformer:
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(layer, x, use_reentrant=False)
            else:
                x = layer(x)
        return x

    def forward(self, onehot: Tensor, target_length: int | None = None) -> Tensor:
        """Return the trunk's embeddings.

        Args:
            onehot (Tensor): ``(batch, length, 4)`` one-hot A, C, G, T (N all zero).
            target_length (int | None): bins to keep at the centre; None uses the config's
                (``bins_to_return`` when ``return_center_bins_only``), -1 keeps every bin.

        Returns:
            Tensor: ``(batch, bins, final_channels)``, ``ceil(length / 32)`` bins before the
            crop.
        """
        length = onehot.shape[1]
        multiple = self.config.window_multiple
        x = F.pad(onehot.transpose(1, 2), (0, -length % multiple))
        x = _pool(self.stem(x))
        for i, block in enumerate(self.tower):
            x = block(x if i == 0 else _pool(x))
        skip0 = self.horizontal0(x)
        x = self.unet1(_pool(x))
        skip1 = self.horizontal1(x)
        x = self._transform(_pool(x).transpose(1, 2)).transpose(1, 2)
        x = self.separable1(_upsample(self.up1(x)) + skip1)
        x = self.separable0(_upsample(self.up0(x)) + skip0)
        x = x[..., : -(-length // self.config.bin_size)].transpose(1, 2)
        crop = self.config.target_length if target_length is None else target_length
        x = crop_to_target(x, crop).transpose(1, 2)
        x = tanh_gelu(self.final_dropout(self.final(x)))
        return x.transpose(1, 2)

    def predict_tracks(self, embeddings: Tensor, head: str) -> Tensor:
        """Map embeddings to one organism's tracks (softplus, so positive).

        Args:
            embeddings (Tensor): ``(batch, bins, final_channels)`` from `forward`.
            head (str): an organism head (``"human"``, and ``"mouse"`` where enabled).

        Raises:
            KeyError: no such head (the message lists them).
        """
        if head not in self.heads:
            raise KeyError(f"Borzoi has no head {head!r}; it has {sorted(self.heads)}.")
        tracks = self.heads[head](embeddings.transpose(1, 2))
        return F.softplus(tracks).transpose(1, 2)
