"""Two-process DDP on CPU through the mg command (Lightning relaunches the command, so
this runs as a subprocess)."""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from pathlib import Path

import yaml


def _write_data(path: Path, n: int) -> None:
    rng = random.Random(0)
    rows = ["id,sequence,label"]
    for i in range(n):
        seq = "".join(rng.choice("ACGT") for _ in range(rng.randrange(10, 30)))
        rows.append(f"d{i},{seq},{i % 2}")
    path.write_text("\n".join(rows) + "\n")


def test_ddp_fit_then_predict_merges_every_id_once(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    _write_data(data, 37)  # odd, so the ranks get unequal shares
    output = tmp_path / "predictions.tsv"
    config = {
        "trainer": {
            "accelerator": "cpu",
            "devices": 2,
            "strategy": "ddp",
            "max_epochs": 1,
            "enable_progress_bar": False,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(tmp_path / "runs"), "name": "ddp"},
            },
        },
        "model": {
            "class_path": "SequenceClassification",
            "init_args": {"backbone": "BertDNATiny", "adapter": "LinearMeanPoolAdapter"},
        },
        "data": {
            "class_path": "SequenceData",
            "init_args": {
                "path": str(data),
                "predict_file": str(data),  # predict every row, training ones too
                "val_fraction": 0.2,
                "label_columns": "label",
                "batch_size": 4,
                # Token-budget batches: each process must still get as many as the other.
                "max_tokens": 70,
            },
        },
    }
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump(config))
    mg = [sys.executable, "-m", "mg.cli"]
    fit = subprocess.run(
        [*mg, "fit", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    last = next((tmp_path / "runs").rglob("last.ckpt"))

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
    override = tmp_path / "writer.yaml"
    override.write_text(yaml.safe_dump(writer))
    predict = subprocess.run(
        [
            *mg,
            "predict",
            "--config",
            str(path),
            "--config",
            str(override),
            "--ckpt_path",
            str(last),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert predict.returncode == 0, predict.stderr[-3000:]
    ids = [row["ids"] for row in csv.DictReader(output.open(), delimiter="\t")]
    # Sorted inference batches, contiguous rank blocks: the rows still come in file order.
    assert ids == [f"d{i}" for i in range(37)], "ranks lost, repeated or reordered items"
    assert not list(tmp_path.glob(".predictions.tsv.part*"))
