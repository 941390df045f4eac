"""`mg cv`: every fold in its own folder, mean ± sd of the test metrics, out-of-fold
predictions, and a second run that redoes nothing already done."""

from __future__ import annotations

import contextlib
import csv
import io
import statistics
from pathlib import Path

import pytest
import torch
from cli_helpers import write_config, write_cv_config, write_motif_csv

from mg.cli.main import main
from mg.cli.report import final_test_metrics, read_metrics


def _cv_config(folder: Path, **overrides: object) -> Path:
    return write_cv_config(folder, write_motif_csv(folder / "all.csv", 36, 5), **overrides)


@pytest.fixture(scope="module")
def cross_validated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    folder = tmp_path_factory.mktemp("cv")
    config = _cv_config(folder)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # capsys is function-scoped
        assert main(["cv", "--config", str(config)]) == 0
    return folder / "runs" / "test", config, out.getvalue()


def test_every_fold_fits_and_tests_in_its_own_folder(cross_validated) -> None:
    root, _, _ = cross_validated
    for fold in range(3):
        assert (root / f"fold{fold}" / "fit" / "checkpoints" / "last.ckpt").exists()
        assert (root / f"fold{fold}" / "test" / "test_outputs.pt").exists()


def test_summary_is_the_mean_and_sd_of_the_folds_test_metrics(cross_validated) -> None:
    root, _, printed = cross_validated
    per_fold = [
        final_test_metrics(read_metrics(root / f"fold{f}" / "test" / "metrics.csv"))
        for f in range(3)
    ]
    with (root / "cv_metrics.tsv").open() as handle:
        rows = {r["metric"]: r for r in csv.DictReader(handle, delimiter="\t")}
    assert {"test_accuracy", "test_loss", "test_auroc"} <= set(rows)
    for name, row in rows.items():
        values = [m[name] for m in per_fold]
        assert float(row["mean"]) == pytest.approx(statistics.fmean(values))
        assert float(row["sd"]) == pytest.approx(statistics.stdev(values))
        mean, sd = statistics.fmean(values), statistics.stdev(values)
        assert f"{mean:.4f} ± {sd:.4f}" in printed
    assert "test and validation folds rotate" in printed


def test_out_of_fold_predictions_cover_every_item_once_from_its_test_fold(
    cross_validated,
) -> None:
    root, _, _ = cross_validated
    with (root / "oof_predictions.tsv").open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    with (root.parents[1] / "all.csv").open() as handle:
        truth = {r["id"]: r["label"] for r in csv.DictReader(handle)}
    assert sorted(r["ids"] for r in rows) == sorted(truth)
    for row in rows:
        assert row["labels"] == truth[row["ids"]]
        assert float(row["probabilities_0"]) + float(row["probabilities_1"]) == pytest.approx(1)

    for fold in range(3):
        tested = torch.load(root / f"fold{fold}" / "test" / "test_outputs.pt", weights_only=True)
        assert {r["ids"] for r in rows if r["fold"] == str(fold)} == set(tested["ids"])


def test_a_second_run_skips_finished_folds_and_finishes_the_rest(
    cross_validated, capsys: pytest.CaptureFixture[str]
) -> None:
    root, config, _ = cross_validated
    checkpoints = {p: p.stat().st_mtime_ns for p in root.rglob("*.ckpt")}
    (root / "fold1" / "done").unlink()  # as if interrupted while testing fold 1
    assert main(["cv", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "Fold 0: done before, skipped" in out and "Fold 2: done before, skipped" in out
    assert "Fold 1: fitted before" in out and "Fold 1: testing" in out
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.ckpt")} == checkpoints


def test_cv_without_folds_says_which_option_to_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    assert main(["cv", "--config", str(config)]) == 1
    assert "set data.init_args.n_folds" in capsys.readouterr().err


def test_more_folds_than_rows_stops_before_any_fold_trains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_cv_config(tmp_path, write_motif_csv(tmp_path / "all.csv", 12, 5))
    assert main(["cv", "--config", str(config), "--data.init_args.n_folds", "40"]) == 1
    err = capsys.readouterr().err
    assert "n_folds=40 is more than the 12 rows" in err
    assert "Traceback" not in err
    assert not list(tmp_path.glob("runs/test/fold*/**/*.ckpt"))
