"""Read and write Borzoi and Flashzoi weights in the published layout, as data.

The published checkpoints hold borzoi-pytorch's module names (``conv_dna.conv_layer.weight``,
``res_tower.2.norm.running_mean``, ``transformer.3.0.fn.1.to_q.weight``, ...). mg's
modules have names of their own; the prefix pairs below translate between the two, both
ways. Flashzoi fuses its query, key and value projections into one (``mha.Wqkv``), which
mg splits on reading and joins on writing.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import Tensor

from mg.backbones.borzoi.config import BorzoiConfig
from mg.backbones.borzoi.modeling import BorzoiModel
from mg.backbones.loading import BackboneLoadError, load_exact_state, read_weights

_FUSED = "mha.Wqkv."
_PROJECTIONS = ("query", "key", "value")


def _block(published: str, mine: str) -> list[tuple[str, str]]:
    """The pairs of one convolution block (batch norm, then convolution)."""
    return [(f"{published}.norm.", f"{mine}.norm."), (f"{published}.conv_layer.", f"{mine}.conv.")]


def _prefixes(config: BorzoiConfig) -> list[tuple[str, str]]:
    """(published prefix, mg prefix) for every module of a model with this config."""
    pairs = [("conv_dna.conv_layer.", "stem.")]
    for k in range(len(config.tower_channels)):  # the pools sit at the odd positions
        pairs += _block(f"res_tower.{2 * k}", f"tower.{k}")
    pairs += _block("unet1.1", "unet1")
    for i in range(config.depth):
        old, new = f"transformer.{i}.", f"transformer.{i}."
        pairs.append((old + "0.fn.0.", new + "attention_norm."))
        attention = old + "0.fn.1."
        if config.flashed:
            pairs.append((attention + "mha.out_proj.", new + "attention.output."))
        else:
            for theirs, ours in [
                ("to_q.", "query."),
                ("to_k.", "key."),
                ("to_v.", "value."),
                ("to_out.", "output."),
                ("to_rel_k.", "relative_key."),
                ("rel_content_bias", "content_bias"),
                ("rel_pos_bias", "position_bias"),
            ]:
                pairs.append((attention + theirs, new + "attention." + ours))
        pairs.append((old + "1.fn.0.", new + "feed_forward_norm."))
        pairs.append((old + "1.fn.1.", new + "feed_forward_in."))
        pairs.append((old + "1.fn.4.", new + "feed_forward_out."))
    for side in ("0", "1"):
        pairs += _block(f"horizontal_conv{side}", f"horizontal{side}")
        pairs += _block(f"upsampling_unet{side}.0", f"up{side}")
        pairs.append((f"separable{side}.conv_layer.0.", f"separable{side}.depthwise."))
        pairs.append((f"separable{side}.conv_layer.1.", f"separable{side}.pointwise."))
    pairs += _block("final_joined_convs.0", "final")
    pairs += [("human_head.", "heads.human."), ("mouse_head.", "heads.mouse.")]
    return pairs


def _rename(key: str, pairs: list[tuple[str, str]], source: int) -> str | None:
    for pair in pairs:
        if key.startswith(pair[source]):
            return pair[1 - source] + key[len(pair[source]) :]
    return None


def _split_sizes(config: BorzoiConfig) -> list[int]:
    head = config.dim // config.heads
    return [config.dim, head * (config.heads // 2), head * (config.heads // 2)]


def from_published(state: dict[str, Tensor], config: BorzoiConfig) -> dict[str, Tensor]:
    """Rename a published state dict to mg's module names (splitting Flashzoi's ``Wqkv``).

    Raises:
        ValueError: a key no rule knows (for instance Flashzoi weights under a config
            without ``flashed``).
    """
    pairs = _prefixes(config)
    out: dict[str, Tensor] = {}
    unknown = []
    for key, value in state.items():
        layer, fused, part = key.partition(_FUSED)
        if fused and config.flashed and layer.startswith("transformer."):
            target = layer.replace(".0.fn.1.", ".attention.")
            sizes = _split_sizes(config)
            if value.shape[0] != sum(sizes):
                raise ValueError(f"{key} has {value.shape[0]} rows; the config asks {sum(sizes)}")
            for name, piece in zip(_PROJECTIONS, value.split(sizes), strict=True):
                out[f"{target}{name}.{part}"] = piece
            continue
        mg_key = _rename(key, pairs, 0)
        if mg_key is None:
            unknown.append(key)
        else:
            out[mg_key] = value
    if unknown:
        raise ValueError(f"The weights hold keys this Borzoi config does not have: {unknown[:5]}.")
    return out


def to_published(state: dict[str, Tensor], config: BorzoiConfig) -> dict[str, Tensor]:
    """Rename mg's state dict to the published module names (joining Flashzoi's ``Wqkv``)."""
    pairs = _prefixes(config)
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        prefix, _, projection = key.rpartition(".attention.")
        name, _, part = projection.partition(".")
        if config.flashed and prefix and name in _PROJECTIONS:
            if name == "query":  # written once, from all three
                pieces = [state[f"{prefix}.attention.{p}.{part}"] for p in _PROJECTIONS]
                out[f"{prefix}.0.fn.1.{_FUSED}{part}"] = torch.cat(pieces)
            continue
        published = _rename(key, pairs, 1)
        if published is None:
            raise ValueError(f"mg's Borzoi has a weight {key!r} with no published name.")
        out[published] = value
    return out


def load_model(folder: Path) -> BorzoiModel:
    """Build the model from ``config.json`` and load its weights; every key must match.

    The weights are read as data (safetensors, or a weights-only pickle); nothing else in
    the folder is read.

    Raises:
        BackboneLoadError: the config or the weights do not fit Borzoi (the message says
            which keys are missing or left over).
    """
    try:
        config = BorzoiConfig.from_file(folder / "config.json")
    except (ValueError, TypeError) as error:
        raise BackboneLoadError(str(error)) from error
    model = BorzoiModel(config)
    try:
        state = from_published(read_weights(folder), config)
    except ValueError as error:
        raise BackboneLoadError(f"{folder}: {error}") from error
    load_exact_state(model, state, str(folder), "Borzoi")
    return model


def save_model(model: BorzoiModel, folder: Path) -> Path:
    """Write ``config.json`` and ``model.safetensors`` in the published layout.

    Returns:
        Path: the folder.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(model.config.to_dict(), indent=2) + "\n")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(to_published(state, model.config), folder / "model.safetensors")
    return folder
