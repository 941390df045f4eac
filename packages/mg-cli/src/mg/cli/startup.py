"""What every training command sets up first: quiet output and a sane thread count."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

HARMLESS_WARNINGS = (
    # Lightning's own use of a torch API torch deprecated; nothing for a user to change.
    r".*isinstance\(treespec, LeafSpec\)",
    # Small data: epoch-level metrics are still logged.
    r".*is smaller than the logging interval",
    # mg tokenizes in the main process by default; `data.num_workers` is documented.
    r".*does not have many workers",
    # mg predict leaves out fit's checkpoint callback on purpose.
    r".*callbacks used to create the checkpoint need to be provided",
    # mg test/predict log to a run folder of their own, not the fitted run's.
    r".*The dirpath has changed from",
)
"""Messages of third-party warnings that say nothing a user of mg can act on."""

MAX_DEFAULT_THREADS = 4
"""Intra-op threads mg uses unless told otherwise (see docs/cli.md, "Threads")."""


class _NoTips(logging.Filter):
    """Drop Lightning's advertising tips (litlogger, litmodels)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not ("Tip:" in message or "litlogger" in message or "litmodels" in message)


def quiet_start() -> None:
    """Silence third-party tips and known harmless warnings; other warnings still show."""
    for pattern in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    for name in ("lightning.pytorch", "lightning.fabric"):
        for logger in (logging.getLogger(name), logging.getLogger(f"{name}.utilities.rank_zero")):
            if not any(isinstance(f, _NoTips) for f in logger.filters):
                logger.addFilter(_NoTips())
            for handler in logger.handlers:
                if not any(isinstance(f, _NoTips) for f in handler.filters):
                    handler.addFilter(_NoTips())
    from mg.cli.console import quiet_third_party

    quiet_third_party()


def usable_cores() -> int:
    """CPU cores this process may use: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return cores


def default_threads() -> int:
    """Set torch's intra-op threads to ``min(usable cores, 4)`` unless the user chose.

    torch starts one thread per core it sees. Beyond a few threads the small matrices of
    fine-tuning gain little (benchmarks/startup.py). The count never depends on the
    machine's load: float sums differ with the thread count, so two runs of one config
    would round differently, and an exact resume would need the same load as the first
    run. ``OMP_NUM_THREADS`` (or ``MKL_NUM_THREADS``) set by the user wins; on a busy
    shared machine set it to 1. The count is recorded in each run's ``versions.yaml``.

    Returns:
        int: the number of intra-op threads torch uses now.
    """
    import torch

    if "OMP_NUM_THREADS" not in os.environ and "MKL_NUM_THREADS" not in os.environ:
        torch.set_num_threads(min(usable_cores(), MAX_DEFAULT_THREADS))
    return torch.get_num_threads()
