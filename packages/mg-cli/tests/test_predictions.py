"""`mg predict` writes class names, inside the run folder, never over an existing file."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import write_config

from mg.cli.main import main
from mg.cli.writer import _rows

NAMES = {"0": "background", "1": "promoter"}


def _rename_labels(path: Path) -> None:
    """Replace the 0/1 labels of a CSV by class names."""
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["label"] = NAMES[row["label"]]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle, delimiter="\t" if path.suffix == ".tsv" else ","))


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A task fitted on labels written as class names; returns folder, config, checkpoint."""
    folder = tmp_path_factory.mktemp("named")
    config = write_config(folder)
    for name in ("train.csv", "val.csv"):
        _rename_labels(folder / name)
    assert main(["fit", "--config", str(config)]) == 0
    checkpoint = next((folder / "runs").rglob("last.ckpt"))
    return folder, config, checkpoint


def test_predictions_hold_class_names_inside_the_run_folder(
    named: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, config, checkpoint = named
    capsys.readouterr()
    assert main(["predict", "--config", str(config), "--ckpt_path", str(checkpoint)]) == 0
    (written,) = (folder / "runs").rglob("predictions.tsv")
    assert written.parent.parent == checkpoint.parent.parent.parent  # a run folder of runs/test
    assert not (Path.cwd() / "predictions.tsv").exists()
    assert f"Wrote 16 predictions to {written}" in capsys.readouterr().out
    rows = _read(written)
    assert {row["predictions"] for row in rows} <= {"background", "promoter"}
    assert [c for c in rows[0] if c.startswith("probabilities")] == [
        "probabilities_background",
        "probabilities_promoter",
    ]
    for row in rows:  # the named class is the most probable one
        best = max(NAMES.values(), key=lambda n: float(row[f"probabilities_{n}"]))
        assert row["predictions"] == best


def test_an_existing_output_is_kept_unless_overwrite_is_given(
    named: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, config, checkpoint = named
    output = folder / "mine.csv"
    output.write_text("precious\n")
    args = ["predict", "--config", str(config), "--ckpt_path", str(checkpoint)]
    assert main([*args, "--output", str(output)]) == 1
    err = capsys.readouterr().err
    assert f"{output} already exists: pass --overwrite true" in err and "Traceback" not in err
    assert output.read_text() == "precious\n"
    assert main([*args, "--output", str(output), "--overwrite", "true"]) == 0
    assert len(_read(output)) == 16 and "ids" in _read(output)[0]


def test_embeddings_get_one_column_per_dimension_or_an_npy_array(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path,
        **{
            "model.class_path": "Embed",
            "model.init_args": {"backbone": {"class_path": "OneHotDNA"}, "pooling": "mean"},
            "data.init_args.label_columns": None,
        },
    )
    table = tmp_path / "embeddings.tsv"
    assert main(["predict", "--config", str(config), "--output", str(table)]) == 0
    rows = _read(table)
    dimensions = [c for c in rows[0] if c.startswith("predictions_")]
    assert len(rows) == 16 and len(dimensions) >= 4
    # mean one-hot of a DNA sequence: every dimension a fraction, their sum one
    for row in rows:
        assert sum(float(row[c]) for c in dimensions) == pytest.approx(1.0, abs=1e-5)

    array = tmp_path / "embeddings.npy"
    assert main(["predict", "--config", str(config), "--output", str(array)]) == 0
    vectors = np.load(array)
    ids = (tmp_path / "embeddings.ids.txt").read_text().split()
    assert vectors.shape == (16, len(dimensions)) and ids == [row["ids"] for row in rows]
    expected = np.array([[float(row[c]) for c in dimensions] for row in rows])
    np.testing.assert_allclose(vectors, expected, atol=1e-6)


def test_a_wide_vector_is_still_one_column_per_dimension() -> None:
    rows = _rows({"ids": ["a", "b"], "predictions": torch.randn(2, 384)}, None)
    assert len(rows[0]) == 1 + 384 and "predictions_383" in rows[0]
