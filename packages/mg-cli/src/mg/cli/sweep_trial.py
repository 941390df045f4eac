"""One trial of ``mg sweep``: an ``mg fit`` run that reports its validation metric to Optuna."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities.exceptions import SIGTERMException

from mg.cli.lightning import MGCLI


@dataclass
class TrialOutcome:
    """How a trial's fit ended.

    Attributes:
        best (float): the best value of the metric over its validations.
        last (float): the last value reported.
        step (int): the optimizer step of the last report.
        pruned (bool): Optuna asked to stop it early.
        stopped (bool): Ctrl-C or SIGTERM stopped it (``last.ckpt`` saved).
    """

    best: float
    last: float
    step: int
    pruned: bool = False
    stopped: bool = False


class ReportToTrial(Callback):
    """Report the validation metric to an Optuna trial; stop the fit when it is pruned.

    Stopping goes through ``trainer.should_stop``, so the run ends as any early-stopped fit
    does: its checkpoints and metrics are written, and no exception crosses Lightning.

    Args:
        trial (optuna.Trial): the trial to report to.
        metric (str): the logged value, e.g. ``val_loss``.
        direction (str): ``"minimize"`` or ``"maximize"``.
    """

    def __init__(self, trial: Any, metric: str, direction: str) -> None:
        self.trial = trial
        self.metric = metric
        self.direction = direction
        self.values: list[float] = []
        self.step = 0
        self.pruned = False
        self.missing: list[str] | None = None

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Report this validation's value; ask Optuna whether to go on."""
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.metric)
        if value is None:
            self.missing = sorted(trainer.callback_metrics)
            trainer.should_stop = True
            return
        number = float(value)
        self.values.append(number)
        self.step = trainer.global_step
        if not math.isfinite(number):
            # A diverged trial: nothing later can recover it.
            self.pruned = True
            trainer.should_stop = True
            return
        self.trial.report(number, step=self.step)
        if self.trial.should_prune():
            self.pruned = True
            trainer.should_stop = True


class TrialCLI(MGCLI):
    """``mg fit`` with one more callback: the trial's reporter."""

    reporter: ReportToTrial | None = None

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        """Build the trainer as ``mg fit`` does, then add the reporter."""
        trainer = super().instantiate_trainer(**kwargs)
        if self.reporter is not None:
            trainer.callbacks.append(self.reporter)
        return trainer


def run_trial(args: list[str], trial: Any, metric: str, direction: str) -> TrialOutcome:
    """Fit one trial in this process, as ``mg fit`` with these arguments would.

    Args:
        args (list[str]): ``["fit", ...options]``.
        trial (optuna.Trial): the trial.
        metric (str): the metric to report.
        direction (str): ``"minimize"`` or ``"maximize"``.

    Returns:
        TrialOutcome: its best and last values, and whether it was pruned or stopped.

    Raises:
        KeyError: the fit never logged the metric (with the names it did log).
    """
    reporter = ReportToTrial(trial, metric, direction)
    TrialCLI.reporter = reporter
    stopped = False
    try:
        cli = TrialCLI(args)
        stopped = bool(cli.trainer.interrupted)
    except SIGTERMException:
        stopped = True
    finally:
        TrialCLI.reporter = None
    if reporter.missing is not None or (not reporter.values and not stopped):
        logged = ", ".join(reporter.missing or []) or "nothing"
        raise KeyError(
            f"the sweep's metric {metric!r} was never logged at validation (logged: {logged}); "
            "set metric: in the space file to one of them, and give the data a validation split."
        )
    pick = min if direction == "minimize" else max
    finite = [v for v in reporter.values if math.isfinite(v)]
    best = pick(finite) if finite else math.nan
    last = reporter.values[-1] if reporter.values else math.nan
    return TrialOutcome(best, last, reporter.step, reporter.pruned, stopped)
