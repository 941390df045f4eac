"""Tasks on SequenceData read from files: label checks and train-only scaling statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from task_helpers import composition_samples, regression_samples, tiny_backbone

from mg.core.testing.contracts import fast_trainer
from mg.tasks import ConditionalDiffusion, SequenceClassification, SequenceData, SequenceRegression

# Whole-file splits are read in memory, then again through the disk store.
pytestmark = pytest.mark.usefixtures("storage")


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


def test_regression_statistics_of_a_training_file(tmp_path: Path, storage: str) -> None:
    samples = regression_samples(60, 1, offset=500.0, scale=100.0, outputs=2)
    lines = ["id,sequence,a,b"] + [
        f"{s['ids']},{s['sequences']},{s['labels'][0]},{s['labels'][1]}" for s in samples
    ]
    (tmp_path / "scores.csv").write_text("\n".join(lines) + "\n")
    data = SequenceData(
        train_file=str(tmp_path / "scores.csv"), label_columns=["a", "b"], batch_size=8
    )
    task = SequenceRegression(tiny_backbone, num_outputs=2, normalize_labels=True)
    fast_trainer(max_steps=1, limit_val_batches=0).fit(task, datamodule=data)
    assert type(data.datasets["train"]).__name__ == (
        "StoredSequenceDataset" if storage == "disk" else "SequenceDataset"
    )
    labels = torch.tensor([s["labels"] for s in samples], dtype=torch.float64)
    assert task.label_mean.tolist() == pytest.approx(labels.mean(0).tolist(), rel=1e-6)
    assert task.label_std.tolist() == pytest.approx(labels.std(0, correction=0).tolist(), rel=1e-5)


def test_a_class_out_of_range_is_named_with_file_and_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "classes.csv", composition_samples(10, 0, n_classes=3))
    task = SequenceClassification(tiny_backbone, n_classes=2)
    data = SequenceData(label_type="class", path=path, label_columns="label")
    with pytest.raises(
        ValueError, match=r"classes.csv, row 3, column 'label' = '2': label 2 is outside"
    ):
        fast_trainer(max_steps=1).fit(task, datamodule=data)
    assert task.backbone is None


def test_conditions_are_checked_for_prediction_too(tmp_path: Path) -> None:
    samples = [{"ids": f"g{i}", "sequences": "????", "labels": i} for i in range(4)]
    data = SequenceData(
        label_type="class",
        predict_file=write_csv(tmp_path / "wanted.csv", samples),
        label_columns="label",
    )
    task = ConditionalDiffusion(tiny_backbone, n_classes=3)
    with pytest.raises(
        ValueError, match=r"wanted.csv, row 4, column 'label' = '3': label 3 is outside"
    ):
        fast_trainer().predict(task, datamodule=data)
    assert task.backbone is None


@pytest.mark.parametrize(("offset", "scale"), [(0.0, 1.0), (1000.0, 1000.0)])
def test_regression_reads_numbers_without_a_label_type(
    tmp_path: Path, offset: float, scale: float
) -> None:
    # GC fractions such as 0.43, or 1000 + 1000 * GC such as 1234.5: the task says "regression",
    # so the column is read as numbers and never as class indices.
    samples = regression_samples(48, 0, offset=offset, scale=scale)
    data = SequenceData(
        path=write_csv(tmp_path / "gc.csv", samples),
        label_columns="label",
        test_fraction=0.25,
        batch_size=8,
    )
    task = SequenceRegression(tiny_backbone, normalize_labels=True)
    fast_trainer(max_epochs=2, limit_val_batches=0).fit(task, datamodule=data)
    read = sorted(data.datasets["train"].labels)
    assert all(isinstance(v, float) for v in read)
    written = sorted(s["labels"] for s in samples)
    assert set(read) <= set(written) and len(read) == 36
    predictions = torch.cat(
        [b["predictions"].flatten() for b in fast_trainer().predict(task, datamodule=data)]
    )
    # In the data's units: inside the range of the labels, not near a class index.
    assert written[0] - scale <= predictions.mean().item() <= written[-1] + scale


def test_classification_refuses_fractional_labels_before_loading_weights(tmp_path: Path) -> None:
    samples = regression_samples(12, 0)
    data = SequenceData(path=write_csv(tmp_path / "gc.csv", samples), label_columns="label")
    task = SequenceClassification(tiny_backbone)
    first = next(s for s in samples if s["labels"] != int(s["labels"]))
    row = samples.index(first) + 1
    with pytest.raises(ValueError) as error:
        fast_trainer(max_steps=1).fit(task, datamodule=data)
    message = str(error.value)
    assert f"gc.csv, row {row}, column 'label'" in message
    assert repr(str(first["labels"])) in message and "SequenceRegression" in message
    assert task.backbone is None


def test_a_label_type_that_contradicts_the_task_stops_before_loading_weights(
    tmp_path: Path,
) -> None:
    samples = regression_samples(8, 0)
    data = SequenceData(
        path=write_csv(tmp_path / "gc.csv", samples), label_columns="label", label_type="class"
    )
    task = SequenceRegression(tiny_backbone)
    with pytest.raises(ValueError, match="label_type is 'class', but the task reads 'regression'"):
        fast_trainer(max_steps=1).fit(task, datamodule=data)
    assert task.backbone is None


def test_a_class_column_mixing_indices_and_names_is_refused(tmp_path: Path) -> None:
    samples = composition_samples(6, 0)
    for i, sample in enumerate(samples):
        sample["labels"] = "kinase" if i < 5 else 1
    data = SequenceData(path=write_csv(tmp_path / "mixed.csv", samples), label_columns="label")
    task = SequenceClassification(tiny_backbone)
    with pytest.raises(ValueError, match=r"mixes class indices and class names.*row 6 holds '1'"):
        fast_trainer(max_steps=1).fit(task, datamodule=data)
    assert task.backbone is None


def test_more_class_names_than_n_classes_says_to_raise_n_classes(tmp_path: Path) -> None:
    samples = composition_samples(9, 0, n_classes=3)
    for sample in samples:
        sample["labels"] = ["cytosol", "nucleus", "membrane"][sample["labels"]]
    data = SequenceData(path=write_csv(tmp_path / "names.csv", samples), label_columns="label")
    task = SequenceClassification(tiny_backbone, n_classes=2)
    with pytest.raises(ValueError, match=r"name 3 classes .*set n_classes: 3.*'nucleus'"):
        fast_trainer(max_steps=1).fit(task, datamodule=data)
    assert task.backbone is None


def test_duplicate_ids_are_refused_for_prediction_and_named(tmp_path: Path) -> None:
    samples = composition_samples(5, 0)
    samples[4]["ids"] = samples[1]["ids"]
    path = write_csv(tmp_path / "dups.csv", samples)
    with pytest.raises(ValueError, match=r"repeats ids.*dups.csv, row 2 and .*dups.csv, row 5"):
        SequenceData(predict_file=path).setup("predict")
    with pytest.warns(UserWarning, match="repeats 1 id"):
        SequenceData(train_file=path).setup("fit")


def test_a_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"id,sequence\na,ACGT\nb,ACG\xe9T\n")
    with pytest.raises(ValueError, match=r"latin.csv, line 3: the bytes .* are not UTF-8"):
        SequenceData(predict_file=str(path)).setup("predict")


def test_a_bad_residue_in_the_last_row_stops_fit_before_weights_load(tmp_path: Path) -> None:
    samples = composition_samples(300, 0)
    last = samples[-1]
    last["sequences"] = last["sequences"][:5] + "*" + last["sequences"][6:]
    data = SequenceData(path=write_csv(tmp_path / "reads.csv", samples), label_columns="label")
    task = SequenceClassification(tiny_backbone)
    expected = rf"reads.csv, row 300, id '{last['ids']}': the sequence holds '\*' at position 6"
    with pytest.raises(ValueError, match=expected):
        fast_trainer(max_steps=1).fit(task, datamodule=data)
    assert task.backbone is None


def test_protein_rows_on_a_dna_backbone_are_named_as_such(tmp_path: Path) -> None:
    samples = composition_samples(4, 0)
    samples[2]["sequences"] = "MKVLLLAGWWRRE"
    data = SequenceData(path=write_csv(tmp_path / "mixed.csv", samples), label_columns="label")
    with pytest.raises(ValueError, match=r"row 3, .*'M' at position 1.*reads as protein"):
        fast_trainer(max_steps=1).fit(SequenceClassification(tiny_backbone), datamodule=data)


def test_sequences_that_max_length_cuts_are_counted_once(tmp_path: Path) -> None:
    samples = composition_samples(8, 0)
    for sample, length in zip(samples[:3], (50, 70, 39), strict=True):
        sample["sequences"] = ("ACGT" * 20)[:length]
    data = SequenceData(path=write_csv(tmp_path / "long.csv", samples), label_columns="label")
    # ToyBackbone adds CLS and EOS: 39 residues make 41 tokens, over the 40 of max_length.
    with pytest.warns(
        UserWarning, match=r"max_length=40 .* cuts 3 of 8 train sequences \(longest 70"
    ):
        fast_trainer(max_steps=1).fit(SequenceClassification(tiny_backbone), datamodule=data)
