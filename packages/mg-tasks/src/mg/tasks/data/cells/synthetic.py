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
