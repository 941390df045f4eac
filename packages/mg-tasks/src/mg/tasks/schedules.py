"""Learning-rate schedules with warmup that size themselves to the run.

Fine-tuning a pretrained model usually warms the learning rate up from zero over the first
steps, then decays it to zero by the last step. How many steps a run takes depends on the
data, the batch size, gradient accumulation and the device count, so these schedules do
not ask for it: the task tells them the trainer's ``estimated_stepping_batches`` when it
builds the optimizer, and steps them after every optimizer step.

In a config::

    model:
      init_args:
        lr_scheduler:
          class_path: CosineWarmupLR
          init_args:
            warmup_ratio: 0.1

The curves are those of Hugging Face transformers' ``get_linear_schedule_with_warmup`` and
``get_cosine_schedule_with_warmup`` (a test checks they agree step by step), built on
torch's `LambdaLR` so that they checkpoint and resume like any torch scheduler.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from mg.core.optimizers import RunSizedScheduler


class WarmupLR(RunSizedScheduler, LambdaLR):
    """Base of the warmup schedules: linear warmup from 0, then a decay the subclass defines.

    Until `set_total_steps` is called the learning rate holds at its warmup start (0 with
    warmup, the base rate without).

    Args:
        optimizer (Optimizer): the optimizer whose learning rates to schedule.
        warmup_steps (int): optimizer steps of linear warmup from 0 to the base rate.
        warmup_ratio (float | None): warmup as a share of the run's optimizer steps,
            instead of ``warmup_steps``.
        last_epoch (int): the index of the last step, for resuming (``-1``: start).

    Raises:
        ValueError: both ``warmup_steps`` and ``warmup_ratio`` given, or either out of range.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_steps: int = 0,
        warmup_ratio: float | None = None,
        last_epoch: int = -1,
    ) -> None:
        if warmup_ratio is not None and warmup_steps:
            raise ValueError(
                f"Give warmup_steps ({warmup_steps}) or warmup_ratio ({warmup_ratio}), not both."
            )
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be 0 or more, not {warmup_steps}.")
        if warmup_ratio is not None and not 0.0 <= warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), not {warmup_ratio}.")
        self.warmup_ratio = warmup_ratio
        self.warmup_steps = warmup_steps
        self.total_steps: int | None = None
        super().__init__(optimizer, self.factor, last_epoch)

    def set_total_steps(self, total_steps: int) -> None:
        """Learn how many optimizer steps the run takes, and set the current rate from it.

        Args:
            total_steps (int): the run's optimizer steps, e.g. the trainer's
                ``estimated_stepping_batches``.

        Raises:
            ValueError: the total is not a positive whole number (an endless run).
        """
        if not math.isfinite(total_steps) or total_steps < 1:
            raise ValueError(
                f"{type(self).__name__} needs a run of known length, but it has {total_steps} "
                "optimizer steps: set trainer.max_epochs or trainer.max_steps."
            )
        self.total_steps = int(total_steps)
        if self.warmup_ratio is not None:
            self.warmup_steps = math.ceil(self.warmup_ratio * self.total_steps)
        if self.warmup_steps >= self.total_steps:
            raise ValueError(
                f"{type(self).__name__}: warmup of {self.warmup_steps} steps leaves nothing of a "
                f"{self.total_steps}-step run; lower warmup_steps or warmup_ratio."
            )
        rate = self.factor(self.last_epoch)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * rate
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def factor(self, step: int) -> float:
        """Return the multiple of the base learning rate at optimizer step ``step``."""
        if step < self.warmup_steps:
            return step / max(1, self.warmup_steps)
        if self.total_steps is None:
            return 0.0 if self.warmup_ratio else 1.0
        progress = (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        return self.decay(min(progress, 1.0))

    def decay(self, progress: float) -> float:
        """Return the multiple of the base rate after warmup, ``progress`` going 0 → 1."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Return the state, without the bound method `LambdaLR` would try to save."""
        state = super().state_dict()
        state["lr_lambdas"] = [None]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state saved by `state_dict`, keeping this schedule's own factor."""
        state = {key: value for key, value in state_dict.items() if key != "lr_lambdas"}
        self.__dict__.update(state)


class LinearWarmupLR(WarmupLR):
    """Linear warmup from 0 to the base rate, then linear decay to 0 at the last step.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates to schedule.
        warmup_steps (int): optimizer steps of warmup.
        warmup_ratio (float | None): warmup as a share of the run, instead of steps.
        last_epoch (int): the index of the last step, for resuming.
    """

    def decay(self, progress: float) -> float:
        """Fall linearly from 1 to 0."""
        return max(0.0, 1.0 - progress)


class CosineWarmupLR(WarmupLR):
    """Linear warmup from 0 to the base rate, then a cosine down to 0 at the last step.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates to schedule.
        warmup_steps (int): optimizer steps of warmup.
        warmup_ratio (float | None): warmup as a share of the run, instead of steps.
        num_cycles (float): cosine periods after warmup; 0.5 (the default) falls once from
            the base rate to 0.
        last_epoch (int): the index of the last step, for resuming.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_steps: int = 0,
        warmup_ratio: float | None = None,
        num_cycles: float = 0.5,
        last_epoch: int = -1,
    ) -> None:
        self.num_cycles = num_cycles
        super().__init__(optimizer, warmup_steps, warmup_ratio, last_epoch)

    def decay(self, progress: float) -> float:
        """Follow half a cosine (by default) from 1 to 0."""
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * self.num_cycles * 2.0 * progress)))


class ConstantWarmupLR(WarmupLR):
    """Linear warmup from 0 to the base rate, then the base rate to the end.

    The curve of transformers' ``get_constant_schedule_with_warmup``. With ``warmup_ratio``
    it needs the run's length, as the other schedules do; with ``warmup_steps`` it holds
    the base rate after warmup whatever the length.

    Args:
        optimizer (Optimizer): the optimizer whose learning rates to schedule.
        warmup_steps (int): optimizer steps of warmup.
        warmup_ratio (float | None): warmup as a share of the run, instead of steps.
        last_epoch (int): the index of the last step, for resuming.
    """

    def factor(self, step: int) -> float:
        """Return the warmup fraction, then 1."""
        if step < self.warmup_steps:
            return step / max(1, self.warmup_steps)
        if self.total_steps is None and self.warmup_ratio:
            return 0.0
        return 1.0

    def decay(self, progress: float) -> float:
        """Hold the base rate."""
        return 1.0
