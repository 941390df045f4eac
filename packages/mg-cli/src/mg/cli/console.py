"""What mg prints while it runs: its own short lines in place of Lightning's and transformers'.

Lightning and transformers print status lines meant for their own users (``Seed set to 0``,
``GPU available: False``, an all-zero FLOPs column, a load report of the head weights mg
leaves out on purpose). mg drops those by their exact wording, with a logging filter and a
tqdm hook, and prints one line of its own where the information matters: the model's size,
one line per epoch when the output is not a terminal, the test metrics to four significant
digits. Warnings that ask the user to act still show.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, ModelSummary, ProgressBar, RichModelSummary
from lightning.pytorch.callbacks.progress.rich_progress import RichProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import TQDMProgressBar

NOISE = re.compile(
    "|".join(
        (
            r"^Seed set to \d+",
            r"^(GPU|TPU|HPU|IPU|MPS) available: ",
            r"^`Trainer\.(fit|validate|test|predict)` stopped: ",
            r"^Restoring states from the checkpoint path at ",
            r"^Loaded model weights from the checkpoint at ",
            r"^LOCAL_RANK: \d+ - CUDA_VISIBLE_DEVICES: ",
            r"^Trainer already configured with model summary callbacks",
            r"^You are using a CUDA device .* that has Tensor Cores",
        )
    )
)
"""Lightning's status lines that tell a user of mg nothing to act on."""

EVAL_MODE_NOTICE = r"Found \d+ module\(s\) in eval mode at the start of training"
"""Lightning's notice about frozen modules; mg keeps a frozen backbone in eval mode on purpose."""

SYNC_DIST_NOTICE = (
    r"It is recommended to use `self\.log\('(train|val|test)_\w+', \.\.\., sync_dist=True\)`"
)
"""Lightning's DDP advice for epoch metrics; mg's tasks add sums and counts over processes
themselves before dividing (`TaskInterface._epoch_means`), which sync_dist would get wrong."""

QUIET_TQDM = ("Loading weights", "Writing model shards")
"""transformers' progress bars for reading and writing local weights, which take a second."""

HEAD_STATUSES = ("MISSING", "MISMATCH", "CONVERSION")
"""Load-report statuses that mean a weight did not load as it should; these reports stay."""


class _DropNoise(logging.Filter):
    """Drop the status lines in `NOISE` and load reports that list only unused head weights."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if NOISE.search(message):
            return False
        # mg loads a headless model from a *ForMaskedLM checkpoint on purpose: the head's
        # tensors are UNEXPECTED and harmless. A report naming a missing or mismatched
        # weight is a real problem and stays.
        return not (
            "LOAD REPORT" in message
            and "UNEXPECTED" in message
            and not any(status in message for status in HEAD_STATUSES)
        )


def _add_filter(logger: logging.Logger) -> None:
    for target in (logger, *logger.handlers):
        if not any(isinstance(f, _DropNoise) for f in target.filters):
            target.addFilter(_DropNoise())


def _quiet_tqdm(factory: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Transformers' tqdm hook: no bar for local weight reads and writes, others unchanged."""
    if kwargs.get("desc") in QUIET_TQDM:
        kwargs = {**kwargs, "disable": True}
    return factory(*args, **kwargs)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Show mg's own warnings as one line ``mg: warning: ...``; others as Python does.

    mg's warnings are sentences for the user; the file, line and source line of the code
    that raised them tell the user nothing.
    """
    if f"{os.sep}mg{os.sep}" in str(filename):
        print(f"mg: warning: {message}", file=file or sys.stderr, flush=True)
        return
    _PYTHON_SHOW_WARNING(message, category, filename, lineno, file, line)


_PYTHON_SHOW_WARNING = warnings.showwarning


def quiet_third_party() -> None:
    """Install the filters; safe to call more than once."""
    warnings.showwarning = _show_warning
    warnings.filterwarnings("ignore", message=EVAL_MODE_NOTICE)
    warnings.filterwarnings("ignore", message=SYNC_DIST_NOTICE)
    for name in (
        "lightning.pytorch",
        "lightning.fabric",
        "lightning.pytorch.utilities.rank_zero",
        "lightning.fabric.utilities.rank_zero",
        "lightning.fabric.utilities.seed",
        "transformers.modeling_utils",
    ):
        _add_filter(logging.getLogger(name))
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # mg-cli always has transformers; a broken install must not stop here
        return
    if hasattr(hf_logging, "set_tqdm_hook"):
        hf_logging.set_tqdm_hook(_quiet_tqdm)


def significant(value: float) -> str:
    """A metric to four significant digits: 0.95, not 0.949999988079071; 3e-05, not 0.000."""
    return f"{value:.4g}"


class OneLineSummary(ModelSummary):
    """The model in one line: each part's class and size, and how much of it trains."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Print ``Model: backbone X 29.9 K, adapter Y 85.1 K; 114 K parameters, ...``."""
        from lightning.pytorch.utilities.model_summary.model_summary import (
            get_human_readable_count,
        )

        if not trainer.is_global_zero or not self._max_depth:
            return
        parts = []
        for name, child in pl_module.named_children():
            count = sum(p.numel() for p in child.parameters())
            if count:
                parts.append(f"{name} {type(child).__name__} {get_human_readable_count(count)}")
        total = sum(p.numel() for p in pl_module.parameters())
        trainable = sum(p.numel() for p in pl_module.parameters() if p.requires_grad)
        training = (
            "all trainable"
            if trainable == total
            else f"{get_human_readable_count(trainable)} trainable"
        )
        print(
            f"Model: {', '.join(parts)}; {get_human_readable_count(total)} parameters, {training}.",
            flush=True,
        )


class TerminalBar(RichProgressBar):
    """Lightning's rich bar without ``v_num`` and the epoch's ``train_loss`` beside ``loss``.

    The bar stops when training ends, so that mg's summary prints below its last state
    once, instead of the live bar redrawing under it.
    """

    def __init__(self) -> None:
        super().__init__()
        # Significant digits: the default ``.3f`` shows a loss of 3e-5 as 0.000.
        self.theme.metrics_format = ".4g"

    def get_metrics(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule
    ) -> dict[str, int | str | float | dict[str, float]]:
        """The bar's metrics: the running ``loss`` and validation metrics, no version."""
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        if "loss" in items:
            items.pop("train_loss", None)
        return items

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Stop the live bar before mg's end-of-fit summary prints."""
        self._stop_progress()


class EpochLines(ProgressBar):
    """One line per epoch instead of a live bar, when the output is a file or a pipe."""

    def __init__(self) -> None:
        super().__init__()
        self._enabled = True
        self._pending: int | None = None

    @property
    def is_enabled(self) -> bool:
        """Whether lines are printed (Lightning disables bars on other ranks)."""
        return self._enabled

    def disable(self) -> None:
        """Print nothing (other ranks)."""
        self._enabled = False

    def enable(self) -> None:
        """Print the epoch lines."""
        self._enabled = True

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Note the finished epoch; its line prints once the task has logged train_loss."""
        self._pending = trainer.current_epoch + 1

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Print the line of the epoch before."""
        self._print(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Print the line of the last epoch."""
        self._print(trainer)

    def _print(self, trainer: pl.Trainer) -> None:
        """Print ``Epoch 1/10: train_loss 0.7036, val_loss 0.6459, ...``.

        The task logs ``train_loss`` in its own epoch-end hook, which runs after the
        callbacks' hook: the line of an epoch prints when the next one starts.
        """
        epoch, self._pending = self._pending, None
        if not self._enabled or epoch is None:
            return
        metrics = {
            key: float(value)
            for key, value in trainer.callback_metrics.items()
            if (key == "train_loss" or key.startswith("val_")) and value.numel() == 1
        }
        shown = ", ".join(f"{key} {significant(value)}" for key, value in sorted(metrics.items()))
        total = "" if trainer.max_epochs in (None, -1) else f"/{trainer.max_epochs}"
        line = f"Epoch {epoch}{total}"
        print(f"{line}: {shown}" if shown else line, flush=True)


class MetricsLine(Callback):
    """Print validate/test metrics as one line of significant digits (no 16-digit table)."""

    def _print(self, trainer: pl.Trainer, stage: str) -> None:
        if not trainer.is_global_zero:
            return
        metrics = {
            key: float(value)
            for key, value in trainer.callback_metrics.items()
            if key.startswith(f"{stage}_") and value.numel() == 1
        }
        if metrics:
            shown = ", ".join(f"{k} {significant(v)}" for k, v in sorted(metrics.items()))
            print(f"{'Test' if stage == 'test' else 'Validation'} metrics: {shown}", flush=True)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Print the test metrics."""
        self._print(trainer, "test")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Print the metrics of ``mg validate`` (not the validation inside a fit)."""
        if trainer.state.fn == "validate":
            self._print(trainer, "val")


def tidy_trainer(trainer: pl.Trainer) -> None:
    """Swap Lightning's default summary and progress bar for mg's; add the metrics line.

    A summary or bar the user configured is left as it is; only Lightning's defaults (their
    exact classes) are replaced.
    """
    callbacks = trainer.callbacks
    for index, callback in enumerate(callbacks):
        if type(callback) in (ModelSummary, RichModelSummary):
            callbacks[index] = OneLineSummary(max_depth=callback._max_depth)
        elif type(callback) in (RichProgressBar, TQDMProgressBar):
            callbacks[index] = TerminalBar() if sys.stdout.isatty() else EpochLines()
    if not any(isinstance(c, MetricsLine) for c in callbacks):
        callbacks.append(MetricsLine())
