"""ConditionalMLM: the condition changes what the head predicts; contract; label checks."""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch
from task_helpers import adam, conditional_samples, tiny_backbone, train

from mg.adapters import ConditionalLMAdapter
from mg.core.testing import InMemoryData
from mg.core.testing.contracts import TaskContract, fast_trainer
from mg.tasks import ConditionalDiffusion, ConditionalMLM, SequenceData
from mg.tasks.batching import residue_mask


def class_composition(n: int, seed: int) -> list[dict[str, Any]]:
    """Class 0 draws bases 90% from A/T, class 1 90% from G/C; lengths 8..20."""
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        label = i % 2
        rich, poor = ("GC", "AT") if label else ("AT", "GC")
        seq = "".join(
            rng.choice(rich) if rng.random() < 0.9 else rng.choice(poor)
            for _ in range(rng.randint(8, 20))
        )
        samples.append({"ids": f"k{seed}_{i}", "sequences": seq, "labels": label})
    return samples


def gc_probability(task: ConditionalMLM, sequences: list[str], label: int) -> torch.Tensor:
    """P(G or C) at every masked residue of fully masked inputs, under class ``label``."""
    samples = [{"ids": str(i), "sequences": s, "labels": label} for i, s in enumerate(sequences)]
    batch = task.collate(samples)
    residues = residue_mask(batch)
    masked = batch["input_ids"].masked_fill(residues, task.backbone.get_special_token_id("mask"))
    task.eval()
    with torch.no_grad():
        logits = task.conditional_logits(masked, batch["attention_mask"], batch["condition"])
    alphabet = task.backbone.get_alphabet_token_ids()
    probabilities = logits[..., alphabet].softmax(-1)
    gc_ids = [alphabet.index(task.backbone.get_token_id(base)) for base in "GC"]
    gc = probabilities[..., gc_ids].sum(-1)
    return gc[residues]


def test_the_condition_moves_the_predicted_distribution_towards_its_class() -> None:
    # Every residue masked: the context says nothing, only the condition can tell G/C from A/T.
    task = ConditionalMLM(tiny_backbone, mask_rate=1.0, optimizer=adam(3e-3))
    data = InMemoryData(
        train=class_composition(128, 0), test=class_composition(32, 2), batch_size=16
    )
    task.configure_model()
    probes = [s["sequences"] for s in class_composition(16, 5)]
    gap_before = (gc_probability(task, probes, 1) - gc_probability(task, probes, 0)).mean()
    train(task, data, epochs=6)
    under_gc, under_at = gc_probability(task, probes, 1), gc_probability(task, probes, 0)
    # An untrained head barely hears the condition (its last layer starts small).
    assert abs(float(gap_before)) < 0.05, gap_before
    # The data: 90% G/C under class 1, 10% under class 0; the model must get most of the way.
    assert float(under_gc.mean()) > 0.75 and float(under_at.mean()) < 0.25, (
        under_gc.mean(),
        under_at.mean(),
    )


def test_wrong_conditions_cost_loss_on_test() -> None:
    task = ConditionalMLM(tiny_backbone, mask_rate=1.0, optimizer=adam(3e-3))
    test = class_composition(32, 2)
    swapped = [{**s, "labels": 1 - s["labels"]} for s in test]
    right = train(task, InMemoryData(train=class_composition(128, 0), test=test), epochs=6)
    wrong = fast_trainer().test(task, datamodule=InMemoryData(test=swapped))[0]
    assert wrong["test_loss"] > right["test_loss"] + 0.5, (right, wrong)
    assert right["test_accuracy"] > 0.35


def test_takes_the_adapters_of_conditional_diffusion() -> None:
    assert ConditionalMLM.adapter_type is ConditionalDiffusion.adapter_type
    task = ConditionalMLM(tiny_backbone, adapter=partial(ConditionalLMAdapter, mixing="add"))
    task.configure_model()
    assert isinstance(task.adapter, ConditionalLMAdapter) and task.adapter.mixing == "add"


@pytest.mark.parametrize(
    ("options", "label", "message"),
    [
        ({}, "2", r"row 3, column 'label' = '2': label 2 is outside \[0, 2\)"),
        (
            {"condition": "continuous", "condition_size": 2},
            "0.5",
            r"has 1 value\(s\), but the task reads 2",
        ),
        ({"condition": "continuous"}, "nan", "NaN"),
    ],
)
def test_bad_condition_is_named_before_the_model_is_built(
    options: dict[str, Any], label: str, message: str, tmp_path: Path
) -> None:
    rows = ["id,sequence,label", "a,ACGT,0", "b,GGCC,1", f"c,ATAT,{label}"]
    path = tmp_path / "train.csv"
    path.write_text("\n".join(rows) + "\n")
    kind = "class" if options.get("condition", "class") == "class" else "regression"
    data = SequenceData(train_file=str(path), label_columns="label", label_type=kind)
    task = ConditionalMLM(tiny_backbone, **options)
    with pytest.raises(ValueError, match=message):
        fast_trainer(max_steps=1).fit(task, datamodule=data)
    assert task.backbone is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mask_rate": 0.0}, "mask_rate"),
        ({"n_classes": 1}, "n_classes"),
        ({"condition": "ordinal"}, "condition"),
        ({"output": "logits"}, "output"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConditionalMLM(tiny_backbone, **options)


class TestConditionalMLM(TaskContract):
    def make_task(self) -> ConditionalMLM:
        return ConditionalMLM(tiny_backbone, mask_rate=0.3, output="probabilities")

    def make_data(self, batch_size: int = 4) -> InMemoryData:
        return InMemoryData(
            train=conditional_samples(16, 0),
            val=conditional_samples(8, 1),
            test=conditional_samples(10, 2),
            predict=conditional_samples(10, 3),
            batch_size=batch_size,
        )
