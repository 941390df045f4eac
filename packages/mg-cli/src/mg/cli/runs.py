"""Run folders: which run a config wrote, its best and last checkpoints, and claiming a new one.

Every run of the default logger lives in ``save_dir/name/version_N`` with the resolved
``config.yaml``. Runs of different configs may share ``save_dir/name``, so ``best`` and
``last`` are looked up only among runs whose model and data sections equal this config's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from mg.cli.checkpointing import CheckpointError, load_checkpoint_file

RUN_VERSION_VARIABLE = "MG_RUN_VERSION"
"""Passes rank zero's run version to the processes that distributed training starts."""


@dataclass(frozen=True)
class FoundCheckpoint:
    """A checkpoint of this config's runs.

    Attributes:
        path (Path): the file.
        version (int | str): the logger version of its run folder.
        epoch (int): the epoch stored in it.
        step (int): the optimizer step stored in it.
    """

    path: Path
    version: int | str
    epoch: int
    step: int


def logger_root(logger: Any) -> Path | None:
    """The folder holding a logger's run folders (``save_dir/name``), or None if it has none."""
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    if isinstance(logger, CSVLogger | TensorBoardLogger):
        return Path(logger.root_dir)
    return None


def _version_of(folder: Path) -> int | str:
    name = folder.name
    if name.startswith("version_") and name[len("version_") :].isdigit():
        return int(name[len("version_") :])
    return name


def _folder_of(root: Path, version: int | str) -> Path:
    return root / (f"version_{version}" if isinstance(version, int) else version)


def _same_experiment(folder: Path, config: dict[str, Any]) -> bool:
    try:
        written = yaml.safe_load((folder / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return False
    if not isinstance(written, dict):
        return False
    return all(written.get(key) == value for key, value in config.items())


def _best_of(folder: Path, files: list[Path]) -> Path:
    """The best of several best-*.ckpt files, as the run's checkpoint callback recorded it."""
    if len(files) == 1:
        return files[0]
    last = folder / "checkpoints" / "last.ckpt"
    if last.is_file():
        state = torch.load(last, map_location="cpu", weights_only=True, mmap=True)
        for callback in state.get("callbacks", {}).values():
            recorded = callback.get("best_model_path") if isinstance(callback, dict) else None
            if recorded and Path(recorded).name in {f.name for f in files}:
                return folder / "checkpoints" / Path(recorded).name
    return max(files, key=lambda f: f.stat().st_mtime)


def find_checkpoint(
    root: Path, wanted: str, config: dict[str, Any], version: int | str | None
) -> FoundCheckpoint:
    """Find the ``best`` or ``last`` checkpoint of the newest run of this config.

    Args:
        root (Path): the logger's ``save_dir/name``.
        wanted (str): ``"best"`` or ``"last"``.
        config (dict[str, Any]): this config's model and data sections.
        version (int | str | None): the logger version the config fixes, if any.

    Raises:
        FileNotFoundError: no run of this config has such a checkpoint.
        CheckpointError: the file found cannot be read.
    """
    if version is not None:
        folders = [_folder_of(root, version)]
    else:
        folders = sorted(p for p in root.glob("*") if (p / "checkpoints").is_dir())
    ours = [f for f in folders if _same_experiment(f, config)]
    candidates: list[tuple[float, Path, Path]] = []
    for folder in ours:
        pattern = "best-*.ckpt" if wanted == "best" else "last.ckpt"
        files = sorted((folder / "checkpoints").glob(pattern))
        if files:
            chosen = _best_of(folder, files) if wanted == "best" else files[0]
            candidates.append((chosen.stat().st_mtime, chosen, folder))
    if not candidates:
        others = len(folders) - len(ours)
        where = f"{_folder_of(root, version)}" if version is not None else f"{root}"
        reason = (
            f" ({others} run folder(s) there hold another config: different model or data)"
            if others
            else ""
        )
        raise FileNotFoundError(
            f"No {wanted} checkpoint under {where} was written by this config{reason}: run "
            "`mg fit` with this config first, or pass --ckpt_path PATH/TO/FILE.ckpt."
        )
    _, path, folder = max(candidates, key=lambda c: c[0])
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        # Let the full reader say what is wrong with the file, in one line.
        state = load_checkpoint_file(path)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a Lightning checkpoint; run `mg fit` again.")
    return FoundCheckpoint(
        path, _version_of(folder), int(state.get("epoch", 0)), int(state.get("global_step", 0))
    )


def is_launched_rank() -> bool:
    """Whether this process was started by distributed training for a rank other than zero."""
    return any(os.environ.get(v, "0") not in ("", "0") for v in ("LOCAL_RANK", "NODE_RANK"))


def claim_run_folder(logger: Any, root: Path, resumed: int | str | None) -> None:
    """Fix the logger's version: the resumed run's, or a new folder created exclusively.

    ``os.mkdir`` fails when the folder exists, so of two runs started together each gets
    its own version (the second takes the next one).

    Args:
        logger (Any): a CSV or TensorBoard logger.
        root (Path): its ``save_dir/name``.
        resumed (int | str | None): the version of the run a fit resumes, if any.
    """
    if resumed is not None:
        logger._version = resumed
    elif is_launched_rank() and os.environ.get(RUN_VERSION_VARIABLE):
        value = os.environ[RUN_VERSION_VARIABLE]
        logger._version = int(value) if value.isdigit() else value
        return
    elif getattr(logger, "_version", None) is None:
        root.mkdir(parents=True, exist_ok=True)
        existing = [
            v for p in root.iterdir() if p.is_dir() and isinstance(v := _version_of(p), int)
        ]
        version = max(existing, default=-1) + 1
        while True:
            try:
                os.mkdir(_folder_of(root, version))
                break
            except FileExistsError:
                version += 1
        logger._version = version
    os.environ[RUN_VERSION_VARIABLE] = str(logger._version)
