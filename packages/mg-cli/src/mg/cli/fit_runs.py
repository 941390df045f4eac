"""The command line of the commands that run `mg fit` many times (``mg cv``, ``mg sweep``)."""

from __future__ import annotations

import argparse

FIT_OPTIONS = (
    "Every other option (--config, --model.*, --data.*, --trainer.*) is read as by `mg fit`"
)
"""The start of such a command's epilog: what happens to the options it does not take."""


def fit_runs_parser(prog: str, description: str, epilog: str = "") -> argparse.ArgumentParser:
    """Return the parser of a command whose own options come first and the rest go to `mg fit`.

    Abbreviations are off, so a shortened `mg fit` option is never read as the command's.

    Args:
        prog (str): the command, e.g. ``"mg cv"``.
        description (str): what it does.
        epilog (str): what follows `FIT_OPTIONS` in the help (starting with ``;`` or ``,``),
            without the final full stop.
    """
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=f"{FIT_OPTIONS}{epilog}.",
        allow_abbrev=False,
    )
