"""``mg report RUN_DIR``: pictures of a run, as PNG files and one HTML page.

From ``metrics.csv``: learning curves, one panel per metric, training and validation
together. From ``test_outputs.pt`` (written by `mg test`, see `mg.cli.outputs`): ROC and
precision-recall curves and a confusion matrix for classification (sequence, multi-label
and per-token), predicted-vs-true and residual plots for regression, and predicted beside
true contact maps for pairwise tasks, observed and predicted tracks for track regression.
From a saturation-mutagenesis ``predictions.tsv``: one heat-map per window (see
`mg.cli.report_genome`). Given a sweep's folder (with ``trials.tsv``), the
sweep's pictures instead (see `mg.cli.report_sweep`).
"""

from __future__ import annotations

import argparse
import csv
import html
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from mg.core.labels import label_handler

MAX_CONTACT_MAPS = 4
"""Pairwise reports draw this many items' maps (the first ones in test order)."""

LOG_SCALE_SPAN = 30.0
"""A learning-curve panel whose positive values span this factor or more gets a log axis."""


@dataclass
class Figure:
    """One picture of the report: its file name, heading and a one-line explanation."""

    file: str
    title: str
    caption: str


def pyplot() -> Any:
    """Return matplotlib's pyplot drawing to files only, or say how to install matplotlib."""
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(
            "mg report draws with matplotlib, which is not installed: pip install 'mg-cli[report]'."
        ) from error
    matplotlib.use("Agg")  # files only: never open a window or need a display
    import matplotlib.pyplot as plt

    return plt


def panels(count: int) -> tuple[Any, list[Any]]:
    """A figure of ``count`` panels, three to a row; unused places in the grid stay blank.

    Returns:
        tuple[Any, list[Any]]: the figure and its first ``count`` axes, in reading order.
    """
    plt = pyplot()
    columns = min(3, count)
    lines = math.ceil(count / columns)
    fig, axes = plt.subplots(lines, columns, figsize=(4.2 * columns, 3.2 * lines), squeeze=False)
    for ax in list(axes.flat)[count:]:
        ax.axis("off")
    return fig, list(axes.flat)[:count]


def save_figure(
    fig: Any, folder: Path, file: str, title: str, caption: str, *, tight: bool = True
) -> Figure:
    """Write ``fig`` as ``folder/file``, close it, and return its entry for the page."""
    if tight:
        fig.tight_layout()
    fig.savefig(folder / file, dpi=110)
    pyplot().close(fig)
    return Figure(file, title, caption)


# --------------------------------------------------------------------------- metrics.csv
def read_metrics(path: Path) -> list[dict[str, float]]:
    """Read Lightning's ``metrics.csv`` into rows of numbers, empty cells left out.

    Args:
        path (Path): the CSV file.

    Returns:
        list[dict[str, float]]: one dict per logged row.
    """
    with path.open(newline="") as handle:
        return [
            {key: float(value) for key, value in row.items() if value not in ("", None)}
            for row in csv.DictReader(handle)
        ]


def _curve_name(column: str) -> tuple[str, str] | None:
    """Split a column into (metric, curve): ``val_loss`` into (``loss``, ``val``).

    Columns that are not training or validation curves give None.
    """
    for prefix in ("train_", "val_"):
        if column.startswith(prefix):
            name = column[len(prefix) :]
            stage = prefix[:-1]
            if name.endswith("_step"):
                return name[: -len("_step")], f"{stage} (every step)"
            if name.endswith("_epoch"):
                return name[: -len("_epoch")], stage
            return name, stage
    return None


def spans_decades(values: list[float]) -> bool:
    """Whether a panel needs a log axis: positive values spanning `LOG_SCALE_SPAN` or more.

    A loss falling from 0.7 to 0.01 looks flat after a few epochs on a linear axis.
    """
    finite = [v for v in values if math.isfinite(v)]
    return bool(finite) and min(finite) > 0 and max(finite) >= LOG_SCALE_SPAN * min(finite)


def learning_curves(rows: list[dict[str, float]], folder: Path) -> Figure | None:
    """Draw one panel per metric against the optimizer step; None when nothing was logged.

    Args:
        rows (list[dict[str, float]]): rows from `read_metrics`.
        folder (Path): where the PNG goes.

    Returns:
        Figure | None: the figure written.
    """
    series: dict[str, dict[str, tuple[list[float], list[float]]]] = defaultdict(dict)
    for row in rows:
        for column, value in row.items():
            named = _curve_name(column)
            if named is None or "step" not in row:
                continue
            name, stage = named
            steps, values = series[name].setdefault(stage, ([], []))
            steps.append(row["step"])
            values.append(value)
    if not series:
        return None
    names = sorted(series, key=lambda n: (n != "loss", n))
    fig, axes = panels(len(names))
    for ax, name in zip(axes, names, strict=True):
        for stage, (steps, values) in sorted(series[name].items()):
            every_step = "every step" in stage
            ax.plot(
                steps,
                values,
                label=stage,
                color="C0" if stage.startswith("train") else "C1",
                alpha=0.35 if every_step else 1.0,
                marker=None if every_step else "o",
                markersize=3,
            )
        if spans_decades([v for _, values in series[name].values() for v in values]):
            ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("optimizer step")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return save_figure(
        fig,
        folder,
        "learning_curves.png",
        "Learning curves",
        "Each metric against the optimizer step: training (per step, faint, and per epoch) "
        "and validation.",
    )


def final_test_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    """Return the last logged value of every ``test_*`` metric."""
    found: dict[str, float] = {}
    for row in rows:
        found.update({k: v for k, v in row.items() if k.startswith("test_")})
    return found


# --------------------------------------------------------------------------- classification
def _names(count: int, class_names: list[str]) -> list[str]:
    return class_names if len(class_names) == count else [f"class {i}" for i in range(count)]


def classification_figures(
    labels: Tensor, scores: Tensor, class_names: list[str], folder: Path, multilabel: bool
) -> list[Figure]:
    """Draw ROC and precision-recall curves and the confusion matrix.

    Args:
        labels (Tensor): class indices ``(N,)``, or 0/1 ``(N, C)`` when ``multilabel``.
        scores (Tensor): probabilities ``(N, C)``.
        class_names (list[str]): names of the classes (or labels); may be empty.
        folder (Path): where the PNGs go.
        multilabel (bool): each column is its own yes/no decision.

    Returns:
        list[Figure]: the figures written.
    """
    from torchmetrics.functional.classification import (
        binary_average_precision,
        binary_confusion_matrix,
        binary_precision_recall_curve,
        binary_roc,
        multiclass_confusion_matrix,
    )

    plt = pyplot()
    count = scores.shape[1]
    names = _names(count, class_names)
    # One curve per positive class: class 1 alone when there are two exclusive classes.
    if multilabel:
        curves = [(names[c], scores[:, c], labels[:, c].long()) for c in range(count)]
    elif count == 2:
        curves = [(names[1], scores[:, 1], (labels == 1).long())]
    else:
        curves = [(names[c], scores[:, c], (labels == c).long()) for c in range(count)]

    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(10, 4.2))
    for name, score, truth in curves:
        if truth.min() == truth.max():  # a class absent (or alone) in the test set has no curve
            continue
        fpr, tpr, _ = binary_roc(score, truth)
        area = float(torch.trapezoid(tpr, fpr))
        roc_ax.plot(fpr.numpy(), tpr.numpy(), label=f"{name} (AUC {area:.3f})")
        precision, recall, _ = binary_precision_recall_curve(score, truth)
        average = float(binary_average_precision(score, truth))
        # Precision is constant between two thresholds: a step, never a straight line.
        (line,) = pr_ax.plot(
            recall.numpy(),
            precision.numpy(),
            drawstyle="steps-post",
            label=f"{name} (AP {average:.3f})",
        )
        prevalence = float(truth.float().mean())
        pr_ax.axhline(
            prevalence,
            color=line.get_color(),
            lw=0.8,
            ls=":",
            label=f"{name}: guessing ({prevalence:.2f})",
        )
    roc_ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="chance")
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", ylim=(0, 1.02))
    for ax in (roc_ax, pr_ax):
        ax.legend(fontsize=7, loc="lower right" if ax is roc_ax else "lower left")
        ax.grid(alpha=0.3)
    figures = [
        save_figure(
            fig,
            folder,
            "roc_pr.png",
            "ROC and precision-recall curves",
            "One curve per class (one-vs-rest); in the PR panel, precision steps from one "
            "threshold to the next, and each class's dotted line marks its frequency, the "
            "precision of guessing.",
        )
    ]

    if multilabel:
        matrices = [
            binary_confusion_matrix(scores[:, c], labels[:, c].long()) for c in range(count)
        ]
        panels = [(names[c], matrices[c], ["no", "yes"]) for c in range(count)]
    else:
        matrix = multiclass_confusion_matrix(scores.argmax(-1), labels.long(), count)
        panels = [("all classes", matrix, names)]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(max(4.0, 0.6 * count + 3) * len(panels) ** 0.8, 4), squeeze=False
    )
    for ax, (title, matrix, ticks) in zip(axes.flat, panels, strict=True):
        ax.imshow(matrix.numpy(), cmap="Blues")
        for (i, j), value in _cells(matrix):
            dark = value > matrix.max() / 2
            ax.text(j, i, str(value), ha="center", va="center", color="white" if dark else "black")
        ax.set_xticks(range(len(ticks)), ticks, rotation=45, ha="right")
        ax.set_yticks(range(len(ticks)), ticks)
        ax.set(xlabel="predicted", ylabel="true", title=title)
    figures.append(
        save_figure(
            fig,
            folder,
            "confusion_matrix.png",
            "Confusion matrix",
            "Counts of test items by true (rows) and predicted (columns) class"
            + (", one matrix per label at probability 0.5." if multilabel else "."),
        )
    )
    return figures


def _cells(matrix: Tensor) -> list[tuple[tuple[int, int], int]]:
    rows, columns = matrix.shape
    return [((i, j), int(matrix[i, j])) for i in range(rows) for j in range(columns)]


# --------------------------------------------------------------------------- regression
def regression_figures(
    labels: Tensor, predictions: Tensor, names: list[str], folder: Path
) -> list[Figure]:
    """Draw predicted against true values and the residuals, one row per output.

    Args:
        labels (Tensor): true values ``(N,)`` or ``(N, K)``.
        predictions (Tensor): predictions in label units, the same shape.
        names (list[str]): names of the outputs; may be empty.
        folder (Path): where the PNG goes.

    Returns:
        list[Figure]: the figure written.
    """
    plt = pyplot()
    truth = labels.reshape(labels.shape[0], -1).float()
    predicted = predictions.reshape(predictions.shape[0], -1).float()
    count = truth.shape[1]
    names = (
        names
        if len(names) == count
        else ([""] if count == 1 else [f"output {i}" for i in range(count)])
    )
    fig, axes = plt.subplots(count, 2, figsize=(9, 4 * count), squeeze=False)
    for k in range(count):
        x, y = truth[:, k].numpy(), predicted[:, k].numpy()
        residual = y - x
        rmse = float((residual**2).mean() ** 0.5)
        pair = torch.stack([truth[:, k], predicted[:, k]]).double()
        r = float(torch.corrcoef(pair)[0, 1]) if len(x) > 1 else float("nan")
        scatter, spread = axes[k]
        scatter.scatter(x, y, s=10, alpha=0.6)
        low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        scatter.plot([low, high], [low, high], color="grey", ls="--", lw=0.8, label="y = x")
        scatter.set(
            xlabel="true",
            ylabel="predicted",
            title=f"{names[k]} Pearson r {r:.3f}, RMSE {rmse:.3g}",
        )
        scatter.legend(fontsize=7)
        spread.scatter(y, residual, s=10, alpha=0.6)
        spread.axhline(0, color="grey", ls="--", lw=0.8)
        spread.set(xlabel="predicted", ylabel="predicted - true", title=f"{names[k]} residuals")
        for ax in (scatter, spread):
            ax.grid(alpha=0.3)
    return [
        save_figure(
            fig,
            folder,
            "regression.png",
            "Predicted against true",
            "Left: each test item's prediction against its label (on the dashed line when "
            "exact). Right: residuals against the prediction; a trend means a bias.",
        )
    ]


# --------------------------------------------------------------------------- pairwise
def contact_map_figures(
    labels: list[Tensor], scores: list[Tensor], ids: list[str], folder: Path
) -> list[Figure]:
    """Draw predicted contact probabilities beside the true contacts for the first items.

    Args:
        labels (list[Tensor]): each item's true ``(L, L)`` 0/1 map.
        scores (list[Tensor]): each item's predicted ``(L, L)`` probabilities.
        ids (list[str]): the items' ids.
        folder (Path): where the PNG goes.

    Returns:
        list[Figure]: the figure written.
    """
    plt = pyplot()
    shown = min(MAX_CONTACT_MAPS, len(scores))
    fig, axes = plt.subplots(2, shown, figsize=(3.2 * shown, 6.4), squeeze=False)
    for k in range(shown):
        predicted_ax, true_ax = axes[0][k], axes[1][k]
        image = predicted_ax.imshow(scores[k].numpy(), cmap="viridis", vmin=0, vmax=1)
        predicted_ax.set_title(f"{ids[k] if k < len(ids) else k}: predicted", fontsize=9)
        true_ax.imshow(labels[k].numpy(), cmap="Greys", vmin=0, vmax=1)
        true_ax.set_title("true contacts", fontsize=9)
        for ax in (predicted_ax, true_ax):
            ax.set_xlabel("residue")
            ax.set_ylabel("residue")
    fig.colorbar(image, ax=list(axes[0]), shrink=0.8, label="probability")
    return [
        save_figure(
            fig,
            folder,
            "contact_maps.png",
            "Contact maps",
            f"Predicted contact probabilities (top) and true contacts (bottom) of the first "
            f"{shown} test items.",
            tight=False,  # the shared colour bar does not fit a tight layout
        )
    ]


# --------------------------------------------------------------------------- the page
_EARLIER_KINDS = {"classification": "class", "token_classification": "token", "pairwise": "pairs"}
"""Kinds that runs written before the label handlers recorded, by the label kind they mean."""


def evaluation_figures(outputs: dict[str, Any], folder: Path) -> list[Figure]:
    """Draw the figures of the label kind whose test outputs ``outputs`` holds."""
    handler = label_handler(_EARLIER_KINDS.get(outputs["kind"], outputs["kind"]))
    names = list(outputs.get("class_names") or [])
    labels, scores = outputs["labels"], outputs["scores"]
    if handler.figures in ("classification", "multilabel"):
        multilabel = handler.figures == "multilabel"
        return classification_figures(labels, scores, names, folder, multilabel=multilabel)
    if handler.figures == "regression":
        if labels.ndim == 3:  # (items, bins, tracks): binned signal tracks
            from mg.cli.report_genome import track_figures

            return track_figures(labels, scores, outputs["ids"], folder)
        return regression_figures(labels, scores, names, folder)
    if handler.figures == "pairwise":
        return contact_map_figures(labels, scores, outputs["ids"], folder)
    return []


def write_page(
    run: Path,
    folder: Path,
    figures: list[Figure],
    metrics: dict[str, float] | dict[str, str],
    task: str | None,
    tested: Path | None = None,
    *,
    title: str = "Test metrics",
    kind: str = "Run",
) -> Path:
    """Write ``index.html``: a table (the test metrics by default), then every figure.

    ``tested`` is the test run whose results the page shows beside the fit's curves;
    ``title`` heads the table and ``kind`` names what the page shows (a run, a sweep).
    Numbers are shown to 4 significant digits, text as written, in the table's order.
    """
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>mg report: {html.escape(run.name)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "img{max-width:100%}td,th{padding:2px 12px;text-align:left}</style></head><body>",
        f"<h1>{html.escape(kind)} {html.escape(str(run))}</h1>",
    ]
    if task:
        parts.append(f"<p>Task: {html.escape(task)}</p>")
    if tested is not None:
        parts.append(f"<p>Test results from {html.escape(str(tested))} (mg test).</p>")
    if metrics:
        parts.append(f"<h2>{html.escape(title)}</h2><table><tr><th>name</th><th>value</th></tr>")
        parts += [
            f"<tr><td>{html.escape(k)}</td>"
            f"<td>{f'{v:.4g}' if isinstance(v, float) else html.escape(v)}</td></tr>"
            for k, v in metrics.items()
        ]
        parts.append("</table>")
    for figure in figures:
        parts.append(f"<h2>{html.escape(figure.title)}</h2><p>{html.escape(figure.caption)}</p>")
        parts.append(f"<img src='{html.escape(figure.file)}' alt='{html.escape(figure.title)}'>")
    parts.append("</body></html>")
    page = folder / "index.html"
    page.write_text("\n".join(parts))
    return page


def family_test_run(run: Path) -> Path | None:
    """The newest ``mg test`` run of a fit run's experiment, to show on the fit's page.

    ``mg test`` logs to a run folder of its own; a test run belongs to a fit run when its
    ``config.yaml`` has the same model and data sections (the rule ``--ckpt_path best``
    uses) and it holds test outputs.

    Args:
        run (Path): a run folder; only a fit run (one with ``checkpoints/``) has a family.

    Returns:
        Path | None: the newest such test run folder, or None.
    """
    import yaml

    if not (run / "checkpoints").is_dir() or not (run / "config.yaml").is_file():
        return None
    try:
        written = yaml.safe_load((run / "config.yaml").read_text())
    except yaml.YAMLError:
        return None
    if not isinstance(written, dict):
        return None
    sections = {key: written.get(key) for key in ("model", "data")}
    tests = []
    for folder in run.parent.iterdir():
        if folder == run or not folder.is_dir() or not list(folder.glob("test_outputs*.pt")):
            continue
        try:
            other = yaml.safe_load((folder / "config.yaml").read_text())
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(other, dict) and all(other.get(k) == v for k, v in sections.items()):
            tests.append(folder)
    return max(tests, key=lambda f: f.stat().st_mtime, default=None)


def render(
    run: Path, output: Path | None = None, *, colour_by: str | None = None, key: str | None = None
) -> tuple[Path, list[Figure]]:
    """Draw every figure a run folder has the data for, and the HTML page that shows them.

    Args:
        run (Path): a run folder (``runs/mg/version_0``) with ``metrics.csv`` and/or
            ``test_outputs.pt``, an ``mg sweep`` folder with ``trials.tsv``, or an ``.h5ad``
            that `CellEmbeddingWriter` wrote.
        output (Path | None): where to write; defaults to ``RUN/report``.
        colour_by (str | None): for an ``.h5ad``, the obs column to colour cells by.
        key (str | None): for an ``.h5ad``, the obsm entry of the embeddings.

    Returns:
        tuple[Path, list[Figure]]: the HTML page and the figures on it.

    Raises:
        FileNotFoundError: the folder does not exist or holds nothing to draw.
    """
    from mg.cli.outputs import OUTPUTS_FILE, load_test_outputs
    from mg.cli.report_embedding import EMBEDDING_KEY, render_embedding
    from mg.cli.report_genome import saturation_figures, saturation_table
    from mg.cli.report_sweep import TRIALS_FILE, render_sweep

    if run.suffix == ".h5ad" and run.is_file():
        return render_embedding(run, output, colour_by, key or EMBEDDING_KEY)
    if not run.is_dir():
        raise FileNotFoundError(
            f"Run folder {str(run)!r} does not exist: give a folder that `mg fit` or `mg test` "
            "wrote, such as runs/mg/version_0."
        )
    if (run / TRIALS_FILE).is_file():
        return render_sweep(run, output)
    metrics_file = run / "metrics.csv"
    rows = read_metrics(metrics_file) if metrics_file.exists() else []
    outputs = load_test_outputs(run)
    # One page per family: a fit run's page shows its newest test run's results too.
    tested = family_test_run(run) if outputs is None else None
    test_rows = rows
    if tested is not None:
        outputs = load_test_outputs(tested)
        tested_metrics = tested / "metrics.csv"
        test_rows = read_metrics(tested_metrics) if tested_metrics.exists() else []
    saturation = saturation_table(run)
    if not rows and outputs is None and saturation is None:
        raise FileNotFoundError(
            f"Nothing to draw in {str(run)!r}: it has neither metrics.csv nor {OUTPUTS_FILE}. "
            "Give the folder of a `mg fit` or `mg test` run (with the CSV logger), or of a "
            "SaturationMutagenesis `mg predict` run."
        )
    folder = output or run / "report"
    folder.mkdir(parents=True, exist_ok=True)
    figures = []
    curves = learning_curves(rows, folder)
    if curves is not None:
        figures.append(curves)
    if outputs is not None:
        figures += evaluation_figures(outputs, folder)
    if saturation is not None:
        figures += saturation_figures(saturation, folder)
    task = outputs["task"] if outputs else None
    metrics = dict(sorted(final_test_metrics(test_rows).items()))
    return write_page(run, folder, figures, metrics, task, tested), figures


def main(args: list[str]) -> int:
    """Run ``mg report RUN_DIR [--output DIR]``."""
    parser = argparse.ArgumentParser(
        prog="mg report",
        description="Draw a run's learning curves and test results as PNGs and one HTML page.",
        epilog="Test plots need test_outputs.pt, which `mg test` writes into its run folder; "
        "a sweep's folder gives the sweep's trials and options.",
    )
    parser.add_argument(
        "run",
        type=Path,
        help="a run folder (runs/mg/version_0), a sweep's folder (runs/mg/sweep), or an .h5ad "
        "of embedded cells (CellEmbeddingWriter's output)",
    )
    parser.add_argument("--output", type=Path, help="where to write (default: RUN/report)")
    parser.add_argument(
        "--color-by",
        metavar="COLUMN",
        help="for an embedded .h5ad: the obs column to colour cells by (default: the first "
        "column of a few named groups)",
    )
    parser.add_argument(
        "--key", help="for an embedded .h5ad: the obsm entry of the embeddings (default: X_mg)"
    )
    options = parser.parse_args(args)
    page, figures = render(options.run, options.output, colour_by=options.color_by, key=options.key)
    for figure in figures:
        print(page.parent / figure.file)
    print(f"Report: {page}")
    return 0
