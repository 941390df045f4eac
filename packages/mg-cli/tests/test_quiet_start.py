"""`mg` starts quietly: no third-party tips or known harmless warnings, the user's own
warnings still shown, metrics with significant digits, a sane thread default."""

from __future__ import annotations

import csv
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cli_helpers import write_config

from mg.cli import startup
from mg.cli.main import main
from mg.cli.startup import MAX_DEFAULT_THREADS

USER_CALLBACK = """
import warnings
from lightning.pytorch.callbacks import Callback


class Grumpy(Callback):
    def on_train_start(self, trainer, pl_module):
        warnings.warn("the user's own warning", UserWarning, stacklevel=2)
"""


def _tiny_regression_csv(path: Path, n: int, seed: int) -> Path:
    """DNA 24-mers whose label is a thousandth of their GC fraction: errors are ~1e-6."""
    rng = random.Random(seed)
    lines = ["id,sequence,label"]
    for i in range(n):
        seq = "".join(rng.choice("ACGT") for _ in range(24))
        lines.append(f"r{i},{seq},{1e-3 * (seq.count('G') + seq.count('C')) / 24:.8f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fit_output_is_quiet_keeps_user_warnings_and_shows_small_metrics(tmp_path: Path) -> None:
    (tmp_path / "user_callbacks.py").write_text(USER_CALLBACK)
    config = write_config(
        tmp_path,
        **{
            "model.class_path": "SequenceRegression",
            "model.init_args": {
                "backbone": {"class_path": "OneHotDNA"},
                "adapter": {"class_path": "LinearMeanPoolAdapter"},
                "normalize_labels": True,
            },
            "data.init_args.label_type": "regression",
            "data.init_args.train_file": str(_tiny_regression_csv(tmp_path / "t.csv", 48, 0)),
            "data.init_args.val_file": str(_tiny_regression_csv(tmp_path / "v.csv", 16, 1)),
            "trainer.callbacks": [
                {"class_path": "user_callbacks.Grumpy"},
                {"class_path": "mg.cli.callbacks.FitSummary"},
            ],
        },
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "mg.cli", "fit", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    for noise in ("Tip:", "litlogger", "litmodels", "LeafSpec", "logging interval"):
        assert noise not in result.stderr + result.stdout, noise
    assert "the user's own warning" in result.stderr

    shown = re.search(r"val_mse (\S+?)[,\n]", result.stdout)
    assert shown is not None, result.stdout
    (metrics,) = (tmp_path / "runs").rglob("metrics.csv")
    with metrics.open() as handle:
        logged = [float(r["val_mse"]) for r in csv.DictReader(handle) if r.get("val_mse")]
    assert 0 < logged[-1] < 1e-4  # .4f would have printed 0.0000
    assert float(shown.group(1)) == pytest.approx(logged[-1], rel=1e-3)


def test_check_verdict_ends_with_a_newline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    assert main(["check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.endswith("compatible for fit; data provides ['ids', 'labels', 'sequences']\n")


@pytest.fixture
def restore_threads() -> object:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("cores", "load", "expected"),
    [(2, 0.1, 2), (16, 0.3, MAX_DEFAULT_THREADS), (2, 9.5, 2), (8, 5.2, MAX_DEFAULT_THREADS)],
)
def test_threads_default_to_usable_cores_at_most_four_whatever_the_load(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    restore_threads: object,
    cores: int,
    load: float,
    expected: int,
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setattr(startup, "usable_cores", lambda: cores)
    monkeypatch.setattr(startup.os, "getloadavg", lambda: (load, load, load))
    torch.set_num_threads(7)
    assert main(["check", "--config", str(write_config(tmp_path))]) == 0
    assert torch.get_num_threads() == expected


def test_threads_chosen_by_the_user_win(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    restore_threads: object,
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    torch.set_num_threads(3)
    assert main(["check", "--config", str(write_config(tmp_path))]) == 0
    assert torch.get_num_threads() == 3
