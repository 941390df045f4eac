"""Plugins found through entry points.

mg's own packages and third-party ones register components the same way, in their
``pyproject.toml``::

    [project.entry-points."mg.adapters"]
    MyAdapter = "my_package.heads:MyAdapter"

Listing plugins reads only package metadata and source text: nothing is imported
(so ``mg list`` starts without torch). A plugin's class is imported when loaded.
"""

from __future__ import annotations

import ast
import functools
import importlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

GROUPS: dict[str, str] = {
    "backbones": "mg.backbones",
    "adapters": "mg.adapters",
    "tasks": "mg.tasks",
    "data": "mg.data",
    "formats": "mg.formats",
}
"""Plugin kind → entry-point group."""


class PluginNotFoundError(LookupError):
    """Raised when no plugin of a kind has the requested name."""


@dataclass(frozen=True)
class Plugin:
    """One registered component.

    Attributes:
        kind (str): ``"backbones"``, ``"adapters"``, ``"tasks"``, ``"data"`` or ``"formats"``.
        name (str): the short name users type, e.g. ``"LinearCLSAdapter"``.
        target (str): ``"module:attribute"``.
        distribution (str): the distribution that registered it, e.g. ``"mg-adapters"``.
        version (str): that distribution's version.
    """

    kind: str
    name: str
    target: str
    distribution: str
    version: str

    @property
    def module(self) -> str:
        """The module that defines the component."""
        return self.target.partition(":")[0]

    @property
    def attribute(self) -> str:
        """The component's name inside its module."""
        return self.target.partition(":")[2]

    def load(self) -> type:
        """Import and return the component."""
        return getattr(importlib.import_module(self.module), self.attribute)

    def summary(self) -> str:
        """Return the first line of the component's docstring, read without importing it."""
        return _docstring_summary(self.distribution, self.module, self.attribute)


def plugins(kind: str) -> dict[str, Plugin]:
    """Return every registered plugin of ``kind`` by name, sorted by name.

    Args:
        kind (str): a key of `GROUPS`.

    Raises:
        KeyError: ``kind`` is not a plugin kind.
    """
    if kind not in GROUPS:
        raise KeyError(f"Unknown plugin kind {kind!r}; choose one of {sorted(GROUPS)}.")
    found: dict[str, Plugin] = {}
    for entry in metadata.entry_points(group=GROUPS[kind]):
        dist = entry.dist
        found.setdefault(
            entry.name,
            Plugin(
                kind=kind,
                name=entry.name,
                target=entry.value,
                distribution=dist.metadata["Name"] if dist else "?",
                version=dist.version if dist else "?",
            ),
        )
    return dict(sorted(found.items()))


def load(kind: str, name: str) -> type:
    """Import the plugin of ``kind`` called ``name``.

    Raises:
        PluginNotFoundError: no such plugin; the message lists the ones there are.
    """
    registered = plugins(kind)
    if name not in registered:
        raise PluginNotFoundError(
            f"No {kind[:-1] if kind != 'data' else 'data module'} named {name!r}. Registered: "
            f"{', '.join(registered) or 'none'}. Install the package that provides it."
        )
    return registered[name].load()


def load_all(kind: str) -> dict[str, type]:
    """Import every plugin of ``kind``; returns name → class."""
    return {name: plugin.load() for name, plugin in plugins(kind).items()}


@functools.cache
def _docstring_summary(distribution: str, module: str, attribute: str) -> str:
    source = _module_source(distribution, module)
    if source is None:
        return ""
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.name == attribute:
            doc = ast.get_docstring(node) or ""
            return doc.strip().splitlines()[0] if doc.strip() else ""
    return ""


def _module_source(distribution: str, module: str) -> str | None:
    """Read a module's source from its distribution's files, without importing it."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return None
    relative = module.replace(".", "/")
    candidates = (f"{relative}.py", f"{relative}/__init__.py")
    roots: list[Path] = []
    for file in dist.files or ():
        name = str(file).replace("\\", "/")
        if name.endswith(candidates):
            path = Path(file.locate())
            if path.exists():
                return path.read_text(encoding="utf-8")
        elif name.endswith(".pth"):
            # Editable installs list a path file naming the source roots instead.
            text = Path(file.locate()).read_text(encoding="utf-8")
            roots += [Path(line) for line in text.split() if not line.startswith("import")]
    for root in roots:
        for candidate in candidates:
            if (root / candidate).exists():
                return (root / candidate).read_text(encoding="utf-8")
    return None
