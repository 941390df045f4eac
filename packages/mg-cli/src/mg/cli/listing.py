"""``mg list``: registered components with their package and a one-line description.

Reads entry points and source text only, so it starts without torch.
"""

from __future__ import annotations

import argparse
import inspect
import re
from collections.abc import Sequence

from mg.core.registry import GROUPS, plugins

_COMPONENT_HELP = {
    f"--model.{inner}{part}.help": part
    for part in ("backbone", "adapter")
    for inner in ("", "init_args.")
}
"""The options that ask for the options of a task's backbone or adapter class."""


def main(args: list[str]) -> int:
    """Print the registered plugins of one kind, or of every kind."""
    parser = argparse.ArgumentParser(
        prog="mg list", description=__doc__.splitlines()[0], allow_abbrev=False
    )
    parser.add_argument("kind", nargs="?", choices=sorted(GROUPS), help="only this kind")
    options = parser.parse_args(args)
    kinds = [options.kind] if options.kind else list(GROUPS)
    for index, kind in enumerate(kinds):
        found = plugins(kind)
        if index:
            print()
        print(f"{kind} ({len(found)})")
        if not found:
            print("  (none registered: install a package that provides some)")
        width = max((len(name) for name in found), default=0)
        for name, plugin in found.items():
            source = f"[{plugin.distribution} {plugin.version}]"
            print(f"  {name:<{width}}  {plain(plugin.summary()) or '-'}  {source}")
    return 0


def plain(text: str | None) -> str:
    """A docstring line as plain text: ``n_classes`` and `SequenceData` lose their quotes."""
    return re.sub(r"``?([^`]+)``?", r"\1", text or "")


def component_help(command: str, args: Sequence[str]) -> str | None:
    """The help text of a backbone or adapter class, if the command line asks for it.

    ``mg fit --model.backbone.help ESM2`` lists ESM2's options without a task chosen first
    (the Lightning CLI knows nested classes only once the task is set). The arguments the
    task fills in itself (positional-only) are left out: the user cannot set them.

    Args:
        command (str): the subcommand (``"fit"``, ...), for the usage line.
        args (Sequence[str]): the options after the subcommand.

    Returns:
        str | None: the help text, or None when no backbone or adapter help was asked for.
    """
    for index, arg in enumerate(args):
        option, _, value = arg.partition("=")
        if option not in _COMPONENT_HELP:
            continue
        if not value:
            if index + 1 >= len(args):
                return None
            value = args[index + 1]
        return _class_help(command, option, _COMPONENT_HELP[option], value)
    return None


def _class_help(command: str, option: str, key: str, name: str) -> str:
    from jsonargparse import ArgumentParser

    from mg.cli.parse_errors import _explain_class, _import, fail

    try:
        cls = _import(name)
    except (ImportError, AttributeError, ValueError):
        fail(_explain_class(key, name, None) or f"Unknown {key} class {name!r}.")
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    injected = sum(p.kind is p.POSITIONAL_ONLY for p in parameters)
    parser = ArgumentParser(prog=f"mg {command} {option} {name}", exit_on_error=False)
    parser.add_class_arguments(cls, key, skip={injected} if injected else None)
    return parser.format_help()
