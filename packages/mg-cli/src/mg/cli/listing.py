"""``mg list``: registered components with their package and a one-line description.

Reads entry points and source text only, so it starts without torch.
"""

from __future__ import annotations

import argparse

from mg.core.registry import GROUPS, plugins


def main(args: list[str]) -> int:
    """Print the registered plugins of one kind, or of every kind."""
    parser = argparse.ArgumentParser(prog="mg list", description=__doc__.splitlines()[0])
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
            print(f"  {name:<{width}}  {plugin.summary() or '-'}  {source}")
    return 0
