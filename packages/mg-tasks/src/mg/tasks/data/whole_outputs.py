"""What the prediction callbacks of mg-tasks share: one merged result, files written whole.

`merged_from_every_process` gathers each process's ``{id: value}`` to every process (the
first one writes); `staged` gives each output a temporary name beside it and moves it
into place only when everything was written, so a file appears whole or not at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
