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

OUTPUTS_FILE = "test_outputs.pt"
IGNORE_INDEX = -100
"""Token labels with this value are not scored (the same convention as the token tasks)."""


def output_kind(task: pl.LightningModule) -> str | None:
    """Name the kind of outputs a task gives, or None when `mg report` has no plots for it.

    Args:
        task (pl.LightningModule): the task under test.

    Returns:
        str | None: ``"classification"``, ``"multilabel"``, ``"token_classification"``,
        ``"regression"`` or ``"pairwise"``.
    """
    from mg.tasks import (
        PairwiseTokenClassification,
        SequenceClassification,
        SequenceRegression,
        TokenClassification,
    )

    if isinstance(task, SequenceClassification):
        return "multilabel" if task.multilabel else "classification"
    if isinstance(task, TokenClassification):
        return "token_classification"
    if isinstance(task, SequenceRegression):
        return "regression"
    if isinstance(task, PairwiseTokenClassification):
        return "pairwise"
    return None


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
        self._kind: str | None = None
        self._parts: dict[str, list[Any]] = {}

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Start collecting, if the task's outputs can be drawn."""
        self._kind = output_kind(pl_module)
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
        if self._kind is None or "labels" not in batch:
            return
        with torch.no_grad():
            predicted = pl_module.predict_step(batch, batch_idx)
        labels = batch["labels"].detach().cpu()
        ids = list(predicted.get("ids") or [None] * labels.shape[0])
        self._parts["ids"].extend(ids)
        if self._kind in ("classification", "multilabel"):
            self._parts["scores"].append(predicted["probabilities"].float().cpu())
            self._parts["labels"].append(labels)
        elif self._kind == "regression":
            values = predicted["predictions"].float().cpu()
            self._parts["scores"].append(values.reshape(labels.shape))
            self._parts["labels"].append(labels)
        elif self._kind == "token_classification":
            from mg.tasks.batching import residue_mask

            residues = residue_mask(batch).cpu()
            for row, probabilities in enumerate(predicted["probabilities"]):
                item_labels = labels[row][residues[row]][: probabilities.shape[0]]
                scored = item_labels != IGNORE_INDEX
                self._parts["scores"].append(probabilities.float()[scored])
                self._parts["labels"].append(item_labels[scored])
        elif self._kind == "pairwise":
            for row, contacts in enumerate(predicted["predictions"]):
                length = contacts.shape[0]
                self._parts["scores"].append(contacts.float().cpu())
                self._parts["labels"].append(labels[row, :length, :length])

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Write the collected outputs; each process writes its own file under DDP."""
        from mg.cli.writer import class_names_of

        if self._kind is None or not self._parts["labels"]:
            return
        parts = self._parts
        order = _file_order(trainer, parts["ids"])
        record: dict[str, Any] = {
            "kind": self._kind,
            "task": type(pl_module).__name__,
            # The prediction writer's names (task's, else the data module's), so every
            # output of one run names the classes alike.
            "class_names": class_names_of(trainer, pl_module) or [],
            "ids": [str(parts["ids"][k]) for k in order],
        }
        if self._kind in ("pairwise", "token_classification"):
            # One entry per item: reorder the items, then join residues (token) or not (pairs).
            labels = [parts["labels"][k] for k in order]
            scores = [parts["scores"][k] for k in order]
            if self._kind == "pairwise":
                record["labels"], record["scores"] = labels, scores
            else:
                record["labels"], record["scores"] = torch.cat(labels), torch.cat(scores)
        else:
            positions = torch.tensor(order, dtype=torch.long)
            record["labels"] = torch.cat(parts["labels"])[positions]
            record["scores"] = torch.cat(parts["scores"])[positions]
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
