"""LoRA adapters in PEFT's own folder format, so they move between mg, PEFT and the Hub.

A PEFT adapter folder holds ``adapter_config.json`` (a `peft.LoraConfig`) and
``adapter_model.safetensors`` (the LoRA weights, keyed ``base_model.model.<module>...``).
`save_peft_adapter` writes one from a model that mg gave LoRA layers; `load_peft_adapter`
adds the LoRA layers a folder describes to a plain model and loads its weights, which is
what ``lora_options: {init_from: FOLDER}`` does. Both read and write data only: JSON and
safetensors, never pickles or code.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
PREFIX = "base_model.model."
"""PEFT keys the weights of a ``PeftModel``: the wrapped model's names after this."""

CONFIG_ATTRIBUTE = "_mg_lora_config"
"""Where `mg.backbones.finetuning.apply_lora` keeps the LoRA config of a model."""


def _peft() -> Any:
    from mg.backbones.finetuning import _import_peft

    return _import_peft()


def read_adapter_config(folder: str | Path) -> Any:
    """Read a PEFT adapter folder's ``adapter_config.json`` as a `peft.LoraConfig`.

    Raises:
        FileNotFoundError: the folder lacks either file.
        ValueError: the config is not JSON, not a LoRA adapter, or has fields this peft
            does not know.
    """
    peft = _peft()
    path = Path(folder)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (path / name).is_file():
            raise FileNotFoundError(
                f"lora_options.init_from: {path} is not a PEFT adapter folder: it has no "
                f"{name} (PEFT's save_pretrained writes {CONFIG_FILE} and {WEIGHTS_FILE})."
            )
    try:
        raw = json.loads((path / CONFIG_FILE).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path / CONFIG_FILE}: not valid JSON ({error}).") from None
    if not isinstance(raw, dict) or raw.get("peft_type", "LORA") != "LORA":
        kind = raw.get("peft_type") if isinstance(raw, dict) else type(raw).__name__
        raise ValueError(f"{path / CONFIG_FILE}: a {kind} adapter; mg loads LoRA adapters only.")
    known = {f.name for f in dataclasses.fields(peft.LoraConfig)}
    unknown = sorted(k for k in raw if k not in known and k != "peft_type")
    if unknown:
        raise ValueError(
            f"{path / CONFIG_FILE}: fields {unknown} are unknown to peft {peft.__version__}; "
            "upgrade peft, or remove them if they are not needed."
        )
    options = {k: v for k, v in raw.items() if k in known and k != "peft_type"}
    return peft.LoraConfig(**options)


def load_peft_adapter(model: nn.Module, folder: str | Path, seed: int = 0) -> Any:
    """Add the LoRA layers of a PEFT adapter folder to ``model`` and load their weights.

    Args:
        model (nn.Module): the plain (base) model the adapter was trained on.
        folder (str | Path): the adapter folder.
        seed (int): seed of the initialisation that the loaded weights then replace.

    Returns:
        peft.LoraConfig: the adapter's config.

    Raises:
        ValueError: the adapter's weights do not fit the model (another base model).
    """
    from safetensors.torch import load_file

    peft = _peft()
    config = read_adapter_config(folder)
    config.inference_mode = False
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            peft.inject_adapter_in_model(config, model)
        except ValueError as error:
            raise ValueError(
                f"{Path(folder) / CONFIG_FILE}: its target_modules {config.target_modules} do "
                f"not fit {type(model).__name__}: {error}"
            ) from None
    state = load_file(str(Path(folder) / WEIGHTS_FILE), device="cpu")
    state = {k.removeprefix(PREFIX): v for k, v in state.items()}
    model.peft_config = {"default": config}
    try:
        result = peft.set_peft_model_state_dict(model, state)
    except RuntimeError as error:  # a size mismatch: another base model or rank
        raise ValueError(
            f"{Path(folder) / WEIGHTS_FILE} does not fit {type(model).__name__}: "
            f"{' '.join(str(error).split())[:300]}"
        ) from None
    finally:
        del model.peft_config
    unexpected = list(getattr(result, "unexpected_keys", []))
    lora_names = {n for n, _ in model.named_parameters() if ".lora_" in n}
    missing = sorted(n for n in lora_names if n in set(getattr(result, "missing_keys", [])))
    if unexpected or missing:
        raise ValueError(
            f"{Path(folder) / WEIGHTS_FILE} does not fit {type(model).__name__}: weights "
            f"for no layer {unexpected[:3]}, layers without weights {missing[:3]}; was the "
            "adapter trained on this base model?"
        )
    setattr(model, CONFIG_ATTRIBUTE, config)
    return config


def save_peft_adapter(model: nn.Module, folder: str | Path) -> Path:
    """Write ``model``'s LoRA layers as a PEFT adapter folder.

    Args:
        model (nn.Module): a model mg gave LoRA layers (``finetune: lora``).
        folder (str | Path): where to write ``adapter_config.json`` and
            ``adapter_model.safetensors``.

    Returns:
        Path: the folder.

    Raises:
        ValueError: the model has no LoRA layers added by mg.
    """
    from safetensors.torch import save_file

    peft = _peft()
    config = getattr(model, CONFIG_ATTRIBUTE, None)
    if config is None:
        raise ValueError(
            f"{type(model).__name__} has no LoRA layers from mg: train with finetune: lora "
            "to save a PEFT adapter."
        )
    model.peft_config = {"default": config}
    try:
        state = peft.get_peft_model_state_dict(model, save_embedding_layers=False)
    finally:
        del model.peft_config
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {PREFIX + k: v.detach().cpu().contiguous() for k, v in state.items()}
    save_file(tensors, str(out / WEIGHTS_FILE), metadata={"format": "pt"})
    saved = dataclasses.replace(config, inference_mode=True)
    saved.save_pretrained(str(out))
    return out
