"""SequenceRegression: learns, predicts in label units, scales with train statistics only."""

from __future__ import annotations

from functools import partial
from statistics import mean

import pytest
import torch
from task_helpers import (
    adam,
    column,
    data_from,
    predict,
    regression_samples,
    tiny_backbone,
    train,
    unlabelled,
)
from torch import nn
from torch.utils.data import DataLoader

from mg.adapters import LinearMeanPoolAdapter
from mg.core.testing import InMemoryData
from mg.core.testing.contracts import fast_trainer
from mg.tasks import SequenceRegression

THOUSANDS = {"offset": 2000.0, "scale": 1000.0}


def test_learns_gc_content_in_the_thousands_and_predicts_in_label_units() -> None:
    task = SequenceRegression(
        tiny_backbone, LinearMeanPoolAdapter, normalize_labels=True, optimizer=adam(1e-2)
    )
    test_samples = regression_samples(24, 2, **THOUSANDS)
    data = data_from(regression_samples, predict=unlabelled(test_samples), **THOUSANDS)
    metrics = train(task, data, epochs=8)
    assert metrics["test_pearson"] > 0.8, metrics
    assert metrics["test_spearman"] > 0.7, metrics
    # Metrics are in label units: an MAE on the standardized scale would be below 1.
    labels = torch.tensor([s["labels"] for s in test_samples])
    assert metrics["test_mae"] < labels.std().item()
    predictions = torch.stack(column(predict(task, data)))
    assert predictions.shape == (24,)
    assert abs(predictions.mean().item() - labels.mean().item()) < 0.1 * labels.std().item() + 50
    assert torch.corrcoef(torch.stack([predictions, labels]))[0, 1] > 0.8


def test_scaling_statistics_come_from_the_train_split_alone() -> None:
    train_samples = regression_samples(16, 0, offset=5000.0, scale=100.0)
    far_away = regression_samples(8, 1, offset=-9000.0, scale=10.0)
    data = InMemoryData(train=train_samples, val=far_away, test=far_away, batch_size=4)
    task = SequenceRegression(tiny_backbone, normalize_labels=True)
    fast_trainer(max_steps=1, limit_val_batches=1).fit(task, datamodule=data)
    values = torch.tensor([s["labels"] for s in train_samples], dtype=torch.float64)
    assert task.label_mean.item() == pytest.approx(values.mean().item(), rel=1e-6)
    assert task.label_std.item() == pytest.approx(values.std(unbiased=False).item(), rel=1e-5)
    state = task.state_dict()
    assert "label_mean" in state and "label_std" in state


def test_plain_dataloaders_give_the_same_statistics() -> None:
    samples = regression_samples(12, 0, offset=300.0, scale=50.0)
    task = SequenceRegression(tiny_backbone, normalize_labels=True)
    loader = DataLoader(samples, batch_size=5, collate_fn=lambda b: task.collate(b))
    fast_trainer(max_steps=1).fit(task, train_dataloaders=loader)
    assert task.label_mean.item() == pytest.approx(mean(s["labels"] for s in samples), rel=1e-5)


def test_without_scaling_the_statistics_stay_identity() -> None:
    task = SequenceRegression(tiny_backbone)
    data = data_from(regression_samples, n_train=8, n_eval=4, **THOUSANDS)
    fast_trainer(max_steps=1, limit_val_batches=0).fit(task, datamodule=data)
    assert task.label_mean.tolist() == [0.0] and task.label_std.tolist() == [1.0]


def test_several_outputs_are_scored_one_by_one_on_test() -> None:
    task = SequenceRegression(tiny_backbone, num_outputs=2, normalize_labels=True)
    data = data_from(regression_samples, n_train=8, n_eval=8, outputs=2, **THOUSANDS)
    fast_trainer(max_steps=2, limit_val_batches=0).fit(task, datamodule=data)
    metrics = fast_trainer().test(task, datamodule=data)[0]
    for name in ("pearson", "spearman", "mae", "mse", "r2"):
        assert name in {k.removeprefix("test_") for k in metrics}
        assert f"test_{name}_output0" in metrics and f"test_{name}_output1" in metrics
    predictions = column(
        predict(task, data_from(regression_samples, n_train=8, n_eval=8, outputs=2, **THOUSANDS))
    )
    assert all(p.shape == (2,) for p in predictions)


def test_losses_are_selectable_by_name_or_callable() -> None:
    assert isinstance(SequenceRegression(tiny_backbone, loss="huber").loss_fn, nn.HuberLoss)
    assert isinstance(SequenceRegression(tiny_backbone, loss="l1").loss_fn, nn.L1Loss)
    custom = SequenceRegression(tiny_backbone, loss=partial(nn.HuberLoss, delta=3.0))
    assert isinstance(custom.loss_fn, nn.HuberLoss) and custom.loss_fn.delta == 3.0
    with pytest.raises(ValueError, match="Unknown loss 'rmse'"):
        SequenceRegression(tiny_backbone, loss="rmse")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("label", "outputs", "message"),
    [
        (float("nan"), 1, "NaN or infinite"),
        ([1.0, float("inf")], 2, "NaN or infinite"),
        ([1.0, 2.0, 3.0], 2, "has 3 value"),
        (1.5, 2, "has 1 value"),
        ("high", 1, "not a number"),
    ],
)
def test_label_problems_are_named(label: object, outputs: int, message: str) -> None:
    problem = SequenceRegression(tiny_backbone, num_outputs=outputs).label_problem(label)
    assert problem is not None and message in problem


def test_good_labels_have_no_problem() -> None:
    assert SequenceRegression(tiny_backbone).label_problem(3) is None
    assert SequenceRegression(tiny_backbone, num_outputs=2).label_problem((1, 2.5)) is None


def test_a_bad_label_fails_before_training() -> None:
    samples = regression_samples(8, 0)
    samples[3]["labels"] = float("nan")

    class Checked(InMemoryData):
        def check_labels(self, stage, problem):  # what file-backed data modules do
            for i, sample in enumerate(self.datasets["train"].samples):
                if (found := problem(sample["labels"])) is not None:
                    raise ValueError(f"train row {i}: {found}")

    task = SequenceRegression(tiny_backbone)
    with pytest.raises(ValueError, match="row 3: label nan is NaN"):
        fast_trainer(max_steps=1).fit(task, datamodule=Checked(train=samples, batch_size=4))
    assert task.backbone is None
