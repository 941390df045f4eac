"""`mg report`: every task kind's run, fitted and tested through the CLI, gets its figures."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from PIL import Image

from mg.cli.main import main

EXAMPLES = Path(__file__).parents[2] / "mg-tasks" / "src" / "mg" / "tasks" / "examples"


def _split_files(stem: str, suffix: str) -> dict[str, str]:
    return {
        f"{split}_file": str(EXAMPLES / f"{stem}_{split}.{suffix}")
        for split in ("train", "val", "test")
    }


# Each kind: the task's init_args, the data's init_args, and the figures its test run draws.
KINDS = {
    "classification": (
        {"class_path": "SequenceClassification", "init_args": {"n_classes": 2}},
        {**_split_files("promoters", "csv"), "label_columns": "label"},
        ["roc_pr.png", "confusion_matrix.png"],
    ),
    "multilabel": (
        {"class_path": "SequenceClassification", "init_args": {"n_classes": 3, "multilabel": True}},
        {
            "path": str(EXAMPLES / "motifs_multilabel.tsv"),
            "label_columns": ["tata_box", "gc_box", "caat_box"],
            "label_type": "multilabel",
            "fold_column": "fold",
            "fold": 0,
            "test_fraction": 0.2,
        },
        ["roc_pr.png", "confusion_matrix.png"],
    ),
    "token": (
        {"class_path": "TokenClassification", "init_args": {"n_classes": 3}},
        {**_split_files("motif_tokens", "csv"), "label_columns": "labels", "label_type": "token"},
        ["roc_pr.png", "confusion_matrix.png"],
    ),
    "regression": (
        {"class_path": "SequenceRegression", "init_args": {}},
        {**_split_files("gc", "csv"), "label_columns": "gc", "label_type": "regression"},
        ["regression.png"],
    ),
    "pairwise": (
        {"class_path": "PairwiseTokenClassification", "init_args": {"min_separation": 4}},
        {**_split_files("hairpins", "jsonl"), "label_columns": "pairs", "label_type": "pairs"},
        ["contact_maps.png"],
    ),
    # A class task of another family gets the figures of its label kind too.
    "fusion": (
        {
            "class_path": "FusionClassification",
            "init_args": {
                "backbones": {
                    "sequences": {"class_path": "BertDNATiny"},
                    "protein": {"class_path": "ESM2Tiny"},
                },
            },
        },
        {
            **_split_files("dna_protein", "csv"),
            "sequence_column": "dna",
            "columns": {"protein": "protein"},
            "sequence_keys": ["protein"],
            "label_columns": "match",
        },
        ["roc_pr.png", "confusion_matrix.png"],
    ),
}


def _config(folder: Path, kind: str) -> Path:
    model, data, _ = KINDS[kind]
    backbone = "BertRNATiny" if kind == "pairwise" else "BertDNATiny"
    model = {"class_path": model["class_path"], "init_args": dict(model["init_args"])}
    if "backbones" not in model["init_args"]:
        model["init_args"]["backbone"] = {"class_path": backbone}
    data_class = "MultiColumnData" if "columns" in data else "SequenceData"
    config = {
        "model": model,
        "data": {"class_path": data_class, "init_args": {**data, "batch_size": 16}},
        "trainer": {
            "max_epochs": 1,
            "limit_train_batches": 3,
            "limit_val_batches": 2,
            "limit_test_batches": 2,
            "log_every_n_steps": 1,
            "accelerator": "cpu",
            "enable_progress_bar": False,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(folder / "runs"), "name": kind},
            },
        },
    }
    path = folder / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _is_png(path: Path) -> bool:
    with Image.open(path) as image:
        return image.format == "PNG" and image.width > 100 and image.height > 100


@pytest.mark.parametrize("kind", list(KINDS))
def test_fit_and_test_runs_of_every_task_kind_get_their_figures(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, kind)
    assert main(["fit", "--config", str(config)]) == 0
    runs = tmp_path / "runs" / kind
    fit_run = runs / "version_0"
    checkpoint = fit_run / "checkpoints" / "last.ckpt"
    assert main(["test", "--config", str(config), "--ckpt_path", str(checkpoint)]) == 0
    test_run = runs / "version_1"
    assert (test_run / "test_outputs.pt").exists()
    capsys.readouterr()

    assert main(["report", str(fit_run)]) == 0
    assert _is_png(fit_run / "report" / "learning_curves.png")
    assert "learning_curves.png" in (fit_run / "report" / "index.html").read_text()

    assert main(["report", str(test_run), "--output", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    page = (tmp_path / "out" / "index.html").read_text()
    for name in KINDS[kind][2]:
        assert _is_png(tmp_path / "out" / name), name
        assert f"src='{name}'" in page
        assert name in printed
    assert "test_loss" in page  # the test metrics table


def test_report_of_a_folder_without_a_run_says_what_to_give(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert "neither metrics.csv nor test_outputs.pt" in error and str(tmp_path) in error
