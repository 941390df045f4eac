"""The README's main job: the quickstart learns its promoter motif well above chance."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]
MG = [sys.executable, "-m", "mg.cli"]


def _mg(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([*MG, *args], cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _last_metrics(run: Path) -> dict[str, float]:
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    merged: dict[str, float] = {}
    for row in rows:
        merged.update({k: float(v) for k, v in row.items() if v})
    return merged


def test_quickstart_fits_tests_and_predicts_well_above_chance(tmp_path: Path) -> None:
    logs = tmp_path / "runs"
    quickstart = ["--config", "configs/quickstart.yaml"]
    quiet = [
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.logger.init_args.save_dir",
        str(logs),
    ]
    fit = _mg("fit", *quickstart, *quiet)
    assert "Validation after the last epoch:" in fit.stdout
    (run,) = (logs / "mg").iterdir()
    best = next((run / "checkpoints").glob("best-*.ckpt"))

    _mg("test", *quickstart, *quiet, "--ckpt_path", str(best))
    test_run = max((logs / "mg").iterdir(), key=lambda p: p.stat().st_mtime)
    accuracy = _last_metrics(test_run)["test_accuracy"]
    assert accuracy >= 0.85, f"quickstart test accuracy {accuracy:.2f}; chance is 0.5"

    output = tmp_path / "predictions.tsv"
    writer = {
        "trainer": {
            "callbacks": [
                {
                    "class_path": "mg.cli.writer.PredictionWriter",
                    "init_args": {"output": str(output)},
                }
            ]
        }
    }
    override = tmp_path / "predict.yaml"
    override.write_text(yaml.safe_dump(writer))
    _mg("predict", *quickstart, "--config", str(override), *quiet, "--ckpt_path", str(best))
    rows = list(csv.DictReader(output.open(), delimiter="\t"))
    truth = {
        r["id"]: int(r["label"])
        for r in csv.DictReader(
            (ROOT / "packages/mg-tasks/src/mg/tasks/examples/promoters_test.csv").open()
        )
    }
    assert {r["ids"] for r in rows} == set(truth)
    predicted = {r["ids"]: int(float(r["probabilities_1"]) > 0.5) for r in rows}
    agreement = sum(predicted[i] == truth[i] for i in truth) / len(truth)
    assert agreement >= 0.85
