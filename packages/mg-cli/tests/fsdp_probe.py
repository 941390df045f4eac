"""A callback the FSDP test adds to `mg fit`: it writes which modules FSDP wrapped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback

WRAPPED = "_fsdp_wrapped_module."


class RecordFSDPUnits(Callback):
    """On rank 0, write the task-relative names of the FSDP units to ``path`` (JSON)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        from torch.distributed.fsdp import FullyShardedDataParallel

        units = [
            name.replace(WRAPPED, "").removesuffix("._fsdp_wrapped_module")
            for name, module in trainer.strategy.model.named_modules()
            if isinstance(module, FullyShardedDataParallel)
        ]
        if trainer.global_rank == 0:
            self.path.write_text(json.dumps(units))
