"""Cells from a TileDB-SOMA experiment (a local folder or a URI), streamed a batch at a time.

obs is read once with the user's value filter (only the columns asked for); var is read
once; expression rows are read per batch by their ``soma_joinid``, so an atlas never
loads whole. The same config reads a CELLxGENE Census release given its URI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from mg.tasks.data.cells.source import EXTRA_HINT, CellSource


def _tiledbsoma() -> Any:
    try:
        import tiledbsoma
    except ImportError as error:
        raise ImportError(
            f"Reading TileDB-SOMA experiments needs tiledbsoma: {EXTRA_HINT}."
        ) from error
    return tiledbsoma


class SomaSource(CellSource):
    """The cells of a TileDB-SOMA experiment that pass an obs filter.

    Args:
        uri (str): the experiment's folder or URI.
        measurement (str): the measurement holding the expression (``"RNA"``).
        layer (str): the X layer to read (``"data"`` from ``tiledbsoma.io.from_anndata``,
            ``"raw"`` in CELLxGENE Census).
        obs_filter (str | None): a SOMA value filter on obs, e.g. ``"tissue == 'blood'"``.
        obs_id_column (str): the obs column holding cell ids.
        obs_columns (Sequence[str] | None): the obs columns to read (labels, splits); None
            reads them all.
    """

    def __init__(
        self,
        uri: str,
        measurement: str = "RNA",
        layer: str = "data",
        obs_filter: str | None = None,
        obs_id_column: str = "obs_id",
        obs_columns: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.uri = str(uri)
        self.where = self.uri
        self.measurement = measurement
        self.layer = layer
        soma = _tiledbsoma()
        try:
            experiment = soma.Experiment.open(self.uri)
        except soma.DoesNotExistError:
            raise FileNotFoundError(
                f"{self.where} is not a TileDB-SOMA experiment: give the folder or URI that "
                "tiledbsoma.io.from_anndata (or CELLxGENE Census) wrote."
            ) from None
        with experiment:
            if measurement not in experiment.ms:
                raise ValueError(
                    f"{self.where} has no measurement {measurement!r}; it has "
                    f"{sorted(experiment.ms.keys())}."
                )
            ms = experiment.ms[measurement]
            if layer not in ms.X:
                raise ValueError(
                    f"{self.where}: measurement {measurement!r} has no X layer {layer!r}; it has "
                    f"{sorted(ms.X.keys())}."
                )
            self._obs = self._read_obs(experiment, obs_filter, obs_id_column, obs_columns)
            var = ms.var.read().concat().to_pandas()
        self._obs_joinids = self._obs.pop("soma_joinid").to_numpy(np.int64)
        self._var_joinids = var.pop("soma_joinid").to_numpy(np.int64)
        id_column = "var_id" if "var_id" in var.columns else None
        if id_column is not None:
            var = var.set_index(id_column)
        var.index = var.index.astype(str)
        self._var = var
        self._var_position = pd.Series(np.arange(len(var)), index=self._var_joinids)
        self._experiment: Any = None
        self._x: Any = None

    def _read_obs(
        self,
        experiment: Any,
        obs_filter: str | None,
        obs_id_column: str,
        obs_columns: Sequence[str] | None,
    ) -> pd.DataFrame:
        columns = None
        if obs_columns is not None:
            columns = [
                "soma_joinid",
                obs_id_column,
                *[c for c in obs_columns if c != obs_id_column],
            ]
            have = set(experiment.obs.schema.names)
            missing = [c for c in columns if c not in have]
            if missing:
                raise ValueError(
                    f"{self.where}: obs has no column {missing[0]!r}; it has {sorted(have)}."
                )
        try:
            obs = (
                experiment.obs.read(value_filter=obs_filter, column_names=columns)
                .concat()
                .to_pandas()
            )
        except Exception as error:  # tiledbsoma raises several types for a bad filter
            raise ValueError(
                f"{self.where}: the obs filter {obs_filter!r} cannot be read ({error}); write it "
                "as column == 'value', joined with and/or."
            ) from None
        if obs_id_column not in obs.columns:
            raise ValueError(
                f"{self.where}: obs has no id column {obs_id_column!r}; set obs_id_column to "
                "the column holding cell ids."
            )
        if obs.empty:
            raise ValueError(f"{self.where}: no cell passes the obs filter {obs_filter!r}.")
        obs = obs.set_index(obs_id_column)
        obs.index = obs.index.astype(str)
        return obs

    @property
    def matrix_name(self) -> str:
        """Name the matrix read, for messages: ``X['data']`` of the measurement."""
        return f"{self.measurement} X[{self.layer!r}]"

    def _open(self) -> None:
        soma = _tiledbsoma()
        self._experiment = soma.Experiment.open(self.uri)
        self._x = self._experiment.ms[self.measurement].X[self.layer]

    def _close(self) -> None:
        if self._experiment is not None:
            self._experiment.close()
        self._experiment = self._x = None

    def _handle_attributes(self) -> tuple[str, ...]:
        return ("_experiment", "_x")

    def _read(self, rows: np.ndarray) -> sparse.csr_matrix:
        joinids = self._obs_joinids[rows]
        table = self._x.read(coords=(joinids,)).tables().concat()
        cells = table.column("soma_dim_0").to_numpy()
        genes = table.column("soma_dim_1").to_numpy()
        values = table.column("soma_data").to_numpy().astype(np.float32, copy=False)
        row_of = pd.Series(np.arange(len(joinids)), index=joinids)
        return sparse.csr_matrix(
            (
                values,
                (
                    row_of.loc[cells].to_numpy(),
                    self._var_position.loc[genes].to_numpy(),
                ),
            ),
            shape=(len(joinids), len(self._var)),
        )
