"""Fine-tuning modes: full, frozen, and LoRA through peft.

``full`` trains every backbone weight; ``frozen`` trains none (the backbone is a fixed
feature extractor); ``lora`` freezes the pretrained weights and trains low-rank updates
added to the chosen linear layers. peft is an optional dependency, imported only when
LoRA is asked for: ``pip install 'mg-backbones[peft]'``.

With ``frozen`` and ``lora`` the task's checkpoints keep only the trainable weights (the
default of `mg.core.BackboneInterface.on_save_checkpoint`); the rest come back from the
pretrained weights when the task is rebuilt.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from mg.backbones.peft_format import CONFIG_ATTRIBUTE

FinetuneMode = Literal["full", "frozen", "lora"]
"""How a backbone's weights are trained."""

PEFT_MISSING = (
    "finetune='lora' needs the peft package, which is not installed: "
    "pip install 'mg-backbones[peft]'"
)


@dataclass(frozen=True)
class LoraSettings:
    """LoRA hyper-parameters.

    Attributes:
        r (int): rank of the low-rank update.
        alpha (int): scaling numerator; the update is scaled by ``alpha / r``.
        dropout (float): dropout on the LoRA input.
        target_modules (tuple[str, ...] | None): names (or name suffixes) of the linear
            layers to adapt; None lets peft pick by model type.
        seed (int): seed of the LoRA weights' initialisation, so a rebuilt backbone
            starts from the same weights.
        use_rslora (bool): rank-stabilised LoRA: scale the update by ``alpha / sqrt(r)``
            instead of ``alpha / r``, which keeps high ranks learning.
        target_pattern (str | None): a regular expression that the full module name
            (``encoder.layer.3.attention.self.query``) must match, instead of
            ``target_modules``: e.g. ``.*layer[.](4|5)[.].*(query|value)`` adapts the
            last two of six layers only.
        modules_to_save (tuple[str, ...] | None): names (or name suffixes) of modules
            trained in full beside the LoRA layers (e.g. a classifier or the embeddings);
            they are kept in checkpoints and in merged exports.
        use_dora (bool): DoRA: learn each adapted weight's magnitude apart from the
            low-rank update of its direction.
        init_from (str | None): a PEFT adapter folder (``adapter_config.json`` and
            ``adapter_model.safetensors``) to start from; its config then sets the rank,
            alpha, targets and variants (see `mg.backbones.peft_format`).
    """

    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] | None = None
    seed: int = 0
    use_rslora: bool = False
    target_pattern: str | None = None
    modules_to_save: tuple[str, ...] | None = None
    use_dora: bool = False
    init_from: str | None = None


def _import_peft() -> Any:
    try:
        import peft
    except ImportError as error:
        raise ImportError(PEFT_MISSING) from error
    return peft


def freeze(module: nn.Module) -> None:
    """Make every parameter of ``module`` untrainable."""
    module.requires_grad_(False)


def _linear_names(model: nn.Module, limit: int = 12) -> list[str]:
    names = sorted(
        {name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    )
    return names[:limit]


def apply_lora(model: nn.Module, settings: LoraSettings) -> list[str]:
    """Add LoRA layers to ``model`` in place and make only their weights trainable.

    The model keeps its class and module layout, so it is called exactly as before.

    Args:
        model (nn.Module): a Hugging Face model.
        settings (LoraSettings): rank, alpha, dropout, targets.

    Returns:
        list[str]: names of the trainable (LoRA) parameters.

    Raises:
        ImportError: peft is not installed (the message says how to install it).
        ValueError: the target modules are missing or match no layer, both
            ``target_modules`` and ``target_pattern`` are set, or a module to save is
            not in the model.
    """
    peft = _import_peft()
    if settings.init_from is not None:
        return _apply_saved_lora(model, settings)
    targets: list[str] | str | None = (
        list(settings.target_modules) if settings.target_modules else None
    )
    if settings.target_pattern is not None:
        if targets:
            raise ValueError(
                f"Give LoRA target modules by name ({targets}) or by pattern "
                f"({settings.target_pattern!r}), not both."
            )
        targets = settings.target_pattern  # peft reads a string as a full-match regex
    saved = _modules_to_save(model, settings.modules_to_save or ())
    config = peft.LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
        use_rslora=settings.use_rslora,
        use_dora=settings.use_dora,
        bias="none",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        try:
            peft.inject_adapter_in_model(config, model)
        except ValueError as error:
            raise ValueError(
                f"LoRA could not be added with lora_target_modules={targets}: {error} Set "
                "lora_target_modules to names of linear layers in the model, e.g. "
                f"{_linear_names(model)}."
            ) from error
    # inject_adapter_in_model leaves a peft_config attribute; save_pretrained must not see it.
    if hasattr(model, "peft_config"):
        del model.peft_config
    setattr(model, CONFIG_ATTRIBUTE, config)  # for save_peft_adapter
    return _train_lora_only(model, saved)


def _apply_saved_lora(model: nn.Module, settings: LoraSettings) -> list[str]:
    """Start from a PEFT adapter folder: its LoRA layers and weights, its config."""
    from mg.backbones.peft_format import load_peft_adapter

    saved = _modules_to_save(model, settings.modules_to_save or ())
    config = load_peft_adapter(model, settings.init_from, settings.seed)
    targets = sorted(config.target_modules) if config.target_modules else "peft's default"
    print(
        f"LoRA from {settings.init_from}: r={config.r}, alpha={config.lora_alpha}, "
        f"targets {targets}, use_dora={config.use_dora} (its adapter_config.json sets these; "
        "lora_r, lora_alpha and lora_target_modules are not used).",
        file=sys.stderr,
        flush=True,
    )
    return _train_lora_only(model, saved)


def _train_lora_only(model: nn.Module, saved: list[nn.Module]) -> list[str]:
    freeze(model)
    for name, parameter in model.named_parameters():
        if ".lora_" in name:
            parameter.requires_grad_(True)
    for module in saved:
        module.requires_grad_(True)
    return [name for name, parameter in model.named_parameters() if parameter.requires_grad]


def _modules_to_save(model: nn.Module, names: Sequence[str]) -> list[nn.Module]:
    """Find the modules named (or name-suffixed) in ``names``; each name must match one.

    They stay plain modules trained in place (rather than peft's wrapped copies), so the
    model keeps its layout and a merged export holds their trained weights.
    """
    found: list[nn.Module] = []
    for wanted in names:
        matches = [
            module
            for name, module in model.named_modules()
            if name == wanted or name.endswith(f".{wanted}")
        ]
        if not matches:
            top = sorted({name.split(".")[0] for name, _ in model.named_modules() if name})
            raise ValueError(
                f"lora_modules_to_save names {wanted!r}, which is not a module of "
                f"{type(model).__name__}; its top-level modules are {top}."
            )
        found += matches
    return found


def apply_finetune_mode(model: nn.Module, mode: FinetuneMode, lora: LoraSettings) -> None:
    """Set which weights of ``model`` train, for ``"full"``, ``"frozen"`` or ``"lora"``.

    Raises:
        ValueError: an unknown mode.
    """
    if mode == "full":
        return
    if mode == "frozen":
        freeze(model)
    elif mode == "lora":
        apply_lora(model, lora)
    else:
        raise ValueError(f"finetune must be 'full', 'frozen' or 'lora', not {mode!r}.")


def has_lora(model: nn.Module) -> bool:
    """Whether ``model`` holds LoRA layers."""
    return any(".lora_" in name for name, _ in model.named_parameters())


def merged_copy(model: nn.Module) -> nn.Module:
    """Return a copy of ``model`` with its LoRA updates merged into the base weights.

    The copy has the plain layers of the original architecture, so ``save_pretrained``
    writes a checkpoint any transformers user can load.
    """
    peft = _import_peft()
    merged = copy.deepcopy(model)
    for name, module in list(merged.named_modules()):
        if isinstance(module, peft.tuners.lora.LoraLayer):
            module.merge()
            parent_name, _, attribute = name.rpartition(".")
            parent = merged.get_submodule(parent_name) if parent_name else merged
            setattr(parent, attribute, module.get_base_layer())
    return merged


def default_targets(
    user: Sequence[str] | None, family: Sequence[str] | None
) -> tuple[str, ...] | None:
    """Return the user's LoRA target modules, else the family's default."""
    if user:
        return tuple(user)
    return tuple(family) if family else None
