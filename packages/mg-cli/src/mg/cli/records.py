"""mg's own ``metrics.csv`` in every run folder, whatever loggers a config adds.

``mg report``, ``mg cv`` and ``--ckpt_path best`` read a run's metrics from its
``metrics.csv``. A config that sets ``trainer.logger`` to TensorBoard, W&B or MLflow would
drop Lightning's CSV logger and, with it, that record; mg adds it back.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

DEFAULT_SAVE_DIR = "runs"
DEFAULT_NAME = "mg"
"""Where the record goes when no logger keeps run folders (defaults.yaml's CSVLogger)."""


class CompanionCSVLogger(CSVLogger):
    """A CSV logger writing into another logger's run folder (``save_dir/name/version_N``).

    The folder follows the other logger's version, which mg fixes only when the run
    starts (a resumed run's, or a new folder claimed exclusively).
    """

    def __init__(self, primary: TensorBoardLogger) -> None:
        super().__init__(save_dir=primary.save_dir, name=primary.name)
        self._primary = primary

    @property
    def version(self) -> int | str:
        """The other logger's version."""
        return self._primary.version

    @property
    def log_dir(self) -> str:
        """The other logger's run folder."""
        return self._primary.log_dir


def keep_csv_record(trainer: pl.Trainer) -> None:
    """Add a CSV logger to a trainer whose loggers have none.

    Beside a TensorBoard logger it writes into the same run folder; beside loggers that keep
    no folder (W&B, MLflow) it goes first, so that checkpoints and the record share
    ``runs/mg/version_N`` as with mg's defaults. A run with logging turned off stays so.
    """
    loggers: list[Any] = list(trainer.loggers)
    if not loggers or any(isinstance(logger, CSVLogger) for logger in loggers):
        return
    primary = loggers[0]
    if isinstance(primary, TensorBoardLogger):
        trainer.loggers = [*loggers, CompanionCSVLogger(primary)]
    else:
        trainer.loggers = [CSVLogger(save_dir=DEFAULT_SAVE_DIR, name=DEFAULT_NAME), *loggers]
