"""`mg report`'s pictures of genome-window outputs: saturation heat-maps and signal tracks.

A `SaturationMutagenesis` predict run writes, per window, a JSON ``(positions, bases)``
matrix beside the window's sequence and the column order (``predictions``,
``sequences`` and ``bases`` columns of ``predictions.tsv``); the first windows are drawn
as heat-maps. A `TrackRegression` test run keeps ``(items, bins, tracks)`` labels and
predictions; the first intervals' tracks are drawn predicted over observed.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
from torch import Tensor

from mg.cli.report import Figure, pyplot, regression_figures, save_figure

MAX_HEATMAPS = 4
"""Saturation reports draw this many windows (the first ones in the predictions file)."""

MAX_TRACK_ITEMS = 4
"""Track reports draw this many intervals (the first ones in test order)."""

SATURATION_COLUMNS = ("ids", "predictions", "sequences", "bases")
"""The columns of a saturation predictions file."""


def saturation_table(run: Path) -> Path | None:
    """The run's ``predictions.tsv`` when it holds saturation matrices, else None."""
    path = run / "predictions.tsv"
    if not path.is_file():
        return None
    with path.open(newline="") as handle:
        header = handle.readline().rstrip("\r\n").split("\t")
    return path if all(c in header for c in SATURATION_COLUMNS) else None


def read_saturation(path: Path, limit: int) -> list[tuple[str, str, str, np.ndarray]]:
    """Read the first ``limit`` windows: id, sequence, bases and ``(positions, bases)`` scores.

    Each matrix is cut to its window's length (shorter windows were padded with zeros).
    """
    csv.field_size_limit(sys.maxsize)  # a long window's matrix is one long cell
    windows = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if len(windows) == limit:
                break
            sequence = row["sequences"]
            matrix = np.asarray(json.loads(row["predictions"]), dtype=np.float32)
            windows.append((row["ids"], sequence, row["bases"], matrix[: len(sequence)]))
    return windows


def saturation_figures(path: Path, folder: Path) -> list[Figure]:
    """Draw each of the first windows as a bases x positions heat-map centred at 0.

    Args:
        path (Path): the saturation predictions file.
        folder (Path): where the PNG goes.

    Returns:
        list[Figure]: the figure written (none when the file holds no window).
    """
    windows = read_saturation(path, MAX_HEATMAPS)
    if not windows:
        return []
    plt = pyplot()
    largest = max(float(np.abs(m).max()) for *_, m in windows) or 1.0
    width = min(18.0, 3.0 + 0.12 * max(len(s) for _, s, _, _ in windows))
    fig, axes = plt.subplots(len(windows), 1, figsize=(width, 2.4 * len(windows)), squeeze=False)
    fig.subplots_adjust(hspace=0.8)
    for ax, (name, sequence, bases, matrix) in zip(axes[:, 0], windows, strict=True):
        # One colour scale for every window, symmetric so that 0 (the reference) is white.
        image = ax.imshow(matrix.T, aspect="auto", cmap="RdBu_r", vmin=-largest, vmax=largest)
        at = [(i, bases.index(b)) for i, b in enumerate(sequence) if b in bases]
        ax.scatter([i for i, _ in at], [j for _, j in at], s=4, c="black", marker="o")
        ax.set_yticks(range(len(bases)), list(bases))
        ax.set(title=f"{name}", xlabel="position in window", ylabel="base")
    fig.colorbar(image, ax=list(axes[:, 0]), shrink=0.9, label="log p(base) - log p(reference)")
    return [
        save_figure(
            fig,
            folder,
            "saturation.png",
            "Saturation mutagenesis",
            f"Each base at each position of the first {len(windows)} windows, scored against "
            "the reference base (black dots, 0): blue is less likely than the reference, "
            "red more.",
            tight=False,  # the shared colour bar does not fit a tight layout
        )
    ]


def track_figures(
    labels: Tensor, predictions: Tensor, ids: list[str], folder: Path
) -> list[Figure]:
    """Draw the first intervals' tracks, predicted over observed, and each track's scatter.

    Args:
        labels (Tensor): observed signal ``(items, bins, tracks)``.
        predictions (Tensor): predicted signal, the same shape.
        ids (list[str]): the intervals' ids.
        folder (Path): where the PNGs go.

    Returns:
        list[Figure]: the tracks figure, then the per-track predicted-against-true figure.
    """
    plt = pyplot()
    shown, tracks = min(MAX_TRACK_ITEMS, len(labels)), labels.shape[2]
    fig, axes = plt.subplots(
        shown, tracks, figsize=(4.2 * tracks, 2.2 * shown), squeeze=False, sharex=True
    )
    edges = np.arange(labels.shape[1] + 1)  # bin i spans [i, i + 1)
    for item in range(shown):
        for track in range(tracks):
            ax = axes[item][track]
            ax.stairs(labels[item, :, track].numpy(), edges, label="observed", lw=1.5)
            ax.stairs(predictions[item, :, track].float().numpy(), edges, label="predicted")
            name = ids[item] if item < len(ids) else str(item)
            ax.set_title(f"{name}, track {track}", fontsize=9)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("bin")
    figures = [
        save_figure(
            fig,
            folder,
            "tracks.png",
            "Tracks",
            f"Observed and predicted signal over the bins of the first {shown} test intervals, "
            "one column per track.",
        )
    ]
    flat = (t.reshape(-1, tracks) for t in (labels, predictions))
    names = [f"track {i}" for i in range(tracks)] if tracks > 1 else []
    return figures + regression_figures(*flat, names, folder)
