"""Single cells in: ``.h5ad`` files and TileDB-SOMA experiments, aligned to a gene vocabulary.

The parts, each usable alone:

- `open_cells` / `H5adSource` / `SomaSource`: cells with ids, obs, var and rows read on
  demand, an obs value filter written the same for both (needs the ``cells`` extra:
  ``pip install 'mg-tasks[cells]'``);
- `GeneAlignment`: the data's genes matched to a backbone's `GeneVocabulary`;
- `check_expression`, `check_label_columns`: one-line errors before any weights load;
- `group_split`, `stratified_split`, `fold_split`: seeded splits independent of storage
  order;
- `CellDataset`: samples ``{"ids", "expression", "labels"}``, one read per batch.
"""

from __future__ import annotations

from pathlib import Path

from mg.tasks.data.cells.checks import check_expression, check_label_columns
from mg.tasks.data.cells.dataset import CellDataset
from mg.tasks.data.cells.genes import GeneAlignment
from mg.tasks.data.cells.h5ad import H5adSource
from mg.tasks.data.cells.soma import SomaSource
from mg.tasks.data.cells.source import CellSource
from mg.tasks.data.cells.splits import fold_split, group_split, stratified_split


def open_cells(location: str | Path, **options: object) -> CellSource:
    """Open cells from an ``.h5ad`` file, or else a TileDB-SOMA experiment folder or URI.

    Args:
        location (str | Path): the ``.h5ad`` file, or the experiment's folder or URI.
        **options (object): passed to `H5adSource` or `SomaSource`.

    Returns:
        CellSource: the opened source.
    """
    if str(location).endswith(".h5ad"):
        return H5adSource(location, **options)  # type: ignore[arg-type]
    return SomaSource(str(location), **options)  # type: ignore[arg-type]


__all__ = [
    "CellDataset",
    "CellSource",
    "GeneAlignment",
    "H5adSource",
    "SomaSource",
    "check_expression",
    "check_label_columns",
    "fold_split",
    "group_split",
    "open_cells",
    "stratified_split",
]
