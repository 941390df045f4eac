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
    """Return the message of an error, without a KeyError's quotes or a union type's dump.

    A class refusing a value while the config is instantiated reaches here wrapped in
    jsonargparse's report of every union member it tried; only the class's own sentence
    (which names the option and the fix) is shown.
    """
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    message = str(error)
    if "Does not validate against any of the Union subtypes" in message:
        from mg.cli.parse_errors import union_reason

        return union_reason(message) or message
    return message
