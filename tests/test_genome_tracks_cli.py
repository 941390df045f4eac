"""Genome coordinates through the mg command, on real FASTA, BED and bigWig files.

A track model learns a planted signal (`mg fit`, `mg test`, `mg predict`, `mg report`);
saturation mutagenesis writes a position x base matrix per window and `mg report` draws
them; a reference whose index cannot be read, a missing bigWig and a chromosome known
under neither spelling each stop the run with one line before any weights load.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mg.cli.main import main
from mg.tasks.data.genome.synthetic import write_planted_tracks


def _mg(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


def _config(folder: Path, files: dict[str, Any], task: dict[str, Any], **data: Any) -> Path:
    init = {
        "reference": str(files["fasta"]),
        "context_length": 32,
        "bin_size": 8,
        "batch_size": 32,
        **data,
    }
    config = {
        "trainer": {
            "enable_progress_bar": False,
            "accelerator": "cpu",
            "max_epochs": 8,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(folder / "runs"), "name": "genome"},
            },
        },
        "model": task,
        "data": {"class_path": "IntervalTrackData", "init_args": init},
    }
    path = folder / "genome.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _tracks_config(folder: Path, files: dict[str, Any]) -> Path:
    task = {
        "class_path": "TrackRegression",
        "init_args": {
            "backbone": "BertDNATiny",
            "num_tracks": 2,
            "bin_size": 8,
            "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": 0.003}},
        },
    }
    splits = {s: str(files[s]) for s in ("train", "val", "test")}
    return _config(
        folder,
        files,
        task,
        **splits,
        predict=splits["test"],
        tracks=[str(p) for p in files["tracks"]],
    )


def _runs(folder: Path) -> list[Path]:
    return sorted((folder / "runs" / "genome").iterdir(), key=lambda p: int(p.name.split("_")[1]))


def test_a_track_model_learns_the_planted_signal_through_mg(tmp_path: Path) -> None:
    files = write_planted_tracks(tmp_path / "genome")
    config = str(_tracks_config(tmp_path, files))
    status, _, err = _mg("fit", "--config", config)
    assert status == 0, err
    status, _, err = _mg("test", "--config", config, "--ckpt_path", "best")
    assert status == 0, err
    fit_run, test_run = _runs(tmp_path)
    logged = [r for r in csv.DictReader((test_run / "metrics.csv").open()) if r.get("test_pearson")]
    assert float(logged[-1]["test_pearson"]) > 0.5, logged[-1]

    status, _, err = _mg("predict", "--config", config, "--ckpt_path", "best")
    assert status == 0, err
    tested = (files["test"]).read_text().splitlines()
    with (_runs(tmp_path)[-1] / "predictions.tsv").open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [r["ids"] for r in rows] == [line.split("\t")[3] for line in tested]
    assert all(len(json.loads(r["predictions"])) == 4 for r in rows)  # 32 bp / 8 bp bins

    status, _, err = _mg("report", str(fit_run))
    assert status == 0, err
    assert (fit_run / "report" / "tracks.png").is_file()


def test_saturation_writes_a_matrix_per_window_and_the_report_a_heat_map(tmp_path: Path) -> None:
    files = write_planted_tracks(tmp_path / "genome", chromosomes={"chr1": 900}, tracks=1)
    task = {"class_path": "SaturationMutagenesis", "init_args": {"backbone": "BertDNATiny"}}
    config = _config(tmp_path, files, task, predict=str(files["test"]))
    status, _, err = _mg("predict", "--config", str(config))
    assert status == 0, err
    (run,) = _runs(tmp_path)
    csv.field_size_limit(sys.maxsize)
    with (run / "predictions.tsv").open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) == len(files["test"].read_text().splitlines())
    for row in rows:
        assert row["bases"] == "ACGT" and len(row["sequences"]) == 32
        matrix = json.loads(row["predictions"])
        assert len(matrix) == 32 and all(len(scores) == 4 for scores in matrix)
        # The reference base scores 0 at every position; some substitution does not.
        assert all(matrix[i]["ACGT".index(b)] == 0 for i, b in enumerate(row["sequences"]))
        assert any(v != 0 for scores in matrix for v in scores)

    status, _, err = _mg("report", str(run))
    assert status == 0, err
    assert (run / "report" / "saturation.png").is_file()
    assert "saturation.png" in (run / "report" / "index.html").read_text()


def _stops_before_weights(tmp_path: Path, config: Path, *expected: str) -> str:
    status, _, err = _mg("fit", "--config", str(config))
    assert status != 0
    lines = [line for line in err.splitlines() if line.startswith("mg: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(text in lines[0] for text in expected), lines[0]
    assert not (tmp_path / "runs").exists()  # nothing ran: no run folder, no weights
    return lines[0]


@pytest.fixture
def small_genome(tmp_path: Path) -> dict[str, Any]:
    return write_planted_tracks(tmp_path / "genome", chromosomes={"chr1": 600})


def test_a_reference_whose_index_cannot_be_read_stops_with_one_line(
    tmp_path: Path, small_genome: dict[str, Any]
) -> None:
    # A directory where the index belongs: pyfaidx can neither read nor write it.
    (tmp_path / "genome" / "genome.fa.fai").mkdir()
    config = _tracks_config(tmp_path, small_genome)
    _stops_before_weights(tmp_path, config, "genome.fa", "samtools faidx", "genome.fa.fai")


def test_a_missing_bigwig_stops_with_one_line(tmp_path: Path, small_genome: dict[str, Any]) -> None:
    small_genome["tracks"] = [small_genome["tracks"][0], tmp_path / "absent.bw"]
    config = _tracks_config(tmp_path, small_genome)
    _stops_before_weights(tmp_path, config, "bigWig", "absent.bw", "does not exist")


def test_a_chromosome_under_neither_spelling_stops_with_one_line(
    tmp_path: Path, small_genome: dict[str, Any]
) -> None:
    train = small_genome["train"]
    train.write_text(train.read_text() + "chr9\t10\t42\tlost\t0\t+\n")
    config = _tracks_config(tmp_path, small_genome)
    _stops_before_weights(tmp_path, config, "train.bed line", "'chr9'", "'9'")


def test_a_bed_spelling_chromosomes_otherwise_is_mapped_and_said(
    tmp_path: Path, small_genome: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    test = small_genome["test"]
    test.write_text(test.read_text().replace("chr1\t", "1\t"))
    task = {"class_path": "SaturationMutagenesis", "init_args": {"backbone": "BertDNATiny"}}
    config = _config(tmp_path, small_genome, task, predict=str(test))
    status, _, err = _mg("predict", "--config", str(config))
    assert status == 0, err
    said = "names chromosomes like '1', the reference genome.fa like 'chr1': mapped"
    assert said in caplog.text
