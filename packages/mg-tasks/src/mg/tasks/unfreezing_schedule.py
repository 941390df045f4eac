"""An unfreezing schedule written in the config: which backbone weights train from which epoch.

Beside `GradualUnfreezing` (layers top-down, a few per epoch), this callback takes an
explicit plan: at each listed epoch, the backbone parameters whose names match its
patterns start to train, and keep training. Before the first listed epoch only the head
trains. In a config::

    trainer:
      callbacks:
        - class_path: mg.tasks.unfreezing_schedule.UnfreezingSchedule
          init_args:
            schedule:
              1: ["*encoder.layer.1.*"]
              3: ["*encoder.layer.0.*", "*embeddings*"]

Patterns are shell-style (``fnmatch``) over the backbone's parameter names, as
``backbone.named_parameters()`` gives them. Every pattern must match at least one
parameter, or the fit stops before the first step naming the pattern.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback


class UnfreezingSchedule(Callback):
    """Unfreeze backbone parameters by name pattern at given epochs.

    Which weights train follows from the epoch alone, so a resumed run continues the same
    plan. As with `GradualUnfreezing`, the backbone must train in full (``finetune: full``):
    the optimizer holds every weight, and frozen ones get no gradient until their turn.

    Args:
        schedule (dict[int, list[str]]): epoch (0-based) → name patterns that start to
            train at that epoch.

    Raises:
        ValueError: a negative epoch, or an epoch without patterns.
    """

    def __init__(self, schedule: dict[int, list[str]]) -> None:
        super().__init__()
        if not schedule:
            raise ValueError("UnfreezingSchedule needs a schedule: {epoch: [name patterns]}.")
        for epoch, patterns in schedule.items():
            if int(epoch) < 0:
                raise ValueError(f"UnfreezingSchedule: epoch {epoch} is negative.")
            if not patterns or not all(isinstance(p, str) and p for p in patterns):
                raise ValueError(
                    f"UnfreezingSchedule: epoch {epoch} needs a list of name patterns, "
                    f"got {patterns!r}."
                )
        self.schedule = {int(e): list(p) for e, p in sorted(schedule.items())}

    def trainable_patterns(self, epoch: int) -> list[str]:
        """Return every pattern whose epoch has come by ``epoch``."""
        return [p for e, patterns in self.schedule.items() if e <= epoch for p in patterns]

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Check the backbone trains in full and every pattern names a weight; apply."""
        backbone = getattr(pl_module, "backbone", None)
        if backbone is None:
            raise ValueError(
                f"UnfreezingSchedule needs a task with a backbone; {type(pl_module).__name__} "
                "has none."
            )
        mode = getattr(backbone, "finetune", "full")
        if mode != "full":
            raise ValueError(
                f"UnfreezingSchedule unfreezes backbone weights, but the backbone is set to "
                f"finetune={mode!r}; set finetune: full, or drop the callback."
            )
        names = [name for name, _ in backbone.named_parameters()]
        for epoch, patterns in self.schedule.items():
            for pattern in patterns:
                if not any(fnmatchcase(n, pattern) for n in names):
                    examples = ", ".join(names[:3] + (["..."] if len(names) > 3 else []))
                    raise ValueError(
                        f"UnfreezingSchedule: pattern {pattern!r} (epoch {epoch}) matches no "
                        f"backbone parameter; names look like {examples}."
                    )
        self._apply(pl_module, trainer.current_epoch)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Unfreeze the parameters whose epoch has come."""
        self._apply(pl_module, trainer.current_epoch)

    def _apply(self, pl_module: pl.LightningModule, epoch: int) -> None:
        patterns = self.trainable_patterns(epoch)
        for name, parameter in pl_module.backbone.named_parameters():
            parameter.requires_grad_(any(fnmatchcase(name, p) for p in patterns))
