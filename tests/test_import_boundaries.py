"""The dependency arrows of DESIGN.md section 2, checked on the sources.

At run time the per-distribution nox sessions prove the same thing: mg-core, mg-adapters
and mg-tasks are each installed and tested in an environment without transformers.
(Where transformers is installed, lightning's torchmetrics imports it on its own.)"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGES = Path(__file__).parents[1] / "packages"
# What each distribution's source may import, beyond the standard library and itself.
ALLOWED = {
    "mg-core": {"torch", "lightning", "torchmetrics", "pytest"},
    "mg-adapters": {"torch", "mg.core"},
    "mg-backbones": {
        "torch",
        "mg.core",
        "transformers",
        "tokenizers",
        "peft",
        "huggingface_hub",
        "safetensors",
    },
    "mg-tasks": {
        "torch",
        "lightning",
        "torchmetrics",
        "mg.core",
        "mg.adapters",
        "pandas",
        "numpy",
        "pyarrow",
        "datasets",
    },
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _allowed(name: str, own: str, allowed: set[str]) -> bool:
    root = name.split(".")[0]
    if root in sys.stdlib_module_names or root == "__future__":
        return True
    return any(name == a or name.startswith(a + ".") for a in {*allowed, own})


@pytest.mark.parametrize("distribution", sorted(ALLOWED))
def test_sources_import_only_what_the_design_allows(distribution: str) -> None:
    own = "mg." + distribution.removeprefix("mg-")
    bad = {
        f"{path.relative_to(PACKAGES)}: {name}"
        for path in (PACKAGES / distribution / "src").rglob("*.py")
        for name in _imports(path)
        if not _allowed(name, own, ALLOWED[distribution])
    }
    assert not bad, f"{distribution} imports outside its boundary: {sorted(bad)}"


def test_no_distribution_ships_a_namespace_init() -> None:
    offenders = list(PACKAGES.glob("*/src/mg/__init__.py"))
    assert not offenders, f"mg is a namespace package; remove {offenders}"
