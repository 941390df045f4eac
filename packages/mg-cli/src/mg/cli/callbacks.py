"""Callbacks the default config installs: checkpoints, run records, clean failure."""

from __future__ import annotations

import random
import shutil
import signal
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import lightning.pytorch as pl
import torch
import yaml
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from mg.cli.runinfo import run_versions
from mg.core.data import stage_name


def run_folder(trainer: pl.Trainer) -> Path:
    """The run's folder, read without a collective call.

    ``trainer.log_dir`` broadcasts from rank zero, so calling it on one rank alone
    deadlocks distributed runs; the logger knows the same folder locally.
    """
    logger = trainer.logger
    folder = getattr(logger, "log_dir", None) if logger is not None else None
    return Path(folder or trainer.default_root_dir)


@dataclass(frozen=True)
class Interruption:
    """Where an interrupted fit saved its state.

    Attributes:
        checkpoint (str): the ``last.ckpt`` written at the interruption.
        epoch (int): the epoch it stopped in.
        step (int): the optimizer steps done.
    """

    checkpoint: str
    epoch: int
    step: int


class BestAndLastCheckpoint(ModelCheckpoint):
    """Keep the best checkpoint by a monitored value and the last one; nothing else.

    ``last.ckpt`` is the state at the end of every epoch, and at an interruption (Ctrl-C,
    SIGTERM): Lightning alone rewrites it only when a new best is saved. Without
    validation data the monitored value never appears: then only the last checkpoint is
    kept, with one warning, instead of failing the run.

    Args:
        monitor (str): the logged value that decides "best".
        mode (str): ``"min"`` or ``"max"``.
        save_top_k (int): how many best checkpoints to keep.
        save_last (bool): also keep the last checkpoint, as ``last.ckpt``.
        filename (str): name pattern of the best checkpoints.
        enable_version_counter (bool): write ``last-v1.ckpt`` beside an existing
            ``last.ckpt`` instead of replacing it (off: a resumed run continues its files).
        **kwargs (Any): further `ModelCheckpoint` options.
    """

    interrupted: Interruption | None = None
    """Set when a fit of this process was stopped by a signal and saved ``last.ckpt``."""

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "min",
        save_top_k: int = 1,
        save_last: bool = True,
        filename: str = "best-{epoch:02d}",
        enable_version_counter: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            monitor=monitor,
            mode=mode,
            save_top_k=save_top_k,
            save_last=save_last,
            filename=filename,
            enable_version_counter=enable_version_counter,
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

    def _save_last_now(self, trainer: pl.Trainer) -> None:
        # Lightning skips when this step is already saved (a new best wrote last.ckpt too).
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Save the best checkpoint if it improved, and ``last.ckpt`` always."""
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._save_last_now(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Save after validation when validation, not the epoch end, decides."""
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last_now(trainer)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        """On SIGTERM or a first Ctrl-C (which stop between batches), save ``last.ckpt``.

        Other errors may strike mid-step, leaving half-updated weights: those are not saved.
        """
        super().on_exception(trainer, pl_module, exception)
        if not isinstance(exception, SIGTERMException) or trainer.state.fn != TrainerFn.FITTING:
            return
        if trainer.sanity_checking or not self.save_last:
            return
        if self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        if self.last_model_path:
            BestAndLastCheckpoint.interrupted = Interruption(
                self.last_model_path, trainer.current_epoch, trainer.global_step
            )


class ExactResume(Callback):
    """Store the random number generators in every checkpoint and restore them on resume.

    Together with Lightning's loop progress and the data module's sampler position, this
    makes a resumed fit take the same steps as one that was never stopped (on CPU, with
    ``num_workers: 0``). A DataLoader draws a seed from the global generator whenever an
    epoch's iterator is made: at an epoch end that draw still lies ahead, so the state is
    restored at once; in the middle of an epoch it was already made, so the state is
    restored after the resumed run has made its iterator.
    """

    def __init__(self) -> None:
        self._trainer: pl.Trainer | None = None
        self._pending: dict[str, Any] | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Remember the trainer, to tell an epoch end from the middle of an epoch."""
        self._trainer = trainer

    def _mid_epoch(self) -> bool:
        trainer = self._trainer
        if trainer is None or trainer.state.fn != TrainerFn.FITTING:
            return False
        done = trainer.fit_loop.epoch_loop.batch_progress.current.completed
        return 0 < done < trainer.num_training_batches

    def state_dict(self) -> dict[str, Any]:
        """Return Python's, NumPy's and torch's generator states (plain values and tensors)."""
        state: dict[str, Any] = {
            "python": random.getstate(),
            "torch": torch.get_rng_state(),
            "mid_epoch": self._mid_epoch(),
        }
        try:
            import numpy as np
        except ImportError:  # pragma: no cover - numpy is installed with torch in practice
            pass
        else:
            kind, keys, position, has_gauss, gauss = np.random.get_state(legacy=True)  # type: ignore[misc]
            # As a tensor and numbers, so that weights_only loading reads it.
            keys = torch.from_numpy(keys.astype("int64"))
            state["numpy"] = [kind, keys, position, has_gauss, gauss]
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the generators now, or (mid-epoch) when training starts."""
        if state_dict.get("mid_epoch"):
            self._pending = state_dict
        else:
            self._restore(state_dict)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Restore a mid-epoch state once the resumed epoch's iterator exists."""
        if self._pending is not None:
            self._restore(self._pending)
            self._pending = None

    @staticmethod
    def _restore(state_dict: dict[str, Any]) -> None:
        if "python" in state_dict:
            version, internal, gauss = state_dict["python"]
            random.setstate((version, tuple(internal), gauss))
        if "torch" in state_dict:
            torch.set_rng_state(state_dict["torch"])
        if "numpy" in state_dict:
            import numpy as np

            kind, keys, position, has_gauss, gauss = state_dict["numpy"]
            np.random.set_state((kind, keys.numpy().astype("uint32"), position, has_gauss, gauss))
        cuda = state_dict.get("cuda")
        if (
            cuda is not None
            and torch.cuda.is_available()
            and len(cuda) == torch.cuda.device_count()
        ):
            torch.cuda.set_rng_state_all(cuda)


class GracefulInterrupt(Callback):
    """Turn the first Ctrl-C into a stop between batches, as Lightning does for SIGTERM.

    Lightning then raises its ``SIGTERMException``, `BestAndLastCheckpoint` saves
    ``last.ckpt``, and ``mg`` exits with 130 (Ctrl-C) or 143 (SIGTERM). A second Ctrl-C
    stops at once, without a checkpoint.
    """

    received: int | None = None
    """``signal.SIGINT`` once Ctrl-C was pressed; a stop without it came from SIGTERM."""

    def __init__(self) -> None:
        self._previous: Any = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Install the Ctrl-C handler (Lightning already handles SIGTERM)."""
        GracefulInterrupt.received = None
        try:
            self._previous = signal.signal(signal.SIGINT, self._handler(trainer))
        except ValueError:  # not the main thread: leave Ctrl-C alone
            self._previous = None

    @staticmethod
    def _handler(trainer: pl.Trainer) -> Any:
        def handler(signum: int, frame: FrameType | None) -> None:
            if GracefulInterrupt.received is not None:
                raise KeyboardInterrupt
            GracefulInterrupt.received = signal.SIGINT
            trainer._signal_connector.received_sigterm = True
            if trainer.is_global_zero:
                print(
                    "\nmg: Ctrl-C: stopping after this batch (press again to stop at once).",
                    file=sys.stderr,
                    flush=True,
                )

        return handler

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Put the previous Ctrl-C handler back."""
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


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
            "stage": stage_name(stage),
            "versions": run_versions(),
            # Float sums depend on it: a rerun matches bit for bit only with the same count.
            "torch_threads": torch.get_num_threads(),
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
        epochs = trainer.current_epoch
        lines = [f"Finished {epochs} epoch{'' if epochs == 1 else 's'}."]
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
