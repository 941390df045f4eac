"""The options a class's constructor takes, its own and those it passes on to its bases.

A backbone declares options shared by a family of classes once, on a base, and each
subclass passes them on with ``**options`` (jsonargparse follows such calls the same way,
so configs keep them as flat keys). Code that asks "which options does this class take?"
reads them here rather than from ``inspect.signature`` of one ``__init__``.
"""

from __future__ import annotations

import inspect

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def init_options(cls: type) -> dict[str, inspect.Parameter]:
    """Return the named options of ``cls``'s constructor, following ``**kwargs`` into bases.

    The walk goes down the MRO while an ``__init__`` takes ``**kwargs``; a subclass's
    declaration of an option wins over its base's.

    Args:
        cls (type): the class.

    Returns:
        dict[str, inspect.Parameter]: option name → parameter (its default and annotation),
        without ``self`` and positional-only (reserved) arguments.
    """
    options: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass) or klass is object:
            continue
        parameters = list(inspect.signature(klass.__init__).parameters.values())[1:]
        for parameter in parameters:
            if parameter.kind in _NAMED:
                options.setdefault(parameter.name, parameter)
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            break
    return options
