"""`EpochSums`: a task's steps, and the epoch means of what its ``evaluate`` returns.

What ``evaluate`` returns each step is summed on the device, weighted by the batch's
items, and logged once per epoch (under DDP the sums and counts are added over processes
first); metrics are computed and logged at the same time. `TaskInterface` mixes it in.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

Stage = Literal["train", "val", "test", "predict"]


def batch_size_of(batch: dict[str, Any]) -> int:
    """Return the number of items in a collated batch."""
    return int(batch["input_ids"].shape[0])


class EpochSums:
    """Training, validation and test steps with their losses summed per epoch.

    Mixed into `TaskInterface` (before ``LightningModule``, whose hooks it fills); it
    reads the task's ``evaluate``, ``log_train_steps``, ``metrics``, ``stage_metrics``,
    and the ``_sums``, ``_train_batches`` and ``_metric_updates`` the task initialises.
    """

    _sums: dict[str, tuple[Tensor, int]]
    _train_batches: int
    _resumed_epoch: dict[str, Any] | None
    _metric_updates: dict[str, Any]

    def _step(self, batch: dict[str, Any], stage: Stage) -> Tensor:
        preds = self(batch)
        outputs = self.evaluate(preds, batch, stage)
        size = batch_size_of(batch)
        if stage == "train" and self.log_train_steps:
            for name, value in outputs.items():
                self.log(
                    f"train_{name}",
                    value.detach(),
                    on_step=True,
                    on_epoch=True,
                    prog_bar=name == "loss",
                    batch_size=size,
                )
            return outputs["loss"]
        self._add_to_sums(stage, outputs, size)
        if stage == "train":
            self._show_running_loss()
        return outputs["loss"]

    def _add_to_sums(self, stage: Stage, outputs: dict[str, Tensor], size: int) -> None:
        """Add a step's outputs, weighted by its items, to the epoch's sums.

        Two small tensor operations and no host sync: a ``self.log`` or a metric update per
        step costs Lightning's or torchmetrics' bookkeeping (about 1 ms on a CPU), which
        outweighs a small model's step.
        """
        for name, value in outputs.items():
            key = f"{stage}_{name}"
            weighted = value.detach().float() * size
            total, count = self._sums.get(key, (None, 0))
            self._sums[key] = (weighted if total is None else total + weighted, count + size)

    def _show_running_loss(self) -> None:
        """Show the epoch's running training loss every ``log_every_n_steps`` steps."""
        self._train_batches += 1
        every = self.trainer.log_every_n_steps if self._trainer is not None else 0
        if every and self._train_batches % every == 0 and "train_loss" in self._sums:
            total, count = self._sums["train_loss"]
            # The progress bar only: the logger gets the epoch mean as train_loss.
            self.log("loss", total / count, prog_bar=True, logger=False, on_step=True)

    def _clear_sums(self, stage: Stage) -> None:
        """Forget the stage's sums (a new epoch, or one an interruption left behind)."""
        for key in [k for k in self._sums if k.startswith(f"{stage}_")]:
            del self._sums[key]
        if stage == "train":
            self._train_batches = 0
        if stage in self._metric_updates:
            self._metric_updates[stage].clear()

    def _epoch_means(self, stage: Stage) -> dict[str, Tensor]:
        """Return the stage's item-weighted epoch means over all processes, and forget the sums.

        Sums and item counts are added across processes before dividing, in one reduce.
        (Lightning's ``sync_dist`` mean divides the item count, an integer, by the number
        of processes and truncates it, so uneven shares would give a wrong mean.)
        """
        keys = [k for k in self._sums if k.startswith(f"{stage}_")]
        if not keys:
            return {}
        sums = [self._sums.pop(k) for k in keys]
        totals = torch.stack([total for total, _ in sums])
        counts = totals.new_tensor([float(count) for _, count in sums])
        if self._trainer is not None and self.trainer.world_size > 1:
            both = self.trainer.strategy.reduce(torch.stack([totals, counts]), reduce_op="sum")
            totals, counts = both[0], both[1]
        return dict(zip(keys, totals / counts, strict=True))

    def _log_epoch_metrics(self, stage: Stage) -> None:
        """Log the stage's epoch means and compute its metrics (they sync), then reset."""
        for key, mean in self._epoch_means(stage).items():
            self.log(key, mean, prog_bar=key == f"{stage}_loss")
        key = f"{stage}_metrics"
        if key not in self.metrics:
            return
        collection = self.stage_metrics(stage)
        # Within a compute group only the first member is updated: ask whether any was.
        if any(m.update_count for m in collection.values(copy_state=False)):  # type: ignore[operator]
            for name, value in collection.compute().items():  # type: ignore[operator]
                if isinstance(value, Tensor) and value.numel() == 1:
                    self.log(f"{stage}_{name}", value.float(), on_epoch=True)
        collection.reset()  # type: ignore[operator]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep a part-done training epoch's sums, so a resumed epoch logs the whole mean.

        A checkpoint written at the end of an epoch (its last batch done) keeps none: the
        resumed run starts the next epoch afresh.
        """
        super().on_save_checkpoint(checkpoint)  # type: ignore[misc]
        if self._trainer is None:
            return
        done = self.trainer.fit_loop.epoch_loop.batch_progress.current.completed
        if not 0 < done < self.trainer.num_training_batches:
            return
        sums = {k: (t.detach().cpu(), n) for k, (t, n) in self._sums.items() if k[:6] == "train_"}
        checkpoint.setdefault("mg", {})["train_epoch"] = {
            "epoch": self.current_epoch,
            "sums": sums,
            "batches": self._train_batches,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Take back the sums of the part-done epoch the checkpoint was written in.

        Lightning resumes such an epoch without calling ``on_train_epoch_start`` again, so
        the sums are restored here.
        """
        super().on_load_checkpoint(checkpoint)  # type: ignore[misc]
        resumed = checkpoint.get("mg", {}).get("train_epoch")
        self._resumed_epoch = resumed
        if resumed is not None:
            for key, (total, count) in resumed["sums"].items():
                self._sums[key] = (total.to(self.device), count)
            self._train_batches = resumed["batches"]

    def on_train_epoch_start(self) -> None:
        """Start the epoch's sums afresh, unless it is the part-done epoch just restored."""
        resumed, self._resumed_epoch = getattr(self, "_resumed_epoch", None), None
        if resumed is None or resumed["epoch"] != self.current_epoch:
            self._clear_sums("train")

    def on_validation_epoch_start(self) -> None:
        """Start the validation sums afresh."""
        self._clear_sums("val")

    def on_test_epoch_start(self) -> None:
        """Start the test sums afresh."""
        self._clear_sums("test")

    def on_train_epoch_end(self) -> None:
        """Log the training loss and metrics of the epoch."""
        self._log_epoch_metrics("train")

    def on_validation_epoch_end(self) -> None:
        """Log the validation metrics of the epoch."""
        self._log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        """Log the test metrics."""
        self._log_epoch_metrics("test")

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        """Run one training step."""
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        """Run one validation step."""
        return self._step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        """Run one test step."""
        return self._step(batch, "test")
