"""Optional packages a config needs, found in its text before anything is built.

``finetune: lora`` needs peft, a TensorBoard logger needs tensorboard, Parquet files need
pyarrow. Without this check the error would come after the backbone's weights load, or
after the first epoch; with it, ``mg check`` and every training command stop first, in one
line naming the option and the install command.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any


@dataclass(frozen=True)
class Need:
    """An optional package, and the install command that brings it."""

    modules: tuple[str, ...]
    """Import names; any one of them present is enough."""
    install: str


PEFT = Need(("peft",), "pip install 'mg-backbones[peft]'")
PYARROW = Need(("pyarrow",), "pip install 'mg-tasks[parquet]'")
PYARROW_OUTPUT = Need(("pyarrow",), "pip install 'mg-cli[parquet]'")
"""Parquet predictions (``mg predict --output x.parquet``) are written by mg-cli."""
LOGGERS = {
    "TensorBoardLogger": Need(("tensorboard", "tensorboardX"), "pip install tensorboard"),
    "WandbLogger": Need(("wandb",), "pip install wandb"),
    "MLFlowLogger": Need(("mlflow",), "pip install mlflow"),
    "CometLogger": Need(("comet_ml",), "pip install comet-ml"),
    "NeptuneLogger": Need(("neptune",), "pip install neptune"),
}
"""Lightning loggers (by class name) and the package each writes with."""


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted key, value) leaf of a parsed config."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")
    else:
        yield path, node


def needed(config: dict[str, Any]) -> list[tuple[str, Need]]:
    """The optional packages a parsed config needs, each with the option that asks for it.

    Args:
        config (dict[str, Any]): the config as a plain dict (``Namespace.as_dict()``).

    Returns:
        list[tuple[str, Need]]: ``("model.init_args.backbone.init_args.finetune: lora",
        PEFT)`` and the like, in config order.
    """
    found = []
    for key, value in _walk(config):
        leaf = key.rsplit(".", 1)[-1]
        if leaf == "finetune" and value == "lora":
            found.append((f"{key}: lora", PEFT))
        elif leaf == "class_path" and isinstance(value, str):
            need = LOGGERS.get(value.rsplit(".", 1)[-1])
            if need is not None:
                found.append((f"{key}: {value.rsplit('.', 1)[-1]}", need))
        elif isinstance(value, str) and value.lower().endswith((".parquet", ".pq")):
            found.append((f"{key}: {value}", PYARROW_OUTPUT if leaf == "output" else PYARROW))
    return found


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError, AttributeError):  # a broken or blocked entry
        return False


def missing(config: dict[str, Any]) -> list[str]:
    """One message per optional package the config needs and this environment lacks."""
    messages, seen = [], set()
    for option, need in needed(config):
        if need.modules in seen or any(_installed(m) for m in need.modules):
            continue
        seen.add(need.modules)
        messages.append(f"{option} needs {need.modules[0]}, which is not installed: {need.install}")
    return messages
