"""The interface every cell source implements: obs, var and rows of expression on demand.

A source never holds the expression matrix: it reads the rows asked for (a batch of
cells) from its file or experiment, so memory stays flat in the number of cells. Handles
open lazily in each process (DataLoader workers re-open theirs), and a pickled source
carries its location, never an open handle.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

EXTRA_HINT = "install the single-cell extra: pip install 'mg-tasks[cells]'"


class CellSource(ABC):
    """Cells with ids, obs columns, genes and expression rows read on demand.

    A subclass sets ``_obs`` and ``_var`` when it is built.

    Attributes:
        where (str): the file or URI, as the user wrote it (every message names it).
    """

    where: str
    _obs: pd.DataFrame
    _var: pd.DataFrame

    def __init__(self) -> None:
        self._handle_pid: int | None = None

    @property
    def obs(self) -> pd.DataFrame:
        """Return the cells' annotations: one row per cell, indexed by cell id (text)."""
        return self._obs

    @property
    def var(self) -> pd.DataFrame:
        """Return the genes' annotations: one row per matrix column, indexed by gene name."""
        return self._var

    @abstractmethod
    def _read(self, rows: np.ndarray) -> sparse.csr_matrix:
        """Read cells ``rows`` (positions in `obs`, increasing, unique) as CSR rows."""

    @abstractmethod
    def _open(self) -> None:
        """Open the file or experiment in this process."""

    @abstractmethod
    def _close(self) -> None:
        """Close whatever `_open` opened."""

    def __len__(self) -> int:
        return len(self.obs)

    @property
    def ids(self) -> list[str]:
        """Return the cell ids (obs names), in source order."""
        return [str(i) for i in self.obs.index]

    def gene_names(self, column: str | None = None) -> list[str]:
        """Return the gene names of the matrix's columns.

        Args:
            column (str | None): the var column holding them; None reads the var index.

        Raises:
            ValueError: the column does not exist (the message lists those that do).
        """
        var = self.var
        if column is None:
            return [str(g) for g in var.index]
        if column not in var.columns:
            raise ValueError(
                f"{self.where}: var has no column {column!r}; it has "
                f"{sorted(map(str, var.columns))} (or leave gene_column unset for the var index)."
            )
        return [str(g) for g in var[column]]

    def text_var_columns(self) -> dict[str, list[str]]:
        """Return the var index and every text var column, for suggesting a gene column."""
        var = self.var
        columns = {
            str(c): [str(g) for g in var[c]]
            for c in var.columns
            if pd.api.types.is_object_dtype(var[c])
            or isinstance(var[c].dtype, pd.CategoricalDtype | pd.StringDtype)
        }
        return columns

    def read_rows(self, rows: np.ndarray | list[int]) -> sparse.csr_matrix:
        """Read cells by position in `obs`, returned in the order asked for.

        Args:
            rows (np.ndarray | list[int]): cell positions, any order, repeats allowed.

        Returns:
            sparse.csr_matrix: ``(len(rows), genes)`` float32 expression.
        """
        self._ensure_open()
        rows = np.asarray(rows, dtype=np.int64)
        unique, inverse = np.unique(rows, return_inverse=True)
        block = self._read(unique)
        return sparse.csr_matrix(block[inverse], dtype=np.float32)

    def chunks(self, size: int = 4096) -> Iterator[tuple[int, sparse.csr_matrix]]:
        """Yield ``(first row, CSR block)`` over every cell, ``size`` cells at a time."""
        for start in range(0, len(self), size):
            stop = min(start + size, len(self))
            yield start, self.read_rows(np.arange(start, stop))

    def _ensure_open(self) -> None:
        # A handle inherited through fork is not safe to use: re-open in each process.
        if self._handle_pid != os.getpid():
            self._open()
            self._handle_pid = os.getpid()

    def close(self) -> None:
        """Close the file or experiment (it re-opens on the next read)."""
        if self._handle_pid is not None:
            self._close()
            self._handle_pid = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handle_pid"] = None
        for key in self._handle_attributes():
            state[key] = None
        return state

    def _handle_attributes(self) -> tuple[str, ...]:
        """Attributes that hold open handles (dropped when the source is pickled)."""
        return ()
