"""mg's one run resolver: a run's identity, its best and last checkpoints, its folder.

Every run of the default logger lives in ``save_dir/name/version_N`` with the resolved
``config.yaml``. Runs of different configs may share ``save_dir/name``, so ``best`` and
``last`` are looked up only among runs of the same experiment: the same `run_identity`
(the model section and the options that decide the training data). ``mg fit|validate|
test|predict``, ``mg export`` and ``mg cv`` all resolve runs here, so that no command
picks another experiment's weights.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mg.cli.checkpointing import load_checkpoint_file

NOT_IDENTITY = frozenset(
    {
        "predict_file",
        "predict_path",
        "test_file",
        "num_workers",
        "inference_order",
        "sort_window",
        "storage",
    }
)
"""Data options that never change what a model learns: where predictions and tests read
from, and how batches are loaded. A run on a new predict file is the same experiment."""

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


def run_identity(config: dict[str, Any]) -> dict[str, Any]:
    """What makes two runs one experiment: the model section and the training data.

    Args:
        config (dict[str, Any]): a resolved config, as written to a run's ``config.yaml``.

    Returns:
        dict[str, Any]: ``{"model": ..., "data": ...}``, without the `NOT_IDENTITY` options.
    """
    data = config.get("data")
    if isinstance(data, dict) and isinstance(data.get("init_args"), dict):
        init_args = {k: v for k, v in data["init_args"].items() if k not in NOT_IDENTITY}
        data = {**data, "init_args": init_args}
    return {"model": config.get("model"), "data": data}


def recorded_identity(folder: Path) -> dict[str, Any] | None:
    """The `run_identity` of the run in ``folder`` (its ``config.yaml``), or None if unreadable."""
    try:
        written = yaml.safe_load((folder / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return None
    return run_identity(written) if isinstance(written, dict) else None


def _same_experiment(folder: Path, identity: dict[str, Any]) -> bool:
    return recorded_identity(folder) == identity


def _best_of(folder: Path, files: list[Path]) -> Path:
    """The best of several best-*.ckpt files, as the run's checkpoint callback recorded it."""
    if len(files) == 1:
        return files[0]
    last = folder / "checkpoints" / "last.ckpt"
    if last.is_file():
        state = load_checkpoint_file(last, mmap=True)
        for callback in state.get("callbacks", {}).values():
            recorded = callback.get("best_model_path") if isinstance(callback, dict) else None
            if recorded and Path(recorded).name in {f.name for f in files}:
                return folder / "checkpoints" / Path(recorded).name
    return max(files, key=lambda f: f.stat().st_mtime)


def find_checkpoint(
    root: Path, wanted: str, identity: dict[str, Any], version: int | str | None
) -> FoundCheckpoint:
    """Find the ``best`` or ``last`` checkpoint of the newest run of this config.

    Args:
        root (Path): the logger's ``save_dir/name``.
        wanted (str): ``"best"`` or ``"last"``.
        identity (dict[str, Any]): this config's `run_identity`.
        version (int | str | None): the logger version the config fixes, if any.

    Raises:
        FileNotFoundError: no run of this config has such a checkpoint.
        CheckpointError: the file found cannot be read.
    """
    if version is not None:
        folders = [_folder_of(root, version)]
    else:
        folders = sorted(p for p in root.glob("*") if (p / "checkpoints").is_dir())
    ours = [f for f in folders if _same_experiment(f, identity)]
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
            f" ({others} run folder(s) there hold another experiment: different model or "
            "training data)"
            if others
            else ""
        )
        raise FileNotFoundError(
            f"No {wanted} checkpoint under {where} was written by this config{reason}: run "
            "`mg fit` with this config first, or pass --ckpt_path PATH/TO/FILE.ckpt."
        )
    _, path, folder = max(candidates, key=lambda c: c[0])
    state = load_checkpoint_file(path, mmap=True)
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


def keep_metrics_history(logger: Any, up_to_step: int) -> None:
    """Keep a resumed run's ``metrics.csv``: its rows up to the checkpoint's step stay.

    Lightning's CSV writer deletes the file of a folder it finds in use. mg resumes into
    the same folder on purpose, so the history is read first and written back; rows
    logged after the checkpoint (by a run killed before its next save) are dropped,
    because the resumed run logs those steps again.

    Args:
        logger (Any): the run's logger; only a CSVLogger is handled.
        up_to_step (int): the global step stored in the checkpoint resumed from.
    """
    import csv

    from lightning.pytorch.loggers import CSVLogger

    if not isinstance(logger, CSVLogger) or is_launched_rank():
        return
    path = Path(logger.log_dir) / "metrics.csv"
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            rows = [row for row in reader if _step_of(row) <= up_to_step]
    except FileNotFoundError:
        return
    writer = logger.experiment  # created now; it deletes the old file
    with path.open("w", newline="") as handle:
        table = csv.DictWriter(handle, fieldnames=header)
        table.writeheader()
        table.writerows(rows)
    writer.metrics_keys = sorted(header)


def _step_of(row: dict[str, str]) -> float:
    try:
        return float(row.get("step") or 0)
    except ValueError:
        return 0.0
