"""`CellEmbeddingWriter`: `mg predict`'s cell embeddings in an ``.h5ad``, ready for scanpy.

Add it to the trainer's callbacks when an `Embed` task reads `CellData`: the predicted
cells (with their obs, var and expression) go to a new ``.h5ad`` with each cell's vector
in ``obsm[key]`` (``X_mg`` by default), so ``sc.pp.neighbors(adata, use_rep="X_mg")`` and
UMAP follow directly. Under distributed prediction the processes' vectors are gathered
to the first one, which writes; the file appears whole or not at all. The predicted
cells are held in memory while writing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import lightning.pytorch as pl
import numpy as np
import torch

from mg.tasks.data.cell_data import CellData
from mg.tasks.data.whole_outputs import ByIdWriter, staged


class CellEmbeddingWriter(ByIdWriter):
    """Write the predicted cells to a new ``.h5ad`` with their embeddings in ``obsm``.

    Args:
        output (str): the ``.h5ad`` to write (never replaced).
        key (str): the ``obsm`` key of the embeddings.

    Raises:
        ValueError: ``output`` does not end in ``.h5ad``, or ``key`` is empty.
    """

    CHUNK_CELLS: ClassVar[int] = 4096
    """Cells whose expression is read and written at once."""

    def __init__(self, output: str, key: str = "X_mg") -> None:
        if not output.endswith(".h5ad"):
            raise ValueError(f"CellEmbeddingWriter writes an .h5ad file, not {output!r}.")
        if not key:
            raise ValueError("key must name an obsm entry, such as X_mg.")
        super().__init__()
        self.output = Path(output)
        self.key = key

    def check(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Refuse data that is not cells, and an output that exists, before the first batch.

        Raises:
            ValueError: the data module is not a `CellData`, or the task does not give one
                vector per cell.
            FileExistsError: the output exists.
        """
        data = getattr(trainer, "datamodule", None)
        if not isinstance(data, CellData):
            raise ValueError(
                f"CellEmbeddingWriter writes the embeddings of CellData's cells, but the data "
                f"module is {type(data).__name__}: use mg.cli.writer.PredictionWriter."
            )
        from mg.tasks.embedding import Embed

        pooled = getattr(pl_module, "pooling", "none") != "none"
        if not isinstance(pl_module, Embed) or not pooled or pl_module.layers is not None:
            raise ValueError(
                "CellEmbeddingWriter writes one vector per cell: use the Embed task with "
                "pooling (mean, max or cls) and no layers option."
            )
        if self.output.exists():
            raise FileExistsError(
                f"{self.output} exists: give CellEmbeddingWriter a new path, or remove it."
            )

    def by_id(self, outputs: Any) -> dict[str, np.ndarray]:
        """Return each cell's vector by id.

        Raises:
            ValueError: the predictions are not one vector per cell (not an ``Embed``
                with pooling, or with several layers).
        """
        vectors = outputs["predictions"]
        if not isinstance(vectors, torch.Tensor) or vectors.dim() != 2:
            raise ValueError(
                "CellEmbeddingWriter writes one vector per cell: use the Embed task with "
                "pooling (mean, max or cls) and a single layer."
            )
        array = vectors.float().cpu().numpy()
        return dict(zip(outputs["ids"], array, strict=True))

    def write(self, trainer: pl.Trainer, vectors: dict[str, Any]) -> None:
        """Write the predicted cells, in predict order, with their vectors in ``obsm``.

        The expression is copied `CHUNK_CELLS` cells at a time, so memory holds the obs
        rows and the vectors, never the whole matrix.
        """
        import anndata

        data = trainer.datamodule
        assert isinstance(data, CellData)
        dataset: Any = data.datasets["predict"]
        # The cells predicted (all, unless limit_predict_batches stopped early), in order.
        kept = [k for k, cell in enumerate(dataset.ids) if cell in vectors]
        rows = np.asarray(dataset.rows)[kept]
        source = dataset.source
        embedded = np.stack([vectors[dataset.ids[k]] for k in kept])
        cells = anndata.AnnData(
            obs=source.obs.iloc[rows].copy(), var=source.var.copy(), obsm={self.key: embedded}
        )
        with staged([self.output]) as temporary:
            cells.write_h5ad(temporary[self.output])
            self._write_expression(temporary[self.output], source, rows)
        part = "" if len(kept) == len(dataset) else f" (of {len(dataset)} to predict)"
        print(
            f"Wrote {cells.n_obs} cells{part} with obsm[{self.key!r}] "
            f"({embedded.shape[1]} values each) to {self.output}.",
            flush=True,
        )

    def _write_expression(self, path: Path, source: Any, rows: np.ndarray) -> None:
        """Append the cells' expression to ``path``'s ``X`` (CSR), a chunk at a time."""
        import h5py

        try:
            from anndata.io import sparse_dataset, write_elem
        except ImportError:  # anndata releases before the io module kept them here
            from anndata.experimental import sparse_dataset, write_elem

        with h5py.File(path, "a") as handle:
            write_elem(handle, "X", source.read_rows(rows[: self.CHUNK_CELLS]))
            stored = sparse_dataset(handle["X"])
            for start in range(self.CHUNK_CELLS, len(rows), self.CHUNK_CELLS):
                stored.append(source.read_rows(rows[start : start + self.CHUNK_CELLS]))
