"""mg-cli: the ``mg`` command (fit, validate, test, predict, list, check, matrix)."""

from mg.cli.main import main

__all__ = ["main"]
