"""Single cells through the mg command: an .h5ad (and a TileDB-SOMA experiment) read by
`CellData`, a cell backbone, a sequence adapter and SequenceClassification.

`mg fit` must learn marker-gene cell types well above chance, `mg test` report it,
`mg predict` write each cell's class name, and bad cells stop before any weights load
with one line naming the file and the cell.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from mg.cli.main import main
from mg.tasks.data.cells.synthetic import (
    CELL_TYPES,
    GENES,
    ensembl_id,
    marker_cells,
    write_h5ad,
    write_soma,
)

BASELINE = "mg.backbones.cells.baseline.ExpressionBaseline"
# The model's genes in another order, two of the data's missing and one the data lacks.
MODEL_GENES = [*GENES[::-1][2:], "NOT_MEASURED"]


def _config(folder: Path, data: dict[str, Any], **model: Any) -> Path:
    config = {
        "seed_everything": 0,
        "trainer": {
            "max_epochs": 12,
            "enable_progress_bar": False,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(folder / "runs"), "name": "cells"},
            },
        },
        "model": {
            "class_path": "SequenceClassification",
            "init_args": {
                "backbone": {
                    "class_path": BASELINE,
                    "init_args": {"genes": MODEL_GENES, "hidden_size": 16},
                },
                "adapter": "LinearMeanPoolAdapter",
                "n_classes": 3,
                "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": 0.01}},
                **model,
            },
        },
        "data": {"class_path": "CellData", "init_args": {"batch_size": 32, **data}},
    }
    path = folder / "cells.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _mg(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


def _metrics(run: Path) -> dict[str, float]:
    merged: dict[str, float] = {}
    for row in csv.DictReader((run / "metrics.csv").open()):
        merged.update({k: float(v) for k, v in row.items() if v})
    return merged


@pytest.fixture(scope="module")
def h5ad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cells")
    return write_h5ad(marker_cells(n_cells=400, seed=4), folder / "cells.h5ad")


def test_fit_test_predict_on_h5ad_cells_learns_the_cell_types(
    h5ad: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = {
        "path": str(h5ad),
        "label_columns": "cell_type",
        "group_column": "donor",  # no donor in two splits
        "val_fraction": 0.2,
        "test_fraction": 0.25,
    }
    config = _config(tmp_path, data)
    with caplog.at_level(logging.INFO):
        status, _, err = _mg("fit", "--config", str(config))
    assert status == 0, err
    # The gene coverage is said once: 28 of the model's 29 genes (two data genes unused).
    said = [r.getMessage() for r in caplog.records if "of the model's" in r.getMessage()]
    assert said == [
        f"{h5ad}: the data has 28 of the model's 29 genes (96.6%); the 1 missing read as 0."
    ]

    status, _, err = _mg("test", "--config", str(config), "--ckpt_path", "best")
    assert status == 0, err
    tested = max((tmp_path / "runs" / "cells").iterdir(), key=lambda p: p.stat().st_mtime)
    accuracy = _metrics(tested)["test_accuracy"]
    assert accuracy >= 0.9, f"test accuracy {accuracy:.2f}; chance is 1/3"

    output = tmp_path / "cells.tsv"
    writer = tmp_path / "writer.yaml"
    writer.write_text(
        yaml.safe_dump(
            {
                "trainer": {
                    "callbacks": [
                        {
                            "class_path": "mg.cli.writer.PredictionWriter",
                            "init_args": {"output": str(output)},
                        }
                    ]
                },
                "data": {"init_args": {"predict_path": str(h5ad)}},
            }
        )
    )
    status, _, err = _mg(
        "predict", "--config", str(config), "--config", str(writer), "--ckpt_path", "best"
    )
    assert status == 0, err
    with output.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    import anndata

    truth = anndata.read_h5ad(h5ad).obs["cell_type"]
    assert [r["ids"] for r in rows] == list(truth.index)  # every cell once, in file order
    right = np.mean([r["predictions"] == truth[r["ids"]] for r in rows])
    assert {r["predictions"] for r in rows} <= set(CELL_TYPES)  # class names, not indices
    assert right >= 0.9


def _predictions(config: Path, output: Path, *extra: str) -> list[dict[str, str]]:
    writer = output.with_suffix(".yaml")
    callback = {
        "class_path": "mg.cli.writer.PredictionWriter",
        "init_args": {"output": str(output)},
    }
    writer.write_text(yaml.safe_dump({"trainer": {"callbacks": [callback]}}))
    status, _, err = _mg("predict", "--config", str(config), "--config", str(writer), *extra)
    assert status == 0, err
    with output.open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.mark.parametrize("family", ["baseline", "aido_cell"])
def test_an_exported_cell_model_predicts_new_cells_without_its_training_file(
    family: str, h5ad: Path, tmp_path: Path
) -> None:
    import shutil

    genes = tmp_path / "genes.txt"  # a file on this machine: the export must carry the genes
    genes.write_text("\n".join(MODEL_GENES) + "\n")
    backbone = {
        "baseline": {"class_path": "ExpressionBaseline", "init_args": {"genes": str(genes)}},
        "aido_cell": {"class_path": "AIDOCellTiny", "init_args": {"genes": str(genes)}},
    }[family]
    training = tmp_path / "training.h5ad"
    shutil.copy(h5ad, training)
    data = {"path": str(training), "label_columns": "cell_type", "group_column": "donor"}
    config = _config(tmp_path, data, backbone=backbone)
    status, _, err = _mg("fit", "--config", str(config), "--trainer.max_epochs", "2")
    assert status == 0, err
    export = tmp_path / "export"
    status, _, err = _mg(
        "export", "--config", str(config), "--ckpt_path", "best", "--output", str(export)
    )
    assert status == 0, err
    new_cells = tmp_path / "new_cells.h5ad"
    shutil.copy(h5ad, new_cells)
    expected = _predictions(
        config,
        tmp_path / "from_checkpoint.tsv",
        "--ckpt_path",
        "best",
        "--data.init_args.predict_path",
        str(new_cells),
    )
    # Elsewhere, with neither the training cells nor the gene file: the folder alone.
    moved = shutil.move(export, tmp_path / "elsewhere" / "export")
    training.unlink()
    genes.unlink()
    got = _predictions(
        Path(moved) / "config.yaml",
        tmp_path / "from_export.tsv",
        "--data.init_args.predict_path",
        str(new_cells),
    )
    assert [r["ids"] for r in got] == [r["ids"] for r in expected]
    assert [r["predictions"] for r in got] == [r["predictions"] for r in expected]
    assert {r["predictions"] for r in got} <= set(CELL_TYPES)  # the names, kept in the export
    for mine, theirs in zip(got, expected, strict=True):
        for name in CELL_TYPES:
            key = f"probabilities_{name}"
            assert float(mine[key]) == pytest.approx(float(theirs[key]), abs=1e-5)


def test_a_soma_experiment_trains_with_the_same_config(h5ad: Path, tmp_path: Path) -> None:
    import anndata

    experiment = write_soma(anndata.read_h5ad(h5ad), tmp_path / "soma")
    data = {"path": experiment, "label_columns": "cell_type", "val_fraction": 0.2}
    config = _config(tmp_path, data, n_classes=3)
    status, _, err = _mg("fit", "--config", str(config))
    assert status == 0, err
    (run,) = (tmp_path / "runs" / "cells").iterdir()
    assert _metrics(run)["val_accuracy"] >= 0.9


def test_embed_writes_the_cells_to_a_new_h5ad_with_obsm_x_mg(
    h5ad: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anndata
    import torch

    from mg.tasks.data import CellEmbeddingWriter

    monkeypatch.setattr(CellEmbeddingWriter, "CHUNK_CELLS", 96)  # 400 cells: five chunks

    embedded, table = tmp_path / "embedded.h5ad", tmp_path / "vectors.pt"
    callbacks = [
        {"class_path": "mg.tasks.data.CellEmbeddingWriter", "init_args": {"output": str(embedded)}},
        {"class_path": "mg.cli.writer.PredictionWriter", "init_args": {"output": str(table)}},
    ]
    config = {
        "trainer": {
            "enable_progress_bar": False,
            "callbacks": callbacks,
            "logger": False,
            "default_root_dir": str(tmp_path),  # the resolved config.yaml goes there
        },
        "model": {
            "class_path": "Embed",
            "init_args": {
                "backbone": {
                    "class_path": BASELINE,
                    "init_args": {"genes": MODEL_GENES, "hidden_size": 8},
                },
            },
        },
        "data": {
            "class_path": "CellData",
            "init_args": {"path": str(h5ad), "predict_path": str(h5ad)},
        },
    }
    path = tmp_path / "embed.yaml"
    path.write_text(yaml.safe_dump(config))
    status, out, err = _mg("predict", "--config", str(path))
    assert status == 0, err
    assert f"Wrote 400 cells with obsm['X_mg'] (8 values each) to {embedded}" in out
    written, source = anndata.read_h5ad(embedded), anndata.read_h5ad(h5ad)
    assert list(written.obs_names) == list(source.obs_names)
    assert (written.X != source.X).nnz == 0 and list(written.var_names) == list(source.var_names)
    # Each cell's row holds its own vector: the same as the prediction file's, by id.
    by_id = {}
    for part in sorted(table.glob("*.pt")):  # the .pt writer keeps one file per batch
        saved = torch.load(part, weights_only=True)
        by_id.update(zip(saved["ids"], saved["predictions"], strict=True))
    assert len(by_id) == 400
    for k in (0, 133, 399):
        cell = written.obs_names[k]
        assert np.allclose(written.obsm["X_mg"][k], by_id[cell].numpy(), atol=1e-6)
    status, _, err = _mg("predict", "--config", str(path))
    assert status != 0 and "exists" in err  # never replaced

    # mg report draws the cells on their first two principal components, by cell type.
    status, out, err = _mg("report", str(embedded), "--color-by", "cell_type")
    assert status == 0, err
    page = tmp_path / "embedded_report" / "index.html"
    assert f"Report: {page}" in out and (page.parent / "embedding_pca.png").stat().st_size > 0
    assert "every cell, coloured by cell_type" in page.read_text()
    status, _, err = _mg("report", str(embedded), "--color-by", "tissue")
    assert status == 1
    assert f"{embedded} has no obs column 'tissue' to colour by (its columns: " in err


def test_principal_components_recover_a_planted_plane_and_keep_their_signs() -> None:
    from mg.cli.report_embedding import principal_components

    rng = np.random.default_rng(0)
    plane = rng.normal(size=(500, 2)) * [5.0, 2.0]
    basis = np.linalg.qr(rng.normal(size=(8, 8)))[0][:2]
    vectors = plane @ basis + 0.01 * rng.normal(size=(500, 8)) + 3.0
    coordinates, shares = principal_components(vectors)
    assert shares.sum() > 0.999 and shares[0] > shares[1]
    # Each axis is the planted one (up to sign), and the same vectors give the same signs.
    for axis in range(2):
        assert abs(np.corrcoef(coordinates[:, axis], plane[:, axis])[0, 1]) > 0.999
    again, _ = principal_components(vectors[::-1].copy())
    assert np.allclose(again[::-1], coordinates, atol=1e-8)


@pytest.mark.parametrize("family", ["aido_cell", "geneformer"])
def test_tiny_cell_foundation_models_train_through_mg_fit(
    h5ad: Path, tmp_path: Path, family: str
) -> None:
    if family == "aido_cell":
        backbone = {
            "class_path": "mg.backbones.cells.aido_cell.AIDOCellTiny",
            "init_args": {"genes": list(GENES), "hidden_size": 16},
        }
        gene_column = None
    else:  # Geneformer reads Ensembl ids; the data's carry version suffixes
        backbone = {
            "class_path": "mg.backbones.cells.geneformer.GeneformerTiny",
            "init_args": {"genes": [ensembl_id(g).split(".")[0] for g in GENES], "hidden_size": 16},
        }
        gene_column = "gene_ids"
    data = {"path": str(h5ad), "label_columns": "cell_type", "gene_column": gene_column}
    config = _config(
        tmp_path,
        data,
        backbone=backbone,
        optimizer={"class_path": "torch.optim.AdamW", "init_args": {"lr": 3e-3}},
    )
    status, _, err = _mg("fit", "--config", str(config), "--trainer.max_epochs", "4")
    assert status == 0, err
    (run,) = (tmp_path / "runs" / "cells").iterdir()
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    losses = [float(r["train_loss"]) for r in rows if r.get("train_loss")]
    assert len(losses) == 4 and losses[-1] < losses[0], losses


def _bad_h5ad(folder: Path, change: str) -> Path:
    adata = marker_cells(n_cells=60, seed=1)
    if change == "missing label":
        adata.obs["cell_type"] = adata.obs["cell_type"].astype(object)
        adata.obs.iloc[7, adata.obs.columns.get_loc("cell_type")] = None
    elif change == "negative value":
        matrix = adata.X.toarray()
        matrix[5, GENES.index("CD14")] = -3.0
        from scipy import sparse

        adata.X = sparse.csr_matrix(matrix)
    elif change == "log-normalised":
        adata.X = adata.X.log1p()
    elif change == "csc":
        adata.X = adata.X.tocsc()
    return write_h5ad(adata, folder / f"{change.replace(' ', '_')}.h5ad")


@pytest.mark.parametrize(
    ("change", "data", "named"),
    [
        ("missing label", {}, "obs column 'cell_type' has no value for cell 'cell0007' (row 7"),
        ("negative value", {}, "cell 'cell0005' (row 5) has -3.0 for gene 'CD14'"),
        ("none", {"label_columns": "celltype"}, "obs has no column 'celltype'"),
        ("none", {"split_column": "donor"}, "holds 'donor"),
        ("none", {}, "classes ['B cell', 'T cell', 'monocyte'], but n_classes is 2"),
        ("log-normalised", {}, "X looks log-normalised"),
        ("csc", {}, "X is stored as a CSC sparse matrix"),
        ("none", {"gene_column": "gene_ids"}, "of the model's"),
    ],
)
def test_bad_cells_stop_before_any_weights_load_naming_file_and_cell(
    tmp_path: Path, change: str, data: dict[str, Any], named: str
) -> None:
    path = _bad_h5ad(tmp_path, change)
    options = {"path": str(path), "label_columns": "cell_type", **data}
    n_classes = 2 if "n_classes" in named else 3
    model: dict[str, Any] = {"n_classes": n_classes}
    if change == "log-normalised":  # a model that reads raw counts
        model["backbone"] = {
            "class_path": "mg.backbones.cells.aido_cell.AIDOCellTiny",
            "init_args": {"genes": list(GENES), "hidden_size": 16},
        }
    config = _config(tmp_path, options, **model)
    status, _, err = _mg("fit", "--config", str(config))
    assert status != 0
    assert named in err, err
    assert str(path) in err or "n_classes" in named
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # nothing left behind


def test_mg_cv_cross_validates_cells_by_donor(h5ad: Path, tmp_path: Path) -> None:
    import anndata

    data = {
        "path": str(h5ad),
        "label_columns": "cell_type",
        "group_column": "donor",
        "n_folds": 3,
        "test_fraction": 0,  # the test fold rotates: every cell is tested once
    }
    config = _config(tmp_path, data)
    settings = yaml.safe_load(config.read_text())
    settings["trainer"]["max_epochs"] = 6
    config.write_text(yaml.safe_dump(settings))
    status, _, err = _mg("cv", "--config", str(config))
    assert status == 0, err
    root = tmp_path / "runs" / "cells"
    with (root / "cv_metrics.tsv").open() as handle:
        metrics = {row["metric"]: row for row in csv.DictReader(handle, delimiter="\t")}
    assert float(metrics["test_accuracy"]["mean"]) >= 0.9, metrics["test_accuracy"]
    with (root / "oof_predictions.tsv").open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    obs = anndata.read_h5ad(h5ad).obs
    assert sorted(r["ids"] for r in rows) == sorted(obs.index)  # each cell tested once
    # A donor's cells are all tested in the same fold.
    folds_of: dict[str, set[str]] = {}
    for row in rows:
        folds_of.setdefault(obs.loc[row["ids"], "donor"], set()).add(row["fold"])
    assert all(len(folds) == 1 for folds in folds_of.values())
    # Out-of-fold probabilities are named by cell type and pick the right one.
    names = sorted(CELL_TYPES)
    right = [
        max(names, key=lambda name: float(row[f"probabilities_{name}"]))
        == names[int(row["labels"])]
        for row in rows
    ]
    assert np.mean(right) >= 0.9
