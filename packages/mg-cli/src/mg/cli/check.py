"""``mg check``: parse a config and check its parts fit, without loading any weights."""

from __future__ import annotations

import argparse
import sys

from mg.cli.lightning import MGCLI


def main(args: list[str]) -> int:
    """Build the task and data module from the config (no weights) and report."""
    parser = argparse.ArgumentParser(
        prog="mg check",
        description="Check that a config's task, backbone, adapter and data fit together.",
        epilog="Other options (--config, --model.*, --data.*) are read as by `mg fit`.",
        allow_abbrev=False,
    )
    parser.add_argument("--stage", default="fit", choices=["fit", "validate", "test", "predict"])
    options, rest = parser.parse_known_args(args)
    cli = MGCLI(rest, run=False)
    report = cli.model.check_data(cli.datamodule, options.stage)
    # The verdict is the last thing printed: end it with a newline, flushed, so the shell
    # prompt (or the next tool in a pipe) starts on a line of its own.
    verdict = (
        f"{report.triple()}: compatible for {options.stage}; data provides "
        f"{sorted(cli.datamodule.provided_columns(options.stage))}"
    )
    sys.stdout.write(verdict + "\n")
    sys.stdout.flush()
    return 0
