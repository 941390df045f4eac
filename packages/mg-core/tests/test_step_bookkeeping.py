"""What a training step records: the epoch's loss, held metric updates, moved batches."""

from __future__ import annotations

from functools import partial
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from core_toys import ToyRegression, gc_samples
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, PearsonCorrCoef

from mg.core.data import DataInterface
from mg.core.metric_updates import BufferedUpdates
from mg.core.testing import InMemoryData, ToyBackbone
from mg.core.testing.contracts import fast_trainer


class StepLosses(pl.Callback):
    """Keep every training step's loss and batch size."""

    def __init__(self) -> None:
        self.steps: list[tuple[float, int]] = []

    def on_train_batch_end(
        self, trainer: pl.Trainer, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self.steps.append((float(outputs["loss"]), int(batch["input_ids"].shape[0])))


def test_epoch_train_loss_is_the_item_weighted_mean_of_its_steps() -> None:
    torch.manual_seed(0)
    task = ToyRegression(partial(ToyBackbone, max_length=32))
    # 37 items in batches of 8: the last batch holds 5, so a plain mean of steps is wrong.
    data = InMemoryData(train=gc_samples(37, 0), batch_size=8)
    record = StepLosses()
    trainer = fast_trainer(callbacks=[record], log_every_n_steps=2, limit_val_batches=0)
    trainer.fit(task, datamodule=data)
    total = sum(loss * size for loss, size in record.steps)
    expected = total / sum(size for _, size in record.steps)
    assert [size for _, size in record.steps] == [8, 8, 8, 8, 5]
    assert float(trainer.callback_metrics["train_loss"]) == pytest.approx(expected, rel=1e-5)
    # The progress bar saw the running loss during the epoch.
    assert "loss" in trainer.progress_bar_metrics


class EvalLosses(pl.Callback):
    """Keep every validation and test step's loss and batch size, per epoch."""

    def __init__(self) -> None:
        self.epochs: list[list[tuple[float, int]]] = []

    def on_validation_batch_end(
        self,
        trainer: Any,
        module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if batch_idx == 0:
            self.epochs.append([])
        self.epochs[-1].append((float(outputs), int(batch["input_ids"].shape[0])))

    on_test_batch_end = on_validation_batch_end


def _weighted_mean(steps: list[tuple[float, int]]) -> float:
    return sum(loss * size for loss, size in steps) / sum(size for _, size in steps)


def test_val_and_test_loss_are_each_epochs_item_weighted_mean() -> None:
    torch.manual_seed(0)
    task = ToyRegression(partial(ToyBackbone, max_length=32))
    # 21 items in batches of 8: the last batch holds 5.
    data = InMemoryData(
        train=gc_samples(16, 0), val=gc_samples(21, 1), test=gc_samples(21, 2), batch_size=8
    )
    record = EvalLosses()
    trainer = fast_trainer(callbacks=[record], max_epochs=2, num_sanity_val_steps=1)
    trainer.fit(task, datamodule=data)
    # The sanity check's one batch, then two epochs: the last epoch's mean is logged,
    # and no earlier epoch's steps leak into it.
    assert [[size for _, size in epoch] for epoch in record.epochs] == [[8], [8, 8, 5], [8, 8, 5]]
    assert float(trainer.callback_metrics["val_loss"]) == pytest.approx(
        _weighted_mean(record.epochs[-1]), rel=1e-5
    )
    assert _weighted_mean(record.epochs[-1]) != pytest.approx(_weighted_mean(record.epochs[-2]))
    trainer.test(task, datamodule=data)
    assert float(trainer.callback_metrics["test_loss"]) == pytest.approx(
        _weighted_mean(record.epochs[-1]), rel=1e-5
    )


def test_per_step_logging_is_still_available() -> None:
    task = ToyRegression(partial(ToyBackbone, max_length=32), log_train_steps=True)
    data = InMemoryData(train=gc_samples(16, 0), batch_size=8)
    trainer = fast_trainer(limit_val_batches=0)
    trainer.fit(task, datamodule=data)
    assert {"train_loss_step", "train_loss_epoch"} <= set(trainer.callback_metrics)


def _regression_metrics() -> MetricCollection:
    return MetricCollection(
        {"mse": MeanSquaredError(), "mae": MeanAbsoluteError(), "pearson": PearsonCorrCoef()}
    )


def test_held_updates_give_the_values_of_updates_every_step() -> None:
    generator = torch.Generator().manual_seed(0)
    held, reference = BufferedUpdates(_regression_metrics(), every=32), _regression_metrics()
    for step in range(70):  # two full groups, and 6 calls still held when asked
        n = 1 + step % 9
        preds, target = torch.randn(n, generator=generator), torch.randn(n, generator=generator)
        held.update(preds, target)
        reference.update(preds, target)
    held.flush()
    got, want = held.collection.compute(), reference.compute()
    for name, value in want.items():
        torch.testing.assert_close(got[name], value)


def test_held_updates_whose_shapes_differ_are_applied_one_by_one() -> None:
    held, reference = BufferedUpdates(MeanSquaredError(), every=4), MeanSquaredError()
    for width in (3, 5, 3, 7, 2):  # (items, width) rows of a different width each step
        preds, target = torch.rand(2, width), torch.rand(2, width)
        held.update(preds, target)
        reference.update(preds, target)
    held.flush()
    torch.testing.assert_close(held.collection.compute(), reference.compute())


def test_asking_a_stage_for_its_metrics_applies_held_updates() -> None:
    class Scored(ToyRegression):
        def configure_metrics(self, stage: str) -> dict[str, Any]:
            return {"mse": MeanSquaredError()}

    task = Scored(partial(ToyBackbone, max_length=32))
    task.update_metrics("val", torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0]))
    assert float(task.stage_metrics("val")["mse"].compute()) == pytest.approx(2.0)


def test_a_batch_moves_its_tensors_and_keeps_its_plain_values() -> None:
    data: DataInterface = InMemoryData(train=gc_samples(2, 0))
    batch = {
        "input_ids": torch.ones(2, 3, dtype=torch.long),
        "ids": ["a", "b"],
        "nested": {"mask": torch.zeros(2, dtype=torch.bool)},
    }
    moved = data.transfer_batch_to_device(batch, torch.device("meta"), 0)
    assert moved["input_ids"].device.type == "meta"
    assert moved["ids"] is batch["ids"]
    assert moved["nested"]["mask"].device.type == "meta"
