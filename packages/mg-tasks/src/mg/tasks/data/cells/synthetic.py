"""A generated single-cell data set whose cell type depends on a few marker genes.

For tests, tutorials and benchmarks: raw counts (Poisson noise), three cell types each
marked by two genes, donors and ages in obs, symbols in the var index and made-up
Ensembl ids (with version suffixes) in ``var["gene_ids"]``. Needs the cells extra.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

CELL_TYPES = ("T cell", "B cell", "monocyte")
MARKERS = {"T cell": ("CD3E", "CD3D"), "B cell": ("MS4A1", "CD79A"), "monocyte": ("LYZ", "CD14")}
BACKGROUND = tuple(f"GENE{i}" for i in range(24))
GENES = tuple(g for pair in MARKERS.values() for g in pair) + BACKGROUND


def ensembl_id(gene: str) -> str:
    """A made-up, stable Ensembl-style id with a version suffix for each gene."""
    return f"ENSG{GENES.index(gene):011d}.{GENES.index(gene) % 3 + 1}"


def marker_cells(n_cells: int = 240, n_donors: int = 8, seed: int = 0):
    """Build an AnnData of raw counts: each type's two markers are high, the rest noise."""
    import anndata

    rng = np.random.default_rng(seed)
    types = rng.choice(len(CELL_TYPES), size=n_cells)
    rates = np.full((n_cells, len(GENES)), 0.6)
    for t, name in enumerate(CELL_TYPES):
        for marker in MARKERS[name]:
            rates[types == t, GENES.index(marker)] = 12.0
    counts = rng.poisson(rates).astype(np.float32)
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical([CELL_TYPES[t] for t in types]),
            "donor": [f"donor{d}" for d in rng.integers(0, n_donors, size=n_cells)],
            "age": rng.uniform(20, 80, size=n_cells).round(1),
        },
        index=[f"cell{i:04d}" for i in range(n_cells)],
    )
    var = pd.DataFrame({"gene_ids": [ensembl_id(g) for g in GENES]}, index=list(GENES))
    return anndata.AnnData(sparse.csr_matrix(counts), obs=obs, var=var)


def write_h5ad(adata, path: Path) -> Path:
    """Write an AnnData to ``path`` and return the path."""
    adata.write_h5ad(path)
    return path


def write_soma(adata, folder: Path) -> str:
    """Write an AnnData as a TileDB-SOMA experiment (measurement RNA, X layer data)."""
    import tiledbsoma.io

    return tiledbsoma.io.from_anndata(str(folder), adata, "RNA")


EXAMPLE_CELLS = "marker_cells.h5ad"
"""The example cells `write_example` writes (and ``configs/cells.yaml`` reads)."""
EXAMPLE_GENES = "marker_genes.txt"
"""The genes of the example cells, one per line: the baseline backbone's ``genes`` file."""


def write_example(folder: str | Path) -> list[Path]:
    """Write the example cells (400, 8 donors) and their gene list into ``folder``.

    Returns:
        list[Path]: the ``.h5ad`` and the gene list.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cells = write_h5ad(marker_cells(n_cells=400, seed=4), folder / EXAMPLE_CELLS)
    genes = folder / EXAMPLE_GENES
    genes.write_text("\n".join(GENES) + "\n", encoding="utf-8")
    return [cells, genes]


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m mg.tasks.data.cells.synthetic FOLDER")
    for written in write_example(sys.argv[1]):
        print(written)
