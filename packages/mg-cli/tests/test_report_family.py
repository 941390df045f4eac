"""`mg report`: log axes where values span decades; a fit and its test on one page."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from mg.cli.report import family_test_run, spans_decades


def test_log_axis_only_for_positive_values_spanning_decades() -> None:
    assert spans_decades([0.69, 0.3, 0.05, 0.01])
    assert not spans_decades([0.69, 0.6, 0.5])
    assert not spans_decades([0.5, 0.0, 0.001])  # a zero cannot go on a log axis
    assert not spans_decades([-1.0, 100.0])
    assert not spans_decades([])


def _run(root: Path, name: str, lr: float, fit: bool, tested: bool, age: int) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    config = {"model": {"class_path": "SequenceClassification", "lr": lr}, "data": {"x": 1}}
    (folder / "config.yaml").write_text(yaml.safe_dump({**config, "ckpt_path": "best"}))
    if fit:
        (folder / "checkpoints").mkdir()
    if tested:
        (folder / "test_outputs.pt").write_bytes(b"")
    os.utime(folder, (1_000_000 + age, 1_000_000 + age))
    return folder


def test_a_fit_run_finds_the_newest_test_of_the_same_experiment(tmp_path: Path) -> None:
    fit = _run(tmp_path, "version_0", 0.001, fit=True, tested=False, age=0)
    _run(tmp_path, "version_1", 0.001, fit=False, tested=True, age=1)
    newest = _run(tmp_path, "version_2", 0.001, fit=False, tested=True, age=2)
    _run(tmp_path, "version_3", 0.01, fit=False, tested=True, age=3)  # another experiment
    assert family_test_run(fit) == newest
    assert family_test_run(newest) is None  # a test run has no family of its own
    other_fit = _run(tmp_path, "version_4", 0.5, fit=True, tested=False, age=4)
    assert family_test_run(other_fit) is None
