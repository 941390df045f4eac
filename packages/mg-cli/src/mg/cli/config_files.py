"""The ``--config`` files of a command line, read as YAML before anything heavy loads.

Torch-free on purpose: ``mg`` runs `check_config_files` before importing Lightning, so a
missing file or a YAML mistake is reported in well under a second.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

WHERE_CONFIGS_COME_FROM = (
    "`mg init` writes an example config (quickstart.yaml) and its data into the current "
    "folder; relative paths are read from the folder you run mg in"
)
"""What a missing-config message says about where configs come from."""


def fail(message: str) -> NoReturn:
    """Print one ``mg: error:`` line and exit with status 2, as a parse error does."""
    print(f"mg: error: {message}", file=sys.stderr)
    sys.exit(2)


def _short(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def config_files(args: Sequence[str]) -> list[str]:
    """The files given with ``--config``/``-c`` in a command line, in order."""
    found: list[str] = []
    for index, arg in enumerate(args):
        if arg in ("--config", "-c") and index + 1 < len(args):
            found.append(args[index + 1])
        elif arg.startswith("--config="):
            found.append(arg.split("=", 1)[1])
    return found


def check_config_files(args: Sequence[str]) -> None:
    """Read every ``--config`` file as YAML first, so a mistake names its file and line.

    Exits with one ``mg: error:`` line (status 2) for a missing file, malformed YAML, or an
    empty ``init_args:``; jsonargparse would report these without the file, or in a dump.

    Args:
        args (Sequence[str]): the command line after the subcommand.
    """
    import yaml

    for name in config_files(args):
        if "\n" in name or name.lstrip().startswith("{"):
            continue  # config text given inline, which jsonargparse reads itself
        path = Path(name)
        if not path.is_file() and ":" in name:
            continue
        if not path.is_file():
            fail(f"config file {name} not found in {Path.cwd()}: {WHERE_CONFIGS_COME_FROM}.")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            fail(f"config file {name} is not UTF-8 text ({error.reason} at byte {error.start}).")
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = error.problem or error.context or "not valid YAML"
            fail(f"{name}{where}: malformed YAML: {problem} (check the indentation and brackets).")
        except yaml.YAMLError as error:
            fail(f"{name}: malformed YAML: {error}.")
        if root is not None:
            _check_init_args(name, root)


def _check_init_args(name: str, node: object) -> None:
    """Fail on a mapping whose ``init_args`` key has no value."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        pairs = {key.value: value for key, value in node.value if isinstance(key, yaml.ScalarNode)}
        empty = pairs.get("init_args")
        if (
            isinstance(empty, yaml.ScalarNode)
            and empty.tag == "tag:yaml.org,2002:null"
            and empty.value in ("", "~", "null", "Null", "NULL")
        ):
            owner = pairs.get("class_path")
            label = _short(owner.value) if isinstance(owner, yaml.ScalarNode) else "a class"
            line = next(k.start_mark.line + 1 for k, v in node.value if v is empty)
            fail(
                f"{name} line {line}: `init_args:` of {label} is empty: give its options "
                "indented below it, or delete the `init_args:` line."
            )
        for _, value in node.value:
            _check_init_args(name, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_init_args(name, item)
