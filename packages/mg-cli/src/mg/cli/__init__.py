"""mg-cli: the ``mg`` command (fit, validate, test, predict, cv, export, report, ...).

``mg.cli.load(DIR)`` returns the task an ``mg export`` folder holds.
"""

from typing import Any

from mg.cli.main import main

__all__ = ["load", "main"]


def __getattr__(name: str) -> Any:
    # Imported on use: `mg --help` must not pay for torch and lightning.
    if name == "load":
        from mg.cli.export import load

        return load
    raise AttributeError(f"module 'mg.cli' has no attribute {name!r}")
