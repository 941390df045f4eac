"""Checks of cell data before any weights load; each failure is one line naming file, cell, gene.

- expression values that are negative or NaN;
- values that are not whole numbers when the backbone reads raw counts, said as
  log-normalised when the values look like it (small, non-integer);
- obs label columns with missing values.

The expression checks walk the matrix a block of cells at a time over the stored
(non-zero) values only, so they cost one read of the data and keep memory flat.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from mg.tasks.data.cells.source import CellSource

LOG_NORMALISED_MAX = 30.0
"""Non-integer data whose largest value is below this looks log-normalised (log1p of
counts scaled to 1e4 stays below about 10; raw counts of a real cell run far higher)."""


def check_expression(
    source: CellSource,
    *,
    expects_counts: bool,
    reader: str,
    gene_column: str | None = None,
    chunk_size: int = 4096,
) -> None:
    """Check every stored expression value of a source.

    Args:
        source (CellSource): the cells.
        expects_counts (bool): the backbone reads raw integer counts.
        reader (str): the backbone's name, for messages.
        gene_column (str | None): the var column naming genes in messages (None: var index).
        chunk_size (int): cells read at a time.

    Raises:
        ValueError: the first bad value, naming the file, cell, gene and value.
    """
    matrix = getattr(source, "matrix_name", "X")
    for start, block in source.chunks(chunk_size):
        block = sparse.csr_matrix(block)
        values = block.data
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
        if bad.size:
            cell, gene, value = _locate(source, block, start, int(bad[0]), gene_column)
            raise ValueError(
                f"{source.where}: cell {cell} has {value} for gene {gene} in {matrix}; expression "
                "must be finite and non-negative: fix or drop that cell."
            )
        if not expects_counts:
            continue
        fractional = np.flatnonzero(values != np.round(values))
        if fractional.size:
            cell, gene, value = _locate(source, block, start, int(fractional[0]), gene_column)
            largest = float(values.max())
            if largest < LOG_NORMALISED_MAX:
                what = (
                    f"looks log-normalised (not whole numbers, the largest value {largest:g} is "
                    "small)"
                )
            else:
                what = "holds values that are not whole numbers"
            raise ValueError(
                f"{source.where}: {matrix} {what}: cell {cell} has {value} for gene {gene}, but "
                f"{reader} reads raw counts; point the reader at the raw counts (layer: counts, "
                "or the X layer 'raw' of a SOMA experiment)."
            )


def _locate(
    source: CellSource, block: sparse.csr_matrix, start: int, k: int, gene_column: str | None
) -> tuple[str, str, str]:
    """Name the cell, gene and value of stored value ``k`` of a CSR block."""
    row = int(np.searchsorted(block.indptr, k, side="right") - 1)
    column = int(block.indices[k])
    genes = source.gene_names(gene_column)
    cell_id = source.ids[start + row]
    return (
        f"{cell_id!r} (row {start + row})",
        f"{genes[column]!r} (column {column})",
        f"{block.data[k]!r}".replace("np.float32(", "").rstrip(")"),
    )


def check_label_columns(source: CellSource, columns: Sequence[str]) -> None:
    """Check that every label column exists in obs and has a value for every cell.

    Args:
        source (CellSource): the cells.
        columns (Sequence[str]): obs columns the task reads labels from.

    Raises:
        ValueError: a missing column, or the first cell with no value (names the cell).
    """
    obs = source.obs
    for column in columns:
        if column not in obs.columns:
            raise ValueError(
                f"{source.where}: obs has no column {column!r}; its columns are "
                f"{sorted(map(str, obs.columns))}."
            )
        values = obs[column]
        empty = values.isna().to_numpy()
        if pd.api.types.is_object_dtype(values) or isinstance(values.dtype, pd.StringDtype):
            empty |= values.astype(str).str.strip().eq("").to_numpy()
        if empty.any():
            row = int(np.flatnonzero(empty)[0])
            raise ValueError(
                f"{source.where}: obs column {column!r} has no value for cell "
                f"{str(obs.index[row])!r} (row {row}; {int(empty.sum())} cells in all); fill "
                "it, or leave those cells out with an obs filter."
            )
