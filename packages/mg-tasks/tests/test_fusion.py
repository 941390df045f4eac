"""Fusion: a label that needs both sequences is learned only from both; checks; contract."""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch
from task_helpers import adam, tiny_backbone, train

from mg.adapters import ConcatFusionAdapter, CrossAttentionFusionAdapter, LinearMeanPoolAdapter
from mg.core import IncompatibleError
from mg.core.testing import InMemoryData, ToyBackbone
from mg.core.testing.contracts import TaskContract, fast_trainer
from mg.tasks import FusionClassification, FusionRegression, SequenceRegression
from mg.tasks.data import MultiColumnData

PROTEIN = "ACDEFGHIKLMNPQRSTVWY"
dna_backbone = partial(tiny_backbone, hidden_size=32)
protein_backbone = partial(ToyBackbone, alphabet=PROTEIN, hidden_size=32, max_length=40, seed=1)


def gc(sequence: str) -> float:
    return sum(b in "GC" for b in sequence) / len(sequence)


def hydrophobic(sequence: str) -> float:
    return sum(r in "AILMFVW" for r in sequence) / len(sequence)


def paired(n: int, seed: int, classes: bool = False) -> list[dict[str, Any]]:
    """A DNA and a protein sequence drawn independently; the label needs both.

    Regression: GC fraction of the DNA minus the hydrophobic fraction of the protein.
    Classification: 1 when the DNA is GC-rich and the protein hydrophobic-rich, or neither.
    """
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        gc_share, h_share = rng.random(), rng.random()
        dna = "".join(
            rng.choice("GC") if rng.random() < gc_share else rng.choice("AT")
            for _ in range(rng.randint(10, 24))
        )
        protein = "".join(
            rng.choice("AILMFVW") if rng.random() < h_share else rng.choice("DEKRNQSTGH")
            for _ in range(rng.randint(10, 24))
        )
        if classes:
            label: Any = int((gc(dna) > 0.5) == (hydrophobic(protein) > 0.5))
        else:
            label = gc(dna) - hydrophobic(protein)
        samples.append(
            {"ids": f"f{seed}_{i}", "sequences": dna, "protein": protein, "labels": label}
        )
    return samples


def splits(make: Any, n_train: int = 192, batch_size: int = 16, **options: Any) -> InMemoryData:
    return InMemoryData(
        train=make(n_train, 0, **options),
        val=make(32, 1, **options),
        test=make(64, 2, **options),
        predict=make(16, 3, **options),
        batch_size=batch_size,
    )


def only(samples: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The samples as a single-modality task sees them: one column as ``sequences``."""
    return [{"ids": s["ids"], "sequences": s[key], "labels": s["labels"]} for s in samples]


@pytest.mark.parametrize("adapter", [ConcatFusionAdapter, CrossAttentionFusionAdapter])
def test_fused_model_beats_each_single_modality_model(adapter: Any) -> None:
    data = splits(paired)
    fused = FusionRegression(
        {"sequences": dna_backbone, "protein": protein_backbone}, adapter, optimizer=adam(3e-3)
    )
    fused_mse = train(fused, data, epochs=8)["test_mse"]
    single = {}
    for key, backbone in (("sequences", dna_backbone), ("protein", protein_backbone)):
        view = InMemoryData(
            train=only(data.datasets["train"].samples, key),
            test=only(data.datasets["test"].samples, key),
            batch_size=16,
        )
        task = SequenceRegression(backbone, LinearMeanPoolAdapter, optimizer=adam(3e-3))
        single[key] = train(task, view, epochs=8)["test_mse"]
    # Each modality alone explains about half the label's variance; together, all of it.
    assert fused_mse < 0.5 * min(single.values()), (fused_mse, single)


def test_classification_learns_a_label_of_both_columns() -> None:
    task = FusionClassification(
        {"sequences": dna_backbone, "protein": protein_backbone}, optimizer=adam(3e-3)
    )
    metrics = train(task, splits(paired, n_train=256, classes=True), epochs=10)
    # The label is an XOR of one property per column: either column alone is at chance.
    assert metrics["test_accuracy"] > 0.75, metrics


def test_every_column_reads_with_its_own_backbone_and_alphabet() -> None:
    task = FusionRegression({"sequences": dna_backbone, "protein": protein_backbone})
    task.configure_model()
    sample = paired(1, 0)[0]
    with pytest.raises(ValueError, match="Column 'sequences'"):
        task.collate([{**sample, "sequences": sample["protein"] + "W"}])
    batch = task.collate([sample])
    assert batch["inputs"]["protein"]["input_ids"].shape[1] == len(sample["protein"]) + 2


def test_missing_column_fails_before_any_backbone_is_built(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text("id,sequence,partner,label\na,ACGT,MKV,0.5\n")
    data = MultiColumnData(
        train_file=str(path),
        label_columns="label",
        label_type="regression",
        columns={"partner": "partner"},
        sequence_keys=["partner"],
    )
    task = FusionRegression({"sequences": dna_backbone, "protein": protein_backbone})
    with pytest.raises(IncompatibleError, match=r"'protein' backbone from a 'protein' column"):
        fast_trainer(max_steps=1).fit(task, datamodule=data)
    assert task.backbone is None and task.other_backbones is None


def test_a_bad_residue_in_the_second_column_fails_before_weights_load(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text("id,sequence,partner,label\na,ACGT,MKV,0.5\nb,ACGA,MKZQ,0.1\n")
    data = MultiColumnData(
        train_file=str(path),
        label_columns="label",
        columns={"protein": "partner"},
        sequence_keys=["protein"],
    )
    task = FusionRegression({"sequences": dna_backbone, "protein": protein_backbone})
    message = rf"{path}, row 2, column 'partner', id 'b': the sequence holds 'Z' at position 3"
    with pytest.raises(ValueError, match=message):
        fast_trainer(max_steps=1).fit(task, datamodule=data)
    assert task.backbone is None and task.other_backbones is None


def test_the_report_names_every_backbone() -> None:
    task = FusionRegression({"sequences": dna_backbone, "protein": protein_backbone})
    report = task.compatibility()
    assert report.compatible, report
    assert report.backbone == "sequences=ToyBackbone & protein=ToyBackbone"


@pytest.mark.parametrize(
    ("backbones", "message"),
    [
        ({"sequences": dna_backbone}, "two or three"),
        ({"dna": dna_backbone, "protein": protein_backbone}, "'sequences'"),
    ],
)
def test_bad_backbone_sets_are_refused(backbones: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FusionRegression(backbones)


class TestFusionRegression(TaskContract):
    def make_task(self) -> FusionRegression:
        return FusionRegression(
            {"sequences": dna_backbone, "protein": protein_backbone}, CrossAttentionFusionAdapter
        )

    def make_data(self, batch_size: int = 4) -> InMemoryData:
        return InMemoryData(
            train=paired(16, 0),
            val=paired(8, 1),
            test=paired(10, 2),
            predict=paired(10, 3),
            batch_size=batch_size,
        )


class TestFusionClassification(TaskContract):
    def make_task(self) -> FusionClassification:
        return FusionClassification({"sequences": dna_backbone, "protein": protein_backbone})

    def make_data(self, batch_size: int = 4) -> InMemoryData:
        make = partial(paired, classes=True)
        return InMemoryData(
            train=make(16, 0),
            val=make(8, 1),
            test=make(10, 2),
            predict=make(10, 3),
            batch_size=batch_size,
        )


def test_three_backbones_fuse() -> None:
    third = partial(tiny_backbone, hidden_size=16, seed=3)
    samples = [{**s, "rna": s["sequences"][::-1]} for s in paired(8, 0)]
    task = FusionRegression({"sequences": dna_backbone, "protein": protein_backbone, "rna": third})
    fast_trainer(max_steps=2).fit(task, datamodule=InMemoryData(train=samples, batch_size=4))
    assert len(task.other_backbones) == 2
    assert torch.isfinite(task(task.collate(samples))).all()
