"""Reading cells: batches per second and peak memory from a backed .h5ad and from SOMA.

Run: ``python benchmarks/cells_read.py [--cells 20000,40000] [--genes 2000] [--density 0.05]``

For each size, writes generated raw counts (sparse CSR, seeded) as an ``.h5ad`` file and
as a TileDB-SOMA experiment made from it (``tiledbsoma.io.from_anndata``), then, in a
fresh process per source, reads every cell once through ``CellDataset`` (one source read
per batch of 256, genes aligned to a vocabulary of the same genes in reverse order) with
a ``DataLoader`` as a predict run would, and reports cells/s and the process's peak
resident memory. Memory flat in the number of cells means the peak does not grow with
``--cells`` beyond obs (a few bytes per cell).

Needs the cells extra (``uv sync --all-packages --extra cells``).

Measured 2026-12-07 on the shared 2-core x86_64 CPU (1 torch thread), 2,000 genes, 5%
non-zero, batches of 256, ``num_workers=0``; predict is ``mg predict`` of ``Embed`` on the
baseline backbone writing the .npy of vectors (before the embedded ``.h5ad`` was added to
the run). About 0.9 GB of each peak is the imports (torch, tiledbsoma):

| cells | source | read cells/s | read peak (MiB) | predict cells/s | predict peak (MiB) |
|---|---|---|---|---|---|
| 20,000 | h5ad | 13,751 | 929 | 4,099 | 979 |
| 20,000 | soma | 14,485 | 963 | 4,248 | 1,007 |
| 100,000 | h5ad | 5,933 | 942 | 2,582 | 997 |
| 100,000 | soma | 7,543 | 994 | 2,241 | 1,050 |

Peak memory grows by about 20 MB from 20,000 to 100,000 cells: obs and the vectors.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def generate(
    cells: int, genes: int, density: float, folder: Path, soma: bool = True
) -> tuple[Path, str | None]:
    """Write the data set as .h5ad and (unless told not to) as a SOMA experiment."""
    import anndata
    import numpy as np
    import pandas as pd
    import tiledbsoma.io
    from scipy import sparse

    rng = np.random.default_rng(0)
    counts = sparse.random(
        cells, genes, density=density, format="csr", dtype=np.float32, random_state=rng
    )
    counts.data = rng.poisson(3.0, size=counts.nnz).astype(np.float32) + 1
    obs = pd.DataFrame(
        {"cell_type": rng.choice(["a", "b", "c"], size=cells)},
        index=[f"cell{i}" for i in range(cells)],
    )
    var = pd.DataFrame(index=[f"GENE{j}" for j in range(genes)])
    adata = anndata.AnnData(counts, obs=obs, var=var)
    h5ad = folder / f"cells_{cells}.h5ad"
    adata.write_h5ad(h5ad)
    if not soma:
        return h5ad, None
    return h5ad, tiledbsoma.io.from_anndata(str(folder / f"soma_{cells}"), adata, "RNA")


def read_all(kind: str, location: str, batch_size: int) -> dict[str, float]:
    """Read every cell once, as a predict run would; time it and take the peak memory."""
    from torch.utils.data import DataLoader

    from mg.core.cells import GeneVocabulary
    from mg.tasks.data.cells import CellDataset, GeneAlignment, H5adSource, SomaSource

    source = H5adSource(location) if kind == "h5ad" else SomaSource(location)
    genes = source.gene_names()
    alignment = GeneAlignment.build(genes, GeneVocabulary(tuple(genes[::-1])), where=location)
    dataset = CellDataset(source, label_columns=["cell_type"], alignment=alignment)
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=len)
    start = time.perf_counter()
    seen = sum(loader)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"cells": seen, "cells_per_s": seen / seconds, "peak_mib": peak_mib}


def predict_all(kind: str, location: str, batch_size: int, folder: Path) -> dict[str, float]:
    """Embed every cell through `mg predict`: the baseline backbone, a .npy of the vectors
    and an .h5ad copy of the cells with them (`CellEmbeddingWriter`)."""
    import yaml

    import mg.tasks  # imported before the clock starts: the run is timed, not the imports
    from mg.cli.main import main as mg
    from mg.tasks.data.cells import H5adSource, SomaSource

    source = H5adSource(location) if kind == "h5ad" else SomaSource(location)
    genes = folder / f"genes_{kind}.txt"
    genes.write_text("\n".join(source.gene_names()) + "\n")
    cells = len(source)
    output = folder / f"embedded_{kind}_{cells}"
    writers = [
        {"class_path": "mg.cli.writer.PredictionWriter", "init_args": {"output": f"{output}.npy"}},
        # The scanpy route too: a copy of the cells with the vectors in obsm.
        {
            "class_path": "mg.tasks.data.CellEmbeddingWriter",
            "init_args": {"output": f"{output}.h5ad"},
        },
    ]
    config = {
        "trainer": {"logger": False, "enable_progress_bar": False, "callbacks": writers},
        "model": {
            "class_path": "Embed",
            "init_args": {
                "backbone": {
                    "class_path": "ExpressionBaseline",
                    "init_args": {"genes": str(genes), "hidden_size": 64},
                }
            },
        },
        "data": {
            "class_path": "CellData",
            "init_args": {"predict_path": location, "batch_size": batch_size},
        },
    }
    path = folder / f"embed_{kind}.yaml"
    path.write_text(yaml.safe_dump(config))
    start = time.perf_counter()
    status = mg(["predict", "--config", str(path)])
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"mg predict exited {status}")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"cells": cells, "cells_per_s": cells / seconds, "peak_mib": peak_mib}


def _child(*args: str) -> Any:
    """Run this script in a fresh process and read the JSON line it prints last."""
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Generate, then measure each source in its own process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default="20000,40000")
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--density", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--read", nargs=2, metavar=("KIND", "LOCATION"), help=argparse.SUPPRESS)
    parser.add_argument("--write", metavar="FOLDER", help=argparse.SUPPRESS)
    parser.add_argument("--predict", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--sources", default="h5ad,soma", help="h5ad, soma or both")
    args = parser.parse_args()
    if args.read:
        print(json.dumps(read_all(args.read[0], args.read[1], args.batch_size)))
        return
    if args.predict:
        kind, location, folder = args.predict
        print(json.dumps(predict_all(kind, location, args.batch_size, Path(folder))))
        return
    if args.write:
        with_soma = "soma" in args.sources.split(",")
        h5ad, soma = generate(
            int(args.cells), args.genes, args.density, Path(args.write), with_soma
        )
        print(json.dumps([str(h5ad), soma]))
        return
    print(
        "| cells | source | read cells/s | read peak RSS (MiB) | predict cells/s "
        "| predict peak RSS (MiB) | predict time / read time |"
    )
    print("|---|---|---|---|---|---|---|")
    sources = args.sources.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        for cells in (int(c) for c in args.cells.split(",")):
            # Every step in its own process: a child's peak memory counts from its fork, so
            # this parent stays small and never holds the data.
            write = ["--write", tmp, "--cells", str(cells), "--genes", str(args.genes)]
            write += ["--density", str(args.density), "--sources", args.sources]
            h5ad, soma = _child(*write)
            for kind, location in (("h5ad", h5ad), ("soma", soma)):
                if kind not in sources:
                    continue
                size = ["--batch-size", str(args.batch_size)]
                read = _child("--read", kind, location, *size)
                predicted = _child("--predict", kind, location, tmp, *size)
                ratio = read["cells_per_s"] / predicted["cells_per_s"]
                print(
                    f"| {cells} | {kind} | {read['cells_per_s']:.0f} | {read['peak_mib']:.0f} "
                    f"| {predicted['cells_per_s']:.0f} | {predicted['peak_mib']:.0f} "
                    f"| {ratio:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
