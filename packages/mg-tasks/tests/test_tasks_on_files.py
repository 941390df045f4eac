"""Tasks on SequenceData read from files: label checks and train-only scaling statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from task_helpers import composition_samples, regression_samples, tiny_backbone

from mg.core.testing.contracts import fast_trainer
from mg.tasks import ConditionalDiffusion, SequenceClassification, SequenceData, SequenceRegression


def write_csv(path: Path, samples: list[dict[str, Any]]) -> str:
    lines = ["id,sequence,label"] + [f"{s['ids']},{s['sequences']},{s['labels']}" for s in samples]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_regression_statistics_come_from_the_training_rows_of_a_file(tmp_path: Path) -> None:
    samples = regression_samples(40, 0, offset=2000.0, scale=1000.0)
    data = SequenceData(
        path=write_csv(tmp_path / "scores.csv", samples),
        label_columns="label",
        label_type="regression",
        val_fraction=0.25,
        test_fraction=0.25,
        batch_size=8,
    )
    task = SequenceRegression(tiny_backbone, normalize_labels=True)
    fast_trainer(max_steps=1, limit_val_batches=0).fit(task, datamodule=data)
    train_labels = torch.tensor(data.datasets["train"].labels, dtype=torch.float64)
    every_label = torch.tensor([s["labels"] for s in samples], dtype=torch.float64)
    assert len(train_labels) == 20
    assert task.label_mean.item() == pytest.approx(train_labels.mean().item(), rel=1e-6)
    assert task.label_mean.item() != pytest.approx(every_label.mean().item(), rel=1e-6)


def test_a_class_out_of_range_is_named_with_file_and_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "classes.csv", composition_samples(10, 0, n_classes=3))
    task = SequenceClassification(tiny_backbone, n_classes=2)
    data = SequenceData(path=path, label_columns="label")
    with pytest.raises(ValueError, match=r"classes.csv, row 3, column 'label': label 2 is outside"):
        fast_trainer(max_steps=1).fit(task, datamodule=data)
    assert task.backbone is None


def test_conditions_are_checked_for_prediction_too(tmp_path: Path) -> None:
    samples = [{"ids": f"g{i}", "sequences": "????", "labels": i} for i in range(4)]
    data = SequenceData(
        predict_file=write_csv(tmp_path / "wanted.csv", samples), label_columns="label"
    )
    task = ConditionalDiffusion(tiny_backbone, n_classes=3)
    with pytest.raises(ValueError, match=r"wanted.csv, row 4, column 'label': label 3 is not"):
        fast_trainer().predict(task, datamodule=data)
    assert task.backbone is None
