"""The ``mg`` command: dispatch to a subcommand, importing only what it needs.

``mg --help``, ``mg --version`` and ``mg list`` never import torch or transformers;
the training subcommands load them when they run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

TRAINING = ("fit", "validate", "test", "predict")
COMMANDS = ("init", *TRAINING, "cv", "sweep", "export", "list", "check", "matrix", "report")

HELP = """\
usage: mg <command> [options]

Adapt pretrained DNA, RNA and protein models to your task.

Start here (an empty folder; writes example data and a config, then trains on it):
  init       mg init && mg fit --config quickstart.yaml

Training (Lightning CLI; `mg <command> --help` lists every option):
  fit        train a task:            mg fit --config my.yaml
  validate   run the validation split of a trained task
  test       run the test split and report metrics
  predict    write predictions (TSV, Parquet or .pt) with their ids
  cv         k-fold cross-validation: every fold, then mean ± sd of the test metrics
  sweep      hyperparameter search (Optuna): mg sweep --config my.yaml --space s.yaml --trials 20
  export     a trained task as a folder (Hugging Face backbone, safetensors, config)

Inspecting:
  list       registered backbones, adapters, tasks and data modules: mg list [KIND]
  check      check a config without loading weights:   mg check --config my.yaml
  matrix     the backbone x adapter x task table:    mg matrix [--format text|markdown|json]
  report     pictures of a run, a sweep or embedded cells: mg report runs/mg/version_0

Options:
  -h, --help     show this message
  --version      show the versions of every installed mg distribution

Configs compose: later --config files and --key value options override earlier ones.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mg`` command.

    Args:
        argv (Sequence[str] | None): arguments after ``mg``; defaults to ``sys.argv[1:]``.

    Returns:
        int: the exit status.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else None
    if command in (None, "-h", "--help", "help"):
        print(HELP, end="")
        return 0
    if command == "--version":
        from mg.cli.runinfo import mg_versions

        for name, version in mg_versions().items():
            print(f"{name} {version}")
        return 0
    if command in TRAINING or command in ("check", "cv"):
        # A missing or malformed config file is reported before Lightning loads (seconds).
        from mg.cli.config_files import check_config_files

        check_config_files(args[1:])
    if command == "init":
        from mg.cli.starter import main as init_main

        return init_main(args[1:])
    if command == "list":
        from mg.cli.listing import main as list_main

        return list_main(args[1:])
    if command == "matrix":
        from mg.cli.matrix import main as matrix_main

        return _guarded(matrix_main, args[1:])
    if command == "check":
        from mg.cli.check import main as check_main

        return _guarded(check_main, args[1:])
    if command == "cv":
        from mg.cli.cv import main as cv_main

        return _guarded(cv_main, args[1:])
    if command == "sweep":
        from mg.cli.sweep import main as sweep_main

        return _guarded(sweep_main, args[1:])
    if command == "export":
        from mg.cli.export import main as export_main

        return _guarded(export_main, args[1:])
    if command == "report":
        from mg.cli.report import main as report_main

        return _guarded(report_main, args[1:])
    if command in TRAINING:
        from mg.cli.listing import component_help

        if (text := component_help(command, args[1:])) is not None:
            print(text, end="")
            return 0
        from mg.cli.lightning import run

        return _guarded(run, args)
    print(
        f"mg: unknown command {command!r}. Commands: {', '.join(COMMANDS)}.\n"
        "Run `mg --help` for usage.",
        file=sys.stderr,
    )
    return 2


def _guarded(command: object, args: list[str]) -> int:
    """Run a subcommand; turn a user-facing error into one line and a non-zero status."""
    from mg.cli.errors import USER_ERRORS, describe

    try:
        return int(command(args) or 0)  # type: ignore[operator]
    except (*USER_ERRORS, ImportError) as error:
        # A missing optional package says how to install it; any other ImportError is a bug.
        missing_extra = not isinstance(error, ImportError) or "pip install" in str(error)
        if os.environ.get("MG_DEBUG") == "1" or not missing_extra:
            raise
        print(f"mg: error: {describe(error)}", file=sys.stderr)
        print("(set MG_DEBUG=1 for the full traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
