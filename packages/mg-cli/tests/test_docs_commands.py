"""Every `mg` command shown in docs/cli.md parses as shown.

Commands in ``bash`` blocks run through the real entry point. The training commands
(fit, validate, test, predict) run with ``--print_config`` appended, which parses and
checks the whole command line and config without training; ``--help`` forms run as
they are. Config files the page names (``my.yaml``, ``base.yaml``...) stand for one
small SequenceRegression config written here, ``configs/quickstart.yaml`` is the real one.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from cli_helpers import write_config

from mg.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "cli.md"
TRAINING = ("fit", "validate", "test", "predict")


def _commands() -> list[str]:
    """The `mg ...` lines of the page's bash blocks, comments and env settings removed."""
    found, in_bash = [], False
    for line in PAGE.read_text().splitlines():
        if line.startswith("```"):
            in_bash = line.strip() == "```bash"
            continue
        command = line.split("  #")[0].split(" > ")[0].strip()  # no comment, no redirect
        command = re.sub(r"^(\w+=\S+\s+)+", "", command)  # no VAR=value prefix
        if in_bash and command.startswith("mg "):
            found.append(command)
    return found


def test_the_page_shows_commands() -> None:
    commands = _commands()
    assert len(commands) >= 10, commands
    assert "mg fit --model.backbone.help ESM2" in commands


@pytest.mark.parametrize("command", _commands())
def test_documented_command_parses(
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(
        tmp_path,
        **{
            "model.class_path": "SequenceRegression",
            "model.init_args": {
                "backbone": {"class_path": "OneHotDNA"},
                "adapter": {"class_path": "LinearMeanPoolAdapter"},
            },
            "data.init_args.label_type": "regression",
        },
    )
    monkeypatch.chdir(ROOT)  # configs/quickstart.yaml names its data relative to the root
    args = shlex.split(command)[1:]
    args = [
        arg if arg == "configs/quickstart.yaml" or not arg.endswith(".yaml") else str(config)
        for arg in args
    ]
    asks_help = any(a == "--help" or ".help" in a for a in args)
    if args[0] in TRAINING and not asks_help:
        args.append("--print_config")
    try:
        status = main(args)
    except SystemExit as exit_info:
        status = exit_info.code
    captured = capsys.readouterr()
    assert status in (0, None), f"{command}\n{captured.err}"
    assert captured.out.strip(), command
