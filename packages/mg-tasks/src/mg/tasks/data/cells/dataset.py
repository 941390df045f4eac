"""A map-style dataset of cells that reads a whole batch of rows at once.

``DataLoader`` calls ``__getitems__`` with a batch's indices, so each batch is one read
of the source (one slice of the ``.h5ad`` file, one SOMA query), not one read per cell.
Samples are ``{"ids": str, "expression": float32 vector, "labels": value}``: the
expression over the backbone's vocabulary when an alignment is given, else over the
data's own genes; labels as written in obs (one column: its value; several: a list).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from mg.tasks.data.cells.genes import GeneAlignment
from mg.tasks.data.cells.source import CellSource


class CellDataset(Dataset):
    """Some cells of a source, as sample dicts.

    Args:
        source (CellSource): where the cells are.
        rows (Sequence[int] | None): the cells (positions in obs) this dataset holds, in
            order; None holds every cell.
        label_columns (Sequence[str]): obs columns read as labels; empty for none.
        alignment (GeneAlignment | None): maps the data's genes to the backbone's.
        labels (Sequence[Any] | None): each held cell's label, already read (as a task
            reads it); given, they replace the raw values of ``label_columns``.
    """

    def __init__(
        self,
        source: CellSource,
        rows: Sequence[int] | None = None,
        label_columns: Sequence[str] = (),
        alignment: GeneAlignment | None = None,
        labels: Sequence[Any] | None = None,
    ) -> None:
        self.source = source
        self.rows = np.arange(len(source)) if rows is None else np.asarray(rows, dtype=np.int64)
        self.label_columns = list(label_columns)
        self.alignment = alignment
        ids = source.ids
        self.ids = [ids[r] for r in self.rows]
        obs = source.obs
        self._labels = [obs[c].to_numpy()[self.rows] for c in self.label_columns]
        self.labels = None if labels is None else list(labels)
        if self.labels is not None and len(self.labels) != len(self.rows):
            raise ValueError(f"{len(self.labels)} labels for {len(self.rows)} cells.")

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """Read the cells of one batch with a single read of the source."""
        positions = np.asarray(indices, dtype=np.int64)
        block = self.source.read_rows(self.rows[positions])
        expression = (
            self.alignment.apply(block)
            if self.alignment is not None
            else block.toarray().astype(np.float32, copy=False)
        )
        samples = []
        for k, index in enumerate(positions.tolist()):
            sample: dict[str, Any] = {"ids": self.ids[index], "expression": expression[k]}
            if self.labels is not None:
                sample["labels"] = self.labels[index]
            elif self._labels:
                values = [_plain(column[index]) for column in self._labels]
                sample["labels"] = values[0] if len(values) == 1 else values
            samples.append(sample)
        return samples


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (what label parsers expect)."""
    return value.item() if isinstance(value, np.generic) else value
