"""Listing plugins must not pay for torch: mg.core loads its interfaces lazily."""

import subprocess
import sys


def test_registry_imports_without_torch() -> None:
    code = "import sys, mg.core.registry; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_names_resolve_on_first_use() -> None:
    import mg.core

    assert mg.core.TaskInterface.__name__ == "TaskInterface"
    assert set(mg.core.__all__) <= set(dir(mg.core))
