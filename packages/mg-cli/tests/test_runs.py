"""`mg fit`, `test` and `predict` end to end: run folders, checkpoints and predictions."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from cli_helpers import write_config

from mg.cli.main import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("run")
    config = write_config(folder, **{"trainer.max_epochs": 2})
    assert main(["fit", "--config", str(config)]) == 0
    return folder, config


def test_run_folder_records_config_versions_and_bounded_checkpoints(
    trained: tuple[Path, Path],
) -> None:
    folder, _ = trained
    (run,) = (folder / "runs" / "test").iterdir()
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["model"]["class_path"].endswith("SequenceClassification")
    versions = yaml.safe_load((run / "versions.yaml").read_text())["versions"]
    for name in ("mg-core", "mg-cli", "torch", "lightning", "transformers"):
        assert name in versions
    checkpoints = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert "last.ckpt" in checkpoints and len(checkpoints) == 2, checkpoints
    assert (run / "metrics.csv").exists()


@pytest.mark.parametrize("suffix", ["tsv", "csv", "parquet"])
def test_predict_writes_every_id_with_probabilities(
    trained: tuple[Path, Path], suffix: str
) -> None:
    folder, config = trained
    checkpoint = next((folder / "runs" / "test").rglob("last.ckpt"))
    output = folder / f"predictions.{suffix}"
    callbacks = [
        {"class_path": "mg.cli.writer.PredictionWriter", "init_args": {"output": str(output)}}
    ]
    override = folder / f"predict_{suffix}.yaml"
    override.write_text(yaml.safe_dump({"trainer": {"callbacks": callbacks}}))
    status = main(
        [
            "predict",
            "--config",
            str(config),
            "--config",
            str(override),
            "--ckpt_path",
            str(checkpoint),
        ]
    )
    assert status == 0
    if suffix == "parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(output).to_pylist()
    else:
        with output.open() as handle:
            rows = list(csv.DictReader(handle, delimiter="\t" if suffix == "tsv" else ","))
    with (folder / "val.csv").open() as handle:
        expected_ids = [row["id"] for row in csv.DictReader(handle)]
    assert [row["ids"] for row in rows] == expected_ids
    probability_columns = [c for c in rows[0] if c.startswith("probabilities")]
    assert probability_columns, rows[0]
    for row in rows:
        assert abs(sum(float(row[c]) for c in probability_columns) - 1) < 1e-4
    assert not list(folder.glob(f".predictions.{suffix}.part*")), "part files left behind"


def test_test_reports_metrics_of_the_best_checkpoint_by_name(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, config = trained
    assert main(["test", "--config", str(config), "--ckpt_path", "best"]) == 0
    captured = capsys.readouterr()
    assert "test_accuracy" in captured.out
    best = next((folder / "runs" / "test").rglob("best-*.ckpt"))
    assert f"Using the best checkpoint {best}" in captured.err


def test_best_checkpoint_of_a_config_never_fitted_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    assert main(["test", "--config", str(config), "--ckpt_path", "best"]) == 1
    assert "No best checkpoint under" in capsys.readouterr().err
