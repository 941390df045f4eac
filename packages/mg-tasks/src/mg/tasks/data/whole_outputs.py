"""What the prediction callbacks of mg-tasks share: one merged result, files written whole.

`ByIdWriter` is their shape: check before the first batch, keep each batch's values by
id, merge every process's at the end and let the first process write.
`merged_from_every_process` gathers each process's ``{id: value}`` to every process;
`staged` gives each output a temporary name beside it and moves it into place only when
everything was written, so a file appears whole or not at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch


def merged_from_every_process(part: dict[str, Any]) -> dict[str, Any]:
    """Return this process's ``{id: value}`` merged with every other process's (under DDP)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return part
    parts: list[dict[str, Any] | None] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(parts, part)
    return {key: value for each in parts if each for key, value in each.items()}


@contextmanager
def staged(paths: Sequence[Path]) -> Iterator[dict[Path, Path]]:
    """Yield a temporary path beside each target (same suffix); move them in place on success.

    Whatever happens, no temporary file is left behind.
    """
    temporary = {path: path.with_name(f".part-{path.name}") for path in paths}
    try:
        yield temporary
        for path, part in temporary.items():
            os.replace(part, path)
    finally:
        for part in temporary.values():
            part.unlink(missing_ok=True)


class ByIdWriter(pl.Callback):
    """A prediction callback that keeps values by id and writes them once, at the end.

    Subclasses say what to refuse before the first batch (`check`), what a batch's
    outputs hold (`by_id`) and how to write the merged values (`write`, first process only).
    """

    def __init__(self) -> None:
        self._kept: dict[str, Any] = {}

    def check(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Raise before the first batch for data, tasks or outputs that cannot be written."""

    def by_id(self, outputs: Any) -> dict[str, Any]:
        """Return a batch's values by id (raise for outputs of the wrong shape)."""
        raise NotImplementedError

    def write(self, trainer: pl.Trainer, values: dict[str, Any]) -> None:
        """Write every process's values (called on the first process only)."""
        raise NotImplementedError

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Run `check`, then start with nothing kept."""
        self.check(trainer, pl_module)
        self._kept = {}

    def on_predict_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Keep the batch's values by id."""
        self._kept.update(self.by_id(outputs))

    def on_predict_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Merge every process's values; the first process writes them."""
        values = merged_from_every_process(self._kept)
        if trainer.is_global_zero:
            self.write(trainer, values)
