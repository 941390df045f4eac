"""Turn jsonargparse's parse errors into one actionable sentence.

jsonargparse reports every union member it tried, and argparse prints a usage dump. For
the mistakes users actually make — a misspelt class name or option in any group, an
adapter of the wrong type, malformed YAML, an empty ``init_args:`` — we name the
component (or file and line), say what is wrong and suggest the fix, in one line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from mg.cli.config_files import _short, check_config_files, config_files, fail
from mg.core.compat import adapter_reasons
from mg.core.registry import GROUPS, PluginNotFoundError, load, plugins
from mg.core.signatures import init_options

KIND_OF_KEY = {"model": "tasks", "data": "data", "backbone": "backbones", "adapter": "adapters"}
NOUN = {"tasks": "task", "data": "data module", "backbones": "backbone", "adapters": "adapter"}

_CLASS_PATH = re.compile(r"class_path '([\w.]+)'")
# The class whose options were being parsed, as jsonargparse shows the value it got.
_GOT_CLASS = re.compile(r"Got value: Namespace\(class_path='([\w.]+)'")
# From the command line jsonargparse says "Expected a path but X either not accessible";
# from a config file, "Expected a dot import path string: X".
_BAD_PATH = re.compile(
    r'Parser key "(\w+)":\s*(?:- )?Expected a (?:path but ([\w.]+) either not|dot import path '
    r"string: ([\w.]+))"
)
_BAD_OPTION = re.compile(r"Option '(\w+)' is not accepted")
_BAD_VALUE = re.compile(
    r"Parser key \"(\w+)\": Expected an? (?:<class '(\w+)'>|(.+?))\. Got value: (\S+)"
)
_UNRECOGNIZED = re.compile(r"unrecognized arguments: (\S+)")
_NOT_ACCEPTED_KEY = re.compile(r"does not accept (?:option|key) '([\w.]+)'")
_EMPTY_INIT_ARGS = "'NoneType' object has no attribute 'keys'"
_BAD_YAML = re.compile(r"Problems parsing config: (.*?) in \"<unicode string>\", line (\d+)")


def explain(message: str, options: Iterable[str] = (), command: str = "mg fit") -> str | None:
    """Return a clearer, one-line message for a known kind of parse error, or None.

    Args:
        message (str): the parser's message.
        options (Iterable[str]): the option names the parser accepts (``trainer.max_epochs``),
            to suggest the closest to a misspelt one.
        command (str): the command, for the pointer to its ``--help``.
    """
    flat = " ".join(message.split())
    if match := _BAD_PATH.search(flat):
        key, value = match.group(1), match.group(2) or match.group(3)
        return _explain_class(key, value, _owner(flat, match.start()))
    if match := _BAD_OPTION.search(flat):
        return _explain_option(match.group(1), _option_owner(message, match.group(0), flat))
    if match := _BAD_VALUE.search(flat):
        owner = _owner(flat, match.start())
        where = f"{_short(owner)}'s option" if owner else "option"
        expected = match.group(2) or match.group(3)
        return f"{where} {match.group(1)!r} expects {_a(expected)}, got {match.group(4)}."
    if match := _UNRECOGNIZED.search(flat):
        return _explain_unknown(match.group(1).split("=", 1)[0], options, command)
    if match := _NOT_ACCEPTED_KEY.search(flat):
        return _explain_unknown(match.group(1), options, command)
    if _EMPTY_INIT_ARGS in flat:
        owner = _GOT_CLASS.search(flat) or _CLASS_PATH.search(flat)
        name = _short(owner.group(1)) if owner else "a class"
        return (
            f"`init_args:` of {name} is empty: give its options indented below it, or delete "
            "the `init_args:` line."
        )
    if reason := union_reason(message):
        return reason
    if match := _BAD_YAML.search(flat):
        return (
            f"malformed YAML at line {match.group(2)}: {match.group(1).strip()} (check the "
            "indentation and brackets there)."
        )
    return None


def union_reason(message: str) -> str | None:
    """The one real error of an optional component's "any of the Union subtypes" report.

    An optional section (``data``, ``lr_scheduler``) is a union with None; when its class
    refuses a value, jsonargparse lists the class's error beside "Expected a NoneType" and
    dumps the whole section. The class's own message names the option and the fix.
    """
    if "Does not validate against any of the Union subtypes" not in message:
        return None
    errors = re.findall(r"^\s*- (.+)$", message, flags=re.MULTILINE)
    real = [e for e in errors if "NoneType" not in e]
    if len(real) != 1:
        return None
    given = re.search(r"class_path='([\w.]+)'", message)
    owner = f"{_short(given.group(1))}: " if given else ""
    return f"{owner}{real[0].strip()}"


def _owner(flat: str, before: int) -> str | None:
    """The innermost class whose options were being parsed where the error arose."""
    paths = _CLASS_PATH.findall(flat[:before])
    return paths[-1] if paths else None


def _option_owner(message: str, error: str, flat: str) -> str | None:
    """The class an unaccepted option was given to.

    A nested component (an adapter or backbone inside a task) reports its own class on the
    line of the error; otherwise the innermost class named before the error owns it.
    """
    for line in message.splitlines():
        if error in line and (got := _GOT_CLASS.search(line)):
            return got.group(1)
    return _owner(flat, flat.find(error))


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _explain_class(key: str, value: str, owner: str | None) -> str | None:
    kind = KIND_OF_KEY.get(key)
    if kind is None:
        return None
    name = _short(value)
    if name in plugins(kind) and kind == "adapters" and owner:
        reasons = adapter_reasons(_import(owner), load(kind, name))
        if reasons:
            return f"{_short(owner)} + {name}: {reasons[0]}"
    for other in GROUPS:
        if other != kind and name in plugins(other):
            return (
                f"{name} is {_a(NOUN[other])}, not {_a(NOUN[kind])}: the {key!r} option takes "
                f"{_a(NOUN[kind])} (`mg list {kind}` shows them)."
            )
    registered = list(plugins(kind))
    close = difflib.get_close_matches(name, registered, n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    return (
        f"Unknown {NOUN[kind]} {name!r} for the {key!r} option.{hint} Registered: "
        f"{', '.join(registered) or 'none'} (or give a full import path)."
    )


def _kind_of(cls: type) -> str | None:
    """The registry kind (``"adapters"``, ...) a class is registered under, if any."""
    for kind in GROUPS:
        if plugins(kind).get(cls.__name__) is not None and load(kind, cls.__name__) is cls:
            return kind
    return None


def _explain_option(option: str, owner: str | None) -> str | None:
    if owner is None:
        return None
    try:
        cls = _import(owner)
    except (ImportError, AttributeError, PluginNotFoundError):
        return None
    accepted = _options_of(cls)
    close = difflib.get_close_matches(option, accepted, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    kind = _kind_of(cls)
    subject = f"The {NOUN[kind]} {cls.__name__}" if kind else cls.__name__
    listed = ", ".join(accepted) if accepted else "none"
    return f"{subject} has no option {option!r}.{hint} Its options: {listed}."


def _explain_unknown(given: str, options: Iterable[str], command: str) -> str:
    """An option no parser group knows: suggest the closest one of the same group first."""
    name = given.lstrip("-")
    dashes = "--" if given.startswith("--") else ""
    known = sorted(set(options))
    group = name.split(".", 1)[0] + "."
    same_group = [o for o in known if o.startswith(group)]
    close = difflib.get_close_matches(name, same_group, n=1, cutoff=0.6) or (
        difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    )
    hint = f" Did you mean {dashes}{close[0]}?" if close else ""
    return f"unknown option {dashes}{name}.{hint} (`{command} --help` lists every option.)"


def _options_of(cls: type) -> list[str]:
    """Constructor options of a class, following ``**kwargs`` into its bases."""
    return list(init_options(cls))


def _import(path: str) -> type:
    if "." not in path:
        for kind in GROUPS:
            if path in plugins(kind):
                return load(kind, path)
    module, _, attribute = path.rpartition(".")
    return getattr(__import__(module, fromlist=[attribute]), attribute)


# ---------------------------------------------------------------- config files

__all__ = ["check_config_files", "config_files", "explain", "fail"]
