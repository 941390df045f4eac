"""Optional packages a config needs are named before anything is built; mg's metrics.csv
stays in the run folder whatever logger the config adds."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from cli_helpers import write_config

from mg.cli.needs import PEFT, PYARROW, PYARROW_OUTPUT, needed


def _mg(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mg.cli", *args], cwd=cwd, capture_output=True, text=True, env=env
    )


def test_a_missing_logger_package_stops_check_before_the_backbone_is_built(
    tmp_path: Path,
) -> None:
    # The backbone's folder does not exist: had mg built it, that would be the error.
    config = write_config(
        tmp_path,
        **{
            "model.init_args.backbone": {
                "class_path": "HFBackbone",
                "init_args": {"model_path": str(tmp_path / "no-such-model")},
            }
        },
    )
    result = _mg(tmp_path, "check", "--config", str(config), "--trainer.logger", "WandbLogger")
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        "mg: error: trainer.logger.class_path: WandbLogger needs wandb, which is not "
        "installed: pip install wandb."
    )


def test_lora_and_parquet_are_found_in_a_config() -> None:
    config = {
        "model": {
            "init_args": {"backbone": {"class_path": "ESM2", "init_args": {"finetune": "lora"}}}
        },
        "data": {"init_args": {"train_file": "cells/train.parquet", "val_file": "val.csv"}},
        "output": "predictions.parquet",
    }
    assert needed(config) == [
        ("model.init_args.backbone.init_args.finetune: lora", PEFT),
        ("data.init_args.train_file: cells/train.parquet", PYARROW),
        ("output: predictions.parquet", PYARROW_OUTPUT),
    ]
    assert needed({"model": {"init_args": {"finetune": "frozen"}}}) == []


def test_tensorboard_run_keeps_mgs_metrics_csv_beside_the_events(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    logs = tmp_path / "tb"
    result = _mg(
        tmp_path,
        "fit",
        "--config",
        str(config),
        "--trainer.logger",
        "TensorBoardLogger",
        "--trainer.logger.save_dir",
        str(logs),
        "--trainer.max_epochs",
        "2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = logs.glob("*/version_*")
    assert list(run.glob("events.out.tfevents.*")), sorted(p.name for p in run.iterdir())
    assert list((run / "checkpoints").glob("best-*.ckpt"))
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    epochs = {row["epoch"] for row in rows if row.get("val_loss")}
    assert epochs == {"0", "1"}, rows
