"""The compatibility-matrix page: generated from the registry, and the fallback agrees."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from doc_blocks import DOCS

from mg.cli.matrix import compute_matrix
from mg.core.registry import plugins


def _generator():
    spec = importlib.util.spec_from_file_location("gen_matrix_under_test", DOCS / "gen_matrix.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_names_every_registered_component(tmp_path: Path) -> None:
    generator = _generator()
    target = tmp_path / "matrix.md"
    assert generator.write(target) is True
    assert generator.write(target) is False, "an unchanged page must not be rewritten"
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# Compatibility matrix")
    for kind in ("tasks", "backbones", "adapters"):
        missing = [name for name in plugins(kind) if name not in text]
        assert not missing, f"the matrix page lacks these {kind}: {missing}"


def test_the_fallback_counts_the_same_compatible_triples_as_mg_matrix() -> None:
    computed = _generator()._computed()
    found = re.search(r"(\d+) compatible \(task, backbone, adapter\) combinations", computed)
    assert found, computed[-500:]
    reports = compute_matrix()
    assert int(found.group(1)) == sum(report.compatible for report in reports)
    for report in reports:
        if not report.compatible:
            assert f"`{report.task}` + `{report.backbone}`" in computed
