"""Cells from an ``.h5ad`` file, read a batch of rows at a time (files larger than memory).

obs and var load whole (they are small); the expression matrix (``X`` or a layer) stays
on disk and is read through anndata's sparse-dataset view, as CSR rows. A matrix stored
as CSC cannot be read one cell at a time and is refused before anything else happens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from mg.tasks.data.cells.obs_filter import filter_rows
from mg.tasks.data.cells.source import EXTRA_HINT, CellSource


def _anndata_io() -> Any:
    try:
        import anndata.io
    except ImportError as error:
        raise ImportError(f"Reading .h5ad files needs anndata: {EXTRA_HINT}.") from error
    return anndata.io


class H5adSource(CellSource):
    """The cells of one ``.h5ad`` file.

    Args:
        path (str | Path): the file.
        layer (str | None): the layer holding the expression to read; None reads ``X``.
        obs_filter (str | None): keep only the cells that pass this filter, written as
            for SOMA (``"tissue == 'blood' and donor in ['d1', 'd2']"``).
    """

    def __init__(
        self, path: str | Path, layer: str | None = None, obs_filter: str | None = None
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.where = str(path)
        self.layer = layer
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.where} does not exist: give the path of an .h5ad file.")
        io = _anndata_io()
        import h5py

        with h5py.File(self.path, "r") as file:
            self._obs = _indexed_as_text(io.read_elem(file["obs"]))
            self._var = _indexed_as_text(io.read_elem(file["var"]))
            self._check_matrix(file)
        # Positions in the file of the cells kept; obs holds those cells alone.
        self._file_rows = np.arange(len(self._obs))
        if obs_filter is not None:
            self._file_rows = filter_rows(self._obs, obs_filter, self.where)
            self._obs = self._obs.iloc[self._file_rows]
        self._file: Any = None
        self._matrix: Any = None

    @property
    def matrix_name(self) -> str:
        """Name the matrix read, for messages: ``X`` or ``layers['counts']``."""
        return "X" if self.layer is None else f"layers[{self.layer!r}]"

    def _element(self, file: Any) -> Any:
        if self.layer is None:
            return file["X"]
        layers = file.get("layers")
        if layers is None or self.layer not in layers:
            have = sorted(layers.keys()) if layers is not None else []
            raise ValueError(f"{self.where} has no layer {self.layer!r}; its layers are {have}.")
        return layers[self.layer]

    def _check_matrix(self, file: Any) -> None:
        import h5py

        element = self._element(file)
        name = self.matrix_name
        if isinstance(element, h5py.Dataset):
            return  # dense rows read directly
        encoding = str(element.attrs.get("encoding-type", ""))
        if encoding == "csc_matrix":
            raise ValueError(
                f"{self.where}: {name} is stored as a CSC sparse matrix, which cannot be read a "
                "cell at a time; rewrite it as CSR (adata.X = adata.X.tocsr(); "
                "adata.write_h5ad(...))."
            )
        if encoding != "csr_matrix":
            raise ValueError(
                f"{self.where}: {name} is stored as {encoding or 'an unknown encoding'!r}, which "
                "mg cannot stream; store it as a CSR sparse matrix or a dense array."
            )

    def _open(self) -> None:
        import h5py

        io = _anndata_io()
        self._file = h5py.File(self.path, "r")
        element = self._element(self._file)
        self._matrix = element if isinstance(element, h5py.Dataset) else io.sparse_dataset(element)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = self._matrix = None

    def _handle_attributes(self) -> tuple[str, ...]:
        return ("_file", "_matrix")

    def _read(self, rows: np.ndarray) -> sparse.csr_matrix:
        block = self._matrix[self._file_rows[rows]]
        return block.tocsr() if sparse.issparse(block) else sparse.csr_matrix(block)


def _indexed_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    frame.index = frame.index.astype(str)
    return frame
