"""Keep what a test run predicted, beside the truth, for `mg report` to draw.

Metrics say how good a model is; curves and matrices say where it fails. Both need each
test item's prediction next to its label, which ``metrics.csv`` does not hold, so this
callback writes them to ``test_outputs.pt`` in the run folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor

from mg.cli.callbacks import run_folder
from mg.core.data import LabelKind
from mg.core.labels import LabelHandler, label_handler

OUTPUTS_FILE = "test_outputs.pt"


def test_label_handler(task: pl.LightningModule) -> LabelHandler | None:
    """Return the label handler whose figures fit a task's test outputs, or None.

    Every task of a label kind gets that kind's figures; a task whose labels are a
    condition it is given (not a target it predicts) or that reads no labels gets none.
    """
    if not getattr(task, "labels_are_targets", False):
        return None
    handler = label_handler(getattr(task, "label_kind", LabelKind.NONE))
    return handler if handler.figures is not None else None


class SaveTestOutputs(Callback):
    """Write each test item's prediction and label to ``test_outputs.pt`` in the run folder.

    The task's own ``predict_step`` makes the predictions (so they are in label units, as
    `mg predict` writes them); this costs one extra forward pass per test batch. Tasks
    without labels to compare against (embeddings, generation) are left alone.

    Test batches may be sorted by length; the items are saved in file order again (by
    their id's row in the data module's test split, when it has ids), so a DDP run's
    files, each a contiguous block of the split, join in rank order into file order.
    """

    def __init__(self) -> None:
        super().__init__()
        self._handler: LabelHandler | None = None
        self._parts: dict[str, list[Any]] = {}

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Start collecting, if the task's label kind has figures."""
        self._handler = test_label_handler(pl_module)
        self._parts = {"ids": [], "labels": [], "scores": []}

    def on_test_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Predict the batch again with ``predict_step`` and keep it beside its labels."""
        if self._handler is None or "labels" not in batch:
            return
        with torch.no_grad():
            predicted = pl_module.predict_step(batch, batch_idx)
        if self._handler.score_key not in predicted:
            # e.g. a zero-shot score rather than class probabilities: nothing to draw.
            self._handler = None
            return
        items = self._handler.test_items(predicted, batch)
        ids = list(predicted.get("ids") or [None] * len(items))
        self._parts["ids"].extend(ids)
        self._parts["labels"].extend(label for label, _ in items)
        self._parts["scores"].extend(score for _, score in items)

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Write the collected outputs; each process writes its own file under DDP."""
        from mg.cli.writer import class_names_of

        handler = self._handler
        if handler is None or not self._parts["labels"]:
            return
        parts = self._parts
        order = _file_order(trainer, parts["ids"])
        record: dict[str, Any] = {
            "kind": handler.kind.value,
            "task": type(pl_module).__name__,
            # The prediction writer's names (task's, else the data module's), so every
            # output of one run names the classes alike.
            "class_names": class_names_of(trainer, pl_module) or [],
            "ids": [str(parts["ids"][k]) for k in order],
            "labels": handler.join([parts["labels"][k] for k in order]),
            "scores": handler.join([parts["scores"][k] for k in order]),
        }
        name = OUTPUTS_FILE
        if trainer.world_size > 1:
            name = f"test_outputs.rank{trainer.global_rank}.pt"
        folder = run_folder(trainer)
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(record, folder / name)
        self._parts = {}


def _file_order(trainer: pl.Trainer, ids: list[Any]) -> list[int]:
    """The collected items' positions sorted by their row in the test split (or as collected).

    Only when every collected id is found in the data module's test split is the order
    changed; a repeated id keeps its first row.
    """
    split = getattr(getattr(trainer, "datamodule", None), "datasets", {}).get("test")
    known = getattr(split, "ids", None)
    if known is None:
        return list(range(len(ids)))
    row: dict[Any, int] = {}
    for position, name in enumerate(known):
        row.setdefault(name, position)
    if not all(name in row for name in ids):
        return list(range(len(ids)))
    return sorted(range(len(ids)), key=lambda k: row[ids[k]])


def _rank_of(path: Path) -> int:
    """The rank in ``test_outputs.rankN.pt`` (0 for the single-process file)."""
    suffix = path.suffixes[-2] if len(path.suffixes) > 1 else ""
    return int(suffix[5:]) if suffix.startswith(".rank") and suffix[5:].isdigit() else 0


def load_test_outputs(folder: Path) -> dict[str, Any] | None:
    """Read a run folder's test outputs (merging the files of a DDP run), or None.

    Args:
        folder (Path): the run folder.

    Returns:
        dict[str, Any] | None: ``kind``, ``task``, ``class_names``, ``ids``, ``labels`` and
        ``scores`` (probabilities, or predictions for regression).
    """
    files = sorted(folder.glob("test_outputs*.pt"), key=_rank_of)  # rank 10 after rank 9
    if not files:
        return None
    records = [torch.load(f, map_location="cpu", weights_only=True) for f in files]
    merged = dict(records[0])
    for key in ("ids", "labels", "scores"):
        values = [r[key] for r in records]
        if isinstance(values[0], Tensor):
            merged[key] = torch.cat(values)
        else:
            merged[key] = [v for part in values for v in part]
    return merged
