"""Which errors are the user's to fix, and how to show them in one message."""

from __future__ import annotations

from mg.core.compat import IncompatibleError
from mg.core.registry import PluginNotFoundError

USER_ERRORS: tuple[type[BaseException], ...] = (
    IncompatibleError,
    PluginNotFoundError,
    FileNotFoundError,
    NotADirectoryError,
    PermissionError,
    ValueError,
    OSError,
    KeyError,
)
"""Errors that bad input raises: a config, a file, a model path. Shown without traceback."""


def describe(error: BaseException) -> str:
    """Return the message of an error, without a KeyError's quotes."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error)
