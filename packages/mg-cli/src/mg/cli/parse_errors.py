"""Turn jsonargparse's nested "does not validate" reports into one actionable sentence.

jsonargparse reports every union member it tried. For the mistakes users actually make —
a misspelt class name, an adapter of the wrong type, a misspelt option — we name the
component, say what is wrong and suggest the fix.
"""

from __future__ import annotations

import difflib
import inspect
import re

from mg.core.compat import adapter_reasons
from mg.core.registry import GROUPS, PluginNotFoundError, load, plugins

KIND_OF_KEY = {"model": "tasks", "data": "data", "backbone": "backbones", "adapter": "adapters"}
NOUN = {"tasks": "task", "data": "data module", "backbones": "backbone", "adapters": "adapter"}

_CLASS_PATH = re.compile(r"class_path '([\w.]+)'")
# From the command line jsonargparse says "Expected a path but X either not accessible";
# from a config file, "Expected a dot import path string: X".
_BAD_PATH = re.compile(
    r'Parser key "(\w+)":\s*(?:- )?Expected a (?:path but ([\w.]+) either not|dot import path '
    r"string: ([\w.]+))"
)
_BAD_OPTION = re.compile(r"Option '(\w+)' is not accepted")


def explain(message: str) -> str | None:
    """Return a clearer message for a known kind of parse error, or None."""
    flat = " ".join(message.split())
    if match := _BAD_PATH.search(flat):
        key, value = match.group(1), match.group(2) or match.group(3)
        return _explain_class(key, value, _owner(flat, match.start()))
    if match := _BAD_OPTION.search(flat):
        return _explain_option(match.group(1), _owner(flat, match.start()))
    return None


def _owner(flat: str, before: int) -> str | None:
    """The innermost class whose options were being parsed where the error arose."""
    paths = _CLASS_PATH.findall(flat[:before])
    return paths[-1] if paths else None


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _short(path: str) -> str:
    return path.rsplit(".", 1)[-1]


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
    return f"{cls.__name__} has no option {option!r}.{hint} Its options: {', '.join(accepted)}."


def _options_of(cls: type) -> list[str]:
    """Constructor options of a class, following ``**kwargs`` into its bases."""
    names: list[str] = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = list(inspect.signature(klass.__init__).parameters.values())[1:]
        names += [
            p.name
            for p in parameters
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in names
        ]
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return names


def _import(path: str) -> type:
    if "." not in path:
        for kind in GROUPS:
            if path in plugins(kind):
                return load(kind, path)
    module, _, attribute = path.rpartition(".")
    return getattr(__import__(module, fromlist=[attribute]), attribute)
