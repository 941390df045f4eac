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

from torch import nn

from mg.tasks.unfreezing import EpochUnfreezing


class UnfreezingSchedule(EpochUnfreezing):
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

    def check_backbone(self, backbone: nn.Module) -> None:
        """Check that every pattern names a backbone weight."""
        names = [name for name, _ in backbone.named_parameters()]
        for epoch, patterns in self.schedule.items():
            for pattern in patterns:
                if not any(fnmatchcase(n, pattern) for n in names):
                    examples = ", ".join(names[:3] + (["..."] if len(names) > 3 else []))
                    raise ValueError(
                        f"UnfreezingSchedule: pattern {pattern!r} (epoch {epoch}) matches no "
                        f"backbone parameter; names look like {examples}."
                    )

    def set_trainable(self, backbone: nn.Module, epoch: int) -> None:
        """Train the parameters whose patterns' epoch has come; freeze the rest."""
        patterns = self.trainable_patterns(epoch)
        for name, parameter in backbone.named_parameters():
            parameter.requires_grad_(any(fnmatchcase(name, p) for p in patterns))
