"""``mg report EMBEDDED.h5ad``: the cells' embeddings projected to 2-D, coloured by a label.

`CellEmbeddingWriter` (``mg predict`` of an ``Embed`` task on cells) writes a copy of the
cells with their vectors in ``obsm``. The page draws them on their first two principal
components (plain numpy: the same cells always give the same picture) coloured by an
obs column: named groups get a legend, numbers a colour bar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mg.cli.report import Figure, pyplot, save_figure, write_page

EMBEDDING_KEY = "X_mg"
"""The obsm entry `CellEmbeddingWriter` writes by default."""
MAX_POINTS = 50_000
"""At most this many cells are drawn (an even, seeded sample): more only hide each other."""
MAX_GROUPS = 30
"""An obs column of text with more values than this is not a useful colour by default."""


def principal_components(vectors: np.ndarray, count: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Project rows onto their first ``count`` principal components.

    Each axis's sign is fixed (its largest loading is positive), so a projection never
    flips between two runs over the same vectors.

    Args:
        vectors (np.ndarray): ``(items, features)``.
        count (int): components to keep.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(items, count)`` coordinates and the share of the
        variance each component explains.
    """
    centred = vectors.astype(np.float64) - vectors.mean(axis=0, dtype=np.float64)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    axes = axes[:count]
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
    coordinates = centred @ axes.T
    variance = singular**2
    total = variance.sum()
    shares = variance[:count] / total if total > 0 else np.zeros(len(axes))
    if coordinates.shape[1] < count:  # one feature, or one cell: pad the missing axis
        pad = np.zeros((coordinates.shape[0], count - coordinates.shape[1]))
        coordinates = np.hstack([coordinates, pad])
        shares = np.concatenate([shares, np.zeros(count - len(shares))])
    return coordinates, shares


def colour_column(obs: Any, requested: str | None, where: Path) -> str | None:
    """The obs column to colour by: the one asked for, else the first of few named groups.

    Raises:
        ValueError: ``requested`` is not an obs column.
    """
    if requested is not None:
        if requested not in obs.columns:
            have = ", ".join(map(str, obs.columns)) or "none"
            raise ValueError(
                f"{where} has no obs column {requested!r} to colour by (its columns: {have})."
            )
        return requested
    for name in obs.columns:
        column = obs[name]
        if not _is_numeric(column) and 1 < column.nunique() <= MAX_GROUPS:
            return str(name)
    return None


def _is_numeric(column: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column))


def projection_figure(
    coordinates: np.ndarray,
    shares: np.ndarray,
    colours: Any | None,
    colour_name: str | None,
    folder: Path,
    caption: str,
) -> Figure:
    """Draw the 2-D projection, one colour per group or a colour bar for numbers."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    size = max(2.0, min(18.0, 6000 / max(len(coordinates), 1)))
    if colours is None:
        ax.scatter(coordinates[:, 0], coordinates[:, 1], s=size, color="tab:blue", linewidths=0)
    elif _is_numeric(colours):
        drawn = ax.scatter(
            coordinates[:, 0],
            coordinates[:, 1],
            s=size,
            c=np.asarray(colours, dtype=float),
            cmap="viridis",
            linewidths=0,
        )
        fig.colorbar(drawn, ax=ax, label=colour_name)
    else:
        values = np.asarray(colours.astype(str))
        for group in sorted(set(values)):
            chosen = values == group
            ax.scatter(
                coordinates[chosen, 0], coordinates[chosen, 1], s=size, label=group, linewidths=0
            )
        ax.legend(title=colour_name, markerscale=max(1.0, 12 / size), fontsize="small")
    ax.set_xlabel(f"PC1 ({shares[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({shares[1]:.0%} of variance)")
    title = "Embeddings, first two principal components"
    return save_figure(fig, folder, "embedding_pca.png", title, caption)


def render_embedding(
    path: Path,
    output: Path | None = None,
    colour_by: str | None = None,
    key: str = EMBEDDING_KEY,
) -> tuple[Path, list[Figure]]:
    """Draw an embedded ``.h5ad``'s cells on a page.

    Args:
        path (Path): an ``.h5ad`` with the vectors in ``obsm[key]``.
        output (Path | None): where to write; defaults to ``<file stem>_report`` beside it.
        colour_by (str | None): the obs column to colour by; None picks the first text
            column with 2 to `MAX_GROUPS` values, if any.
        key (str): the obsm entry holding the vectors.

    Returns:
        tuple[Path, list[Figure]]: the HTML page and the figure on it.

    Raises:
        ValueError: no ``obsm[key]``, or ``colour_by`` names no obs column.
    """
    try:
        import anndata
    except ImportError as error:
        raise ImportError(
            "Reading an .h5ad needs anndata: pip install 'mg-tasks[cells]'."
        ) from error
    cells = anndata.read_h5ad(path, backed="r")
    try:
        if key not in cells.obsm:
            have = ", ".join(cells.obsm.keys()) or "none"
            raise ValueError(
                f"{path} has no obsm[{key!r}] to draw (its obsm entries: {have}): give the file "
                "CellEmbeddingWriter wrote, or the entry with --key."
            )
        column = colour_column(cells.obs, colour_by, path)
        rows = np.arange(cells.n_obs)
        if len(rows) > MAX_POINTS:
            rows = np.sort(np.random.default_rng(0).choice(rows, MAX_POINTS, replace=False))
        vectors = np.asarray(cells.obsm[key][rows])
        colours = None if column is None else cells.obs[column].iloc[rows]
    finally:
        cells.file.close()
    coordinates, shares = principal_components(vectors.reshape(len(rows), -1))
    drawn = f"{len(rows):,} of {cells.n_obs:,} cells" if len(rows) < cells.n_obs else "every cell"
    coloured = f"coloured by {column}" if column else "one colour (no obs column of groups)"
    caption = f"obsm[{key!r}] of {path.name}: {drawn}, {coloured}."
    folder = output or path.with_name(f"{path.stem}_report")
    folder.mkdir(parents=True, exist_ok=True)
    figures = [projection_figure(coordinates, shares, colours, column, folder, caption)]
    summary = {"cells": f"{cells.n_obs:,}", "embedding size": str(vectors.shape[1])}
    page = write_page(path, folder, figures, summary, None, title="Embeddings", kind="Cells")
    return page, figures
