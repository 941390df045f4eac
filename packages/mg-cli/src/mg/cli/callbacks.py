"""Callbacks the default config installs: checkpoints, run records, clean failure."""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import yaml
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from mg.cli.runinfo import run_versions


def run_folder(trainer: pl.Trainer) -> Path:
    """The run's folder, read without a collective call.

    ``trainer.log_dir`` broadcasts from rank zero, so calling it on one rank alone
    deadlocks distributed runs; the logger knows the same folder locally.
    """
    logger = trainer.logger
    folder = getattr(logger, "log_dir", None) if logger is not None else None
    return Path(folder or trainer.default_root_dir)


class BestAndLastCheckpoint(ModelCheckpoint):
    """Keep the best checkpoint by a monitored value and the last one; nothing else.

    Without validation data the monitored value never appears: then only the last
    checkpoint is kept, with one warning, instead of failing the run.

    Args:
        monitor (str): the logged value that decides "best".
        mode (str): ``"min"`` or ``"max"``.
        save_top_k (int): how many best checkpoints to keep.
        save_last (bool): also keep the last checkpoint, as ``last.ckpt``.
        filename (str): name pattern of the best checkpoints.
        **kwargs (Any): further `ModelCheckpoint` options.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "min",
        save_top_k: int = 1,
        save_last: bool = True,
        filename: str = "best-{epoch:02d}",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            monitor=monitor,
            mode=mode,
            save_top_k=save_top_k,
            save_last=save_last,
            filename=filename,
            **kwargs,
        )
        self._warned = False

    def _save_topk_checkpoint(
        self, trainer: pl.Trainer, monitor_candidates: dict[str, Any]
    ) -> None:
        if self.monitor is not None and self.monitor not in monitor_candidates:
            if not self._warned:
                warnings.warn(
                    f"{self.monitor!r} is not logged (no validation data?): keeping only the last "
                    "checkpoint.",
                    stacklevel=2,
                )
                self._warned = True
            return
        super()._save_topk_checkpoint(trainer, monitor_candidates)


class RunRecord(Callback):
    """Write ``versions.yaml`` (mg, torch, lightning, transformers, ...) into the run folder.

    The Lightning CLI writes the fully resolved ``config.yaml`` beside it, so the folder
    holds what is needed to repeat the run.
    """

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Record versions and the command line once, on the main process."""
        if not trainer.is_global_zero:
            return
        folder = run_folder(trainer)
        folder.mkdir(parents=True, exist_ok=True)
        record = {
            "command": " ".join(["mg", *sys.argv[1:]]),
            "stage": str(getattr(stage, "value", stage)),
            "versions": run_versions(),
        }
        (folder / "versions.yaml").write_text(yaml.safe_dump(record, sort_keys=False))


class CleanFailure(Callback):
    """Remove the run folder of a run that failed before its first training step.

    A bad label or file found in setup then leaves nothing behind; a run that failed
    later keeps its logs and checkpoints for inspection.
    """

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        """Delete the empty run folder."""
        if trainer.global_step > 0 or not trainer.is_global_zero:
            return
        folder = run_folder(trainer).resolve()
        if not folder.is_dir() or any(folder.rglob("*.ckpt")):
            return
        shutil.rmtree(folder, ignore_errors=True)
        # Then the logger's folders this run created, if nothing else is in them.
        save_dir = getattr(trainer.logger, "save_dir", None)
        root = Path(save_dir).resolve() if save_dir else folder.parent
        for parent in folder.parents:
            if not parent.is_relative_to(root) or any(parent.iterdir()):
                break
            parent.rmdir()


class FitSummary(Callback):
    """Print the final validation metrics and where the checkpoints are, after fitting."""

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Print the summary on the main process."""
        if not trainer.is_global_zero:
            return
        metrics = {
            k: float(v)
            for k, v in trainer.callback_metrics.items()
            if k.startswith("val_") and v.numel() == 1
        }
        lines = [f"Finished {trainer.current_epoch} epochs."]
        if metrics:
            # Significant digits: a loss of 3e-5 must not read as 0.0000.
            shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items()))
            lines.append(f"Validation after the last epoch: {shown}")
        checkpoint = trainer.checkpoint_callback
        if isinstance(checkpoint, ModelCheckpoint):
            if checkpoint.best_model_path:
                lines.append(f"Best checkpoint: {checkpoint.best_model_path}")
            if checkpoint.last_model_path:
                lines.append(f"Last checkpoint: {checkpoint.last_model_path}")
        print("\n".join(lines), flush=True)
