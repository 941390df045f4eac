"""Read and write Enformer weights in the published layout, as data.

The published checkpoint (``EleutherAI/enformer-official-rough``) holds enformer-pytorch's
module names (``stem.1.fn.0.weight``, ``transformer.3.0.fn.1.to_q.weight``, ...) in
``pytorch_model.bin``, some of them twice (``_trunk.*`` names the same tensors); newer
saves write ``model.safetensors`` with one name each. mg's modules have names of their
own; the rules below translate between the two, both ways.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import Tensor

from mg.backbones.enformer.config import EnformerConfig
from mg.backbones.enformer.modeling import EnformerModel
from mg.backbones.loading import BackboneLoadError, load_exact_state, read_weights

# (published prefix, mg prefix); "{i}" is a layer number, "{name}" a head name.
_RULES: tuple[tuple[str, str], ...] = (
    ("stem.0.", "stem.conv."),
    ("stem.1.fn.0.", "stem.block.norm."),
    ("stem.1.fn.2.", "stem.block.conv."),
    ("stem.2.to_attn_logits.", "stem.pool.logits."),
    ("conv_tower.{i}.0.0.", "conv_tower.{i}.block.norm."),
    ("conv_tower.{i}.0.2.", "conv_tower.{i}.block.conv."),
    ("conv_tower.{i}.1.fn.0.", "conv_tower.{i}.pointwise.norm."),
    ("conv_tower.{i}.1.fn.2.", "conv_tower.{i}.pointwise.conv."),
    ("conv_tower.{i}.2.to_attn_logits.", "conv_tower.{i}.pool.logits."),
    ("transformer.{i}.0.fn.0.", "transformer.{i}.attention_norm."),
    ("transformer.{i}.0.fn.1.to_q.", "transformer.{i}.attention.query."),
    ("transformer.{i}.0.fn.1.to_k.", "transformer.{i}.attention.key."),
    ("transformer.{i}.0.fn.1.to_v.", "transformer.{i}.attention.value."),
    ("transformer.{i}.0.fn.1.to_out.", "transformer.{i}.attention.output."),
    ("transformer.{i}.0.fn.1.to_rel_k.", "transformer.{i}.attention.relative_key."),
    ("transformer.{i}.0.fn.1.rel_content_bias", "transformer.{i}.attention.content_bias"),
    ("transformer.{i}.0.fn.1.rel_pos_bias", "transformer.{i}.attention.position_bias"),
    ("transformer.{i}.1.fn.0.", "transformer.{i}.feed_forward_norm."),
    ("transformer.{i}.1.fn.1.", "transformer.{i}.feed_forward_in."),
    ("transformer.{i}.1.fn.4.", "transformer.{i}.feed_forward_out."),
    ("final_pointwise.1.0.", "final.norm."),
    ("final_pointwise.1.2.", "final.conv."),
    ("_heads.{name}.0.", "heads.{name}."),
)

# enformer-pytorch's ``_trunk`` sequential holds the same modules under numbers.
_TRUNK_ALIASES = {
    "_trunk.1.": "stem.",
    "_trunk.2.": "conv_tower.",
    "_trunk.4.": "transformer.",
    "_trunk.6.": "final_pointwise.",
}

_SLOTS = {"{i}": r"(?P<i>\d+)", "{name}": r"(?P<name>[^.]+)"}


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.escape(template)
    for slot, group in _SLOTS.items():
        pattern = pattern.replace(re.escape(slot), group)
    return re.compile(pattern)


def _translate(key: str, source: int) -> str | None:
    """Translate a key from one layout to the other (source 0: published, 1: mg)."""
    for rule in _RULES:
        match = _compile(rule[source]).match(key)
        if match:
            target = rule[1 - source]
            for slot, value in match.groupdict().items():
                target = target.replace("{" + slot + "}", value)
            return target + key[match.end() :]
    return None


def from_published(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename a published state dict to mg's module names.

    Raises:
        ValueError: a key no rule knows, or a ``_trunk`` alias that differs from its twin.
    """
    out: dict[str, Tensor] = {}
    unknown = []
    for key, value in state.items():
        for alias, name in _TRUNK_ALIASES.items():
            if key.startswith(alias):
                key = name + key[len(alias) :]
                break
        mg_key = _translate(key, 0)
        if mg_key is None:
            unknown.append(key)
            continue
        if mg_key in out and not torch.equal(out[mg_key], value):
            raise ValueError(f"The weights name {key!r} twice with different values.")
        out[mg_key] = value
    if unknown:
        raise ValueError(f"The weights hold keys Enformer does not have: {unknown[:5]}.")
    return out


def to_published(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename mg's state dict to the published module names (one name per tensor)."""
    out = {}
    for key, value in state.items():
        published = _translate(key, 1)
        if published is None:
            raise ValueError(f"mg's Enformer has a weight {key!r} with no published name.")
        out[published] = value
    return out


def load_model(folder: Path) -> EnformerModel:
    """Build the model from ``config.json`` and load its weights; every key must match.

    Raises:
        BackboneLoadError: the config or the weights do not fit Enformer (the message says
            which keys are missing or left over).
    """
    try:
        config = EnformerConfig.from_file(folder / "config.json")
    except (ValueError, TypeError) as error:
        raise BackboneLoadError(str(error)) from error
    model = EnformerModel(config)
    try:
        state = from_published(read_weights(folder))
    except ValueError as error:
        raise BackboneLoadError(f"{folder}: {error}") from error
    load_exact_state(model, state, str(folder), "Enformer")
    return model


def save_model(model: EnformerModel, folder: Path) -> Path:
    """Write ``config.json`` and ``model.safetensors`` in the published layout.

    Returns:
        Path: the folder.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(model.config.to_dict(), indent=2) + "\n")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(to_published(state), folder / "model.safetensors")
    return folder
