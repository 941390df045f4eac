"""An export folder's ``config.yaml``, read as data: registered mg components only.

Exports exist to be shared, so their config is treated like any file from elsewhere. It may
name only registered mg components (backbones, adapters, tasks, data modules), mg's own
callbacks, and torch's optimizers and schedulers; it may never ask for
``trust_remote_code``; and every path in it (the backbone's ``model_path``, ``ckpt_path``)
is relative to the folder and stays inside it, so a copied export uses its own files.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

CONFIG = "config.yaml"
RECORD = "export.json"

MG_CLASSES = frozenset(
    {
        "mg.cli.writer.PredictionWriter",
        "mg.cli.callbacks.RunRecord",
        "mg.cli.callbacks.CleanFailure",
        "lightning.pytorch.loggers.CSVLogger",
        "lightning.pytorch.loggers.csv_logs.CSVLogger",
    }
)
"""Classes outside the plugin registry that an export's config may name."""

SAFE_PREFIXES = ("torch.optim.", "mg.core.optimizers.", "mg.tasks.schedules.")
"""Optimizers and learning-rate schedulers: they take numbers, never code or files."""

COMPONENT_KEYS = frozenset(
    {"model", "data", "backbone", "adapter", "optimizer", "lr_scheduler", "logger", "callbacks"}
)
"""Options whose plain string value names a class (``backbone: HFBackbone``)."""

PATH_KEYS = frozenset({"model_path", "ckpt_path"})
"""Options that name files the export must hold itself."""


class ExportConfigError(ValueError):
    """An export's config asks for something an export may not: the message names file and key."""


def is_export(config_file: str | os.PathLike[str]) -> bool:
    """Whether ``config_file`` is the ``config.yaml`` of an `mg export` folder."""
    path = Path(config_file)
    return path.name == CONFIG and (path.parent / RECORD).is_file()


def _registered() -> tuple[set[str], set[type]]:
    """Every registered component: the names it goes by, and the classes themselves.

    Only registered plugins are imported (as every mg command does); a name in the file
    is compared as text and never imported.
    """
    from mg.cli.lightning import import_plugins
    from mg.core.registry import GROUPS, plugins

    import_plugins()
    names: set[str] = set()
    classes: set[type] = set()
    for kind in GROUPS:
        for plugin in plugins(kind).values():
            names.add(plugin.name)
            names.add(f"{plugin.module}.{plugin.attribute}")
            try:
                component = plugin.load()
            except Exception:  # a broken plugin is left out, as `import_plugins` does
                continue
            classes.add(component)
    return names, classes


def _walk(value: Any, where: str) -> Iterator[tuple[str, str, Any]]:
    """Yield (dotted key, last key, value) for every entry of nested dicts and lists."""
    if isinstance(value, dict):
        for key, item in value.items():
            dotted = f"{where}.{key}" if where else str(key)
            yield dotted, str(key), item
            yield from _walk(item, dotted)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{where}[{index}]")


def _allowed_class(name: str, registered: tuple[set[str], set[type]]) -> bool:
    names, classes = registered
    if name in names or name in MG_CLASSES or name.startswith(SAFE_PREFIXES):
        return True
    # A registered class by another import path (``mg.tasks.SequenceClassification``, as
    # the config parser writes it): looked up among modules already imported, never imported.
    # A schedule re-exported elsewhere (``mg.tasks.CosineWarmupLR``) is judged by where it
    # is defined.
    module, _, attribute = name.rpartition(".")
    found = getattr(sys.modules.get(module), attribute, None)
    if isinstance(found, type) and f"{found.__module__}.".startswith(SAFE_PREFIXES):
        return True
    return found in classes


def read_export_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check an export's config; return it with its paths made absolute.

    Args:
        folder (str | os.PathLike[str]): a folder written by `mg export`.

    Returns:
        dict[str, Any]: the config, with ``model_path`` and ``ckpt_path`` inside ``folder``.

    Raises:
        FileNotFoundError: the folder holds no config.yaml.
        ExportConfigError: the config names an unregistered class, asks for
            ``trust_remote_code``, or points outside the folder.
    """
    folder = Path(folder).resolve()
    file = folder / CONFIG
    if not file.is_file():
        raise FileNotFoundError(
            f"No {CONFIG} in {str(folder)!r}: give a folder that `mg export` wrote."
        )
    try:
        config = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ExportConfigError(f"{file}: not a readable YAML config ({error}).") from error
    if not isinstance(config, dict):
        raise ExportConfigError(f"{file}: not a config (a YAML mapping); export the task again.")
    registered = _registered()

    def refuse(key: str, why: str) -> ExportConfigError:
        return ExportConfigError(
            f"{file}: {key} refused: {why}. An export's config is data: it may name only "
            "registered mg components and their options; export the task again with `mg export`."
        )

    for dotted, key, value in list(_walk(config, "")):
        if key == "trust_remote_code" and value:
            raise refuse(dotted, "an export never runs code from a model folder")
        if key in ("class_path", "_class_path") and not (
            isinstance(value, str) and _allowed_class(value, registered)
        ):
            raise refuse(f"{dotted}: {value}", "not a registered mg component")
        if key in COMPONENT_KEYS and isinstance(value, str):
            if not _allowed_class(value, registered):
                raise refuse(f"{dotted}: {value}", "not a registered mg component")
    for dotted, key, value in list(_walk(config, "")):
        if key in PATH_KEYS and value is not None:
            _resolve_inside(folder, dotted, value, refuse)
    _make_paths_absolute(config, folder)
    return config


def _resolve_inside(folder: Path, dotted: str, value: Any, refuse: Any) -> Path:
    if not isinstance(value, str) or Path(value).is_absolute():
        raise refuse(f"{dotted}: {value}", "an export names its own files by relative paths")
    path = (folder / value).resolve()
    if not path.is_relative_to(folder):
        raise refuse(f"{dotted}: {value}", "it points outside the export folder")
    return path


def _make_paths_absolute(value: Any, folder: Path) -> None:
    # The config is handed to the parser as text, which knows nothing of the folder.
    if isinstance(value, dict):
        for key, item in value.items():
            if key in PATH_KEYS and isinstance(item, str):
                value[key] = str((folder / item).resolve())
            else:
                _make_paths_absolute(item, folder)
    elif isinstance(value, list):
        for item in value:
            _make_paths_absolute(item, folder)


def open_export_configs(args: list[str]) -> list[str]:
    """Replace every ``--config DIR/config.yaml`` of an export by its checked text.

    Raises:
        ExportConfigError: an export's config asks for what an export may not.
    """
    opened: list[str] = []
    take_next = False
    for argument in args:
        if take_next and is_export(argument):
            argument = yaml.safe_dump(read_export_config(Path(argument).parent), sort_keys=False)
        elif argument.startswith("--config=") and is_export(argument[len("--config=") :]):
            folder = Path(argument[len("--config=") :]).parent
            argument = "--config=" + yaml.safe_dump(read_export_config(folder), sort_keys=False)
        take_next = argument in ("--config", "-c")
        opened.append(argument)
    return opened
