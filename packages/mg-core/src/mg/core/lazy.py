"""Package attributes imported on first use, so importing a package stays cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, list[str]], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``__getattr__`` and ``__dir__`` for a package of lazy names.

    Use in a package's ``__init__.py``, after its ``__all__``::

        __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

    Args:
        package (str): the package's name, for error messages.
        exports (dict[str, list[str]]): module → names it defines that the package exports.
        namespace (dict[str, Any]): the package's globals; a name is cached there once
            imported, so later lookups skip ``__getattr__``.

    Returns:
        tuple: ``__getattr__`` and ``__dir__``.
    """
    module_of = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in module_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_of[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *module_of})

    return __getattr__, __dir__
