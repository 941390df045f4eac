"""The Borzoi configuration: the fields of the published ``config.json``, plus the widths.

The published checkpoints (``johahi/borzoi-replicate-0``, ``johahi/flashzoi-replicate-0``)
were written by borzoi-pytorch, whose config is a transformers ``PretrainedConfig``; mg reads
the same file as plain data. borzoi-pytorch fixes the convolution widths and track counts in
its code; mg reads them from the config too (``stem_channels``, ``tower_channels``,
``final_channels``, ``human_tracks``, ``mouse_tracks``, ``rotary_dim``), with the published
values as defaults, so a published ``config.json`` (which lacks them) reads as before and a
tiny model can be small everywhere.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from mg.backbones.enformer.config import _BOOKKEEPING

PUBLISHED_TOWER = (608, 736, 896, 1056, 1280)
"""Channels of the published residual tower's five convolution blocks."""


@cache
def _generic_config_keys() -> frozenset[str]:
    """Keys every transformers config writes (borzoi-pytorch's config is one)."""
    from transformers import PretrainedConfig

    return frozenset(PretrainedConfig().to_dict()) | _BOOKKEEPING


@dataclass
class BorzoiConfig:
    """Sizes and options of a Borzoi or Flashzoi model.

    Attributes:
        dim (int): width of the transformer and of the U-Net's upsampling path.
        depth (int): transformer layers.
        heads (int): attention heads.
        attn_dim_key (int): query/key size per head (Borzoi's relative attention).
        attn_dim_value (int): value size per head (Borzoi's relative attention).
        dropout_rate (float): dropout in the transformer.
        attn_dropout (float): dropout on attention weights.
        pos_dropout (float): dropout on the relative-position features.
        return_center_bins_only (bool): the reference crops to ``bins_to_return`` bins.
        bins_to_return (int): bins kept at the centre when ``return_center_bins_only``.
        enable_human_head (bool): the model has a human track head.
        enable_mouse_head (bool): the model has a mouse track head.
        flashed (bool): Flashzoi: rotary attention with half as many key/value heads
            instead of Borzoi's relative-position attention.
        stem_channels (int): channels of the first convolution.
        tower_channels (list[int]): channels of the residual tower's five blocks; the
            window halves before each but the first, and once in the stem: 32-bp bins.
        final_channels (int): width of the embeddings the heads read.
        human_tracks (int): tracks of the human head.
        mouse_tracks (int): tracks of the mouse head.
        rotary_dim (int): leading features of each Flashzoi head that rotate.
        rotary_base (float): base of the rotary frequencies.
    """

    dim: int = 1536
    depth: int = 8
    heads: int = 8
    attn_dim_key: int = 64
    attn_dim_value: int = 192
    dropout_rate: float = 0.2
    attn_dropout: float = 0.05
    pos_dropout: float = 0.01
    return_center_bins_only: bool = True
    bins_to_return: int = 6144
    enable_human_head: bool = True
    enable_mouse_head: bool = False
    flashed: bool = False
    stem_channels: int = 512
    tower_channels: list[int] = field(default_factory=lambda: list(PUBLISHED_TOWER))
    final_channels: int = 1920
    human_tracks: int = 7611
    mouse_tracks: int = 2608
    rotary_dim: int = 128
    rotary_base: float = 20000.0

    def __post_init__(self) -> None:
        self.tower_channels = list(self.tower_channels)
        problems = []
        if self.dim < 1 or self.heads < 1 or self.depth < 0:
            problems.append("dim and heads must be positive and depth not negative")
        if len(self.tower_channels) != 5 or min(self.tower_channels) < 1:
            problems.append(
                f"tower_channels ({self.tower_channels}) must be five positive widths (the "
                "tower's blocks, which make the 32-bp bins)"
            )
        if self.flashed:
            if self.dim % self.heads or self.heads % 2:
                problems.append(
                    f"Flashzoi needs an even number of heads ({self.heads}) dividing dim "
                    f"({self.dim})"
                )
            elif self.rotary_dim % 2 or not 0 < self.rotary_dim <= self.dim // self.heads:
                problems.append(
                    f"rotary_dim ({self.rotary_dim}) must be even and at most the head size "
                    f"({self.dim // self.heads})"
                )
        if self.bins_to_return < 1 and self.bins_to_return != -1:
            problems.append(f"bins_to_return ({self.bins_to_return}) must be positive or -1")
        if problems:
            raise ValueError("Invalid Borzoi config: " + "; ".join(problems) + ".")

    @property
    def bin_size(self) -> int:
        """Residues per output bin: ``2 ** len(tower_channels)``, 32."""
        return 2 ** len(self.tower_channels)

    @property
    def window_multiple(self) -> int:
        """Residues a window must be a multiple of: twice more halvings than the bins."""
        return 4 * self.bin_size

    @property
    def target_length(self) -> int:
        """Bins the reference keeps by default: ``bins_to_return``, or all (-1)."""
        return self.bins_to_return if self.return_center_bins_only else -1

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "config") -> BorzoiConfig:
        """Build a config from ``config.json``'s values.

        Raises:
            ValueError: the file is not a Borzoi config, or names a field Borzoi lacks.
        """
        kind = values.get("model_type", "borzoi")
        if kind != "borzoi":
            raise ValueError(
                f"{where} is a {kind!r} config, not a Borzoi one: point model_path at a "
                "folder written for Borzoi or Flashzoi (config.json with model_type 'borzoi')."
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known - _generic_config_keys())
        if unknown:
            raise ValueError(
                f"{where} holds {unknown}, which Borzoi's config does not have; remove them."
            )
        return cls(**{k: v for k, v in values.items() if k in known})

    @classmethod
    def from_file(cls, path: str | Path) -> BorzoiConfig:
        """Read a ``config.json``."""
        return cls.from_dict(json.loads(Path(path).read_text()), where=str(path))

    def to_dict(self) -> dict[str, Any]:
        """Return the values as ``config.json`` holds them (with the model type)."""
        return {"model_type": "borzoi", **dataclasses.asdict(self)}
