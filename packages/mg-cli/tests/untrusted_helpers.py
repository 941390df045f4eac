"""Test callbacks that play another job sharing the machine with an `mg` command."""

from __future__ import annotations

import os
from pathlib import Path

from lightning.pytorch.callbacks import Callback


class OtherJobWrites(Callback):
    """After the first predicted batch, another job creates ``path`` as any careful job would.

    It creates the file exclusively and records in ``marker`` whether it could
    (``created``) or found the name taken (``refused``).

    Args:
        path (str): the file the other job wants.
        marker (str): where to record what happened.
    """

    def __init__(self, path: str, marker: str) -> None:
        self.path = path
        self.marker = marker

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *args) -> None:
        if batch_idx != 0:
            return
        try:
            handle = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            Path(self.marker).write_text("refused")
            return
        os.write(handle, b"the other job's results\n")
        os.close(handle)
        Path(self.marker).write_text("created")
