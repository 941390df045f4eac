"""TensorBoard beside the CSV logger: both get the metrics, mg's run folder stays the CSV one."""

from __future__ import annotations

from pathlib import Path

import yaml
from cli_helpers import write_config
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mg.cli.main import main


def test_a_tensorboard_logger_beside_the_csv_logger_records_the_run(tmp_path: Path) -> None:
    save_dir = str(tmp_path / "runs")
    config = write_config(tmp_path, **{"trainer.max_epochs": 2})
    loggers = tmp_path / "loggers.yaml"
    loggers.write_text(
        yaml.safe_dump(
            {
                "trainer": {
                    "logger": [
                        {
                            "class_path": "lightning.pytorch.loggers.CSVLogger",
                            "init_args": {"save_dir": save_dir, "name": "both"},
                        },
                        {
                            "class_path": "lightning.pytorch.loggers.TensorBoardLogger",
                            "init_args": {
                                "save_dir": save_dir,
                                "name": "both",
                                "version": "tensorboard",
                            },
                        },
                    ]
                }
            }
        )
    )
    assert main(["fit", "--config", str(config), "--config", str(loggers)]) == 0
    (events,) = (tmp_path / "runs" / "both" / "tensorboard").glob("events.out.tfevents.*")
    accumulator = EventAccumulator(str(events))
    accumulator.Reload()
    scalars = accumulator.Tags()["scalars"]
    assert {"val_loss", "val_accuracy", "train_loss"} <= set(scalars)
    assert len(accumulator.Scalars("val_loss")) == 2  # one per epoch
    run = tmp_path / "runs" / "both" / "version_0"
    assert (run / "metrics.csv").exists() and (run / "checkpoints" / "last.ckpt").exists()
