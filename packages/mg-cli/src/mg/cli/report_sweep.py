"""``mg report SWEEP_FOLDER``: pictures of an ``mg sweep``, read from its ``trials.tsv``.

Two figures: the metric of every trial in trial order with the best value so far
(completed and pruned trials marked apart), and one panel per searched option with the
metric against the option's value, so a reader sees which options mattered. The page
lists the best trial with its options.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from mg.cli.report import Figure, panels, pyplot, save_figure, spans_decades, write_page

TRIALS_FILE = "trials.tsv"
"""The results table `mg sweep` writes into its study folder."""

FIXED_COLUMNS = ("number", "state", "best_so_far", "seconds", "run_folder")
"""Columns of ``trials.tsv`` besides the metric's and one per searched option."""


@dataclass
class Trials:
    """The table of a sweep, as written by `mg.cli.sweep.write_results`.

    Attributes:
        metric (str): the optimised value's name (``val_loss``).
        options (list[str]): the searched options, as config paths.
        rows (list[dict[str, str]]): one row per trial, in trial order, cells as written.
    """

    metric: str
    options: list[str]
    rows: list[dict[str, str]] = field(default_factory=list)

    def with_state(self, state: str) -> list[dict[str, str]]:
        """The trials of one state (``COMPLETE``, ``PRUNED``) that have a value."""
        return [row for row in self.rows if row["state"] == state and row[self.metric] != ""]


def read_trials(path: Path) -> Trials:
    """Read a sweep's ``trials.tsv``.

    Args:
        path (Path): the table.

    Returns:
        Trials: its metric, searched options and rows.

    Raises:
        ValueError: the file lacks the columns `mg sweep` writes (named, with the fix).
    """
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        header = list(reader.fieldnames or [])
        rows = list(reader)
    missing = [column for column in FIXED_COLUMNS if column not in header]
    if missing or len(header) < 3:
        raise ValueError(
            f"{path}: not a trials table of mg sweep (no column {', '.join(missing) or 'metric'}); "
            "run the same mg sweep command again to rewrite it."
        )
    metric = header[2]
    options = [column for column in header if column not in (*FIXED_COLUMNS, metric)]
    return Trials(metric, options, rows)


def _number(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def history_figure(trials: Trials, folder: Path) -> Figure:
    """Draw each trial's metric in trial order, with the best value so far."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    values: list[float] = []
    # A pruned trial's value is the last it reported before it was stopped.
    for state, marker, color in (("COMPLETE", "o", "C0"), ("PRUNED", "x", "0.4")):
        rows = trials.with_state(state)
        numbers = [int(row["number"]) for row in rows]
        shown = [float(row[trials.metric]) for row in rows]
        if rows:
            ax.plot(numbers, shown, marker, color=color, label=state.lower())
        values += shown
    best = [(int(row["number"]), _number(row["best_so_far"])) for row in trials.rows]
    best = [(n, v) for n, v in best if v is not None]
    if best:
        ax.step(*zip(*best, strict=True), where="post", color="C1", label="best so far")
    if spans_decades(values):
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(trials.metric)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return save_figure(
        fig,
        folder,
        "sweep_history.png",
        "Trials",
        f"{trials.metric} of each trial in trial order (a pruned trial's last reported value) "
        "and the best value so far among completed trials.",
    )


def options_figure(trials: Trials, folder: Path) -> Figure | None:
    """Draw the metric against each searched option; None when no trial completed."""
    finished = trials.with_state("COMPLETE")
    if not finished or not trials.options:
        return None
    from matplotlib.ticker import MaxNLocator

    fig, axes = panels(len(trials.options))
    values = [float(row[trials.metric]) for row in finished]
    for ax, option in zip(axes, trials.options, strict=True):
        cells = [row[option] for row in finished]
        numbers = [_number(cell) for cell in cells]
        if all(n is not None for n in numbers):
            ax.scatter(numbers, values, color="C0")
            if spans_decades([n for n in numbers if n is not None]):
                ax.set_xscale("log")
            else:
                ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        else:
            # Choices (adapter names, ...): one column of points per choice.
            choices = sorted(set(cells))
            ax.scatter([choices.index(c) for c in cells], values, color="C0")
            ax.set_xticks(range(len(choices)), choices, rotation=20, fontsize=7)
        if spans_decades(values):
            ax.set_yscale("log")
        ax.set_title(option.split(".")[-1], fontsize=9)
        ax.set_xlabel(option, fontsize=6)
        ax.set_ylabel(trials.metric)
        ax.grid(alpha=0.3)
    return save_figure(
        fig,
        folder,
        "sweep_options.png",
        "Options",
        f"{trials.metric} of each completed trial against the value of each searched option.",
    )


def best_trial(trials: Trials) -> dict[str, str]:
    """The best completed trial's number, value, run folder and options, for the page.

    The last ``best_so_far`` is the best value in the search's own direction; the best
    trial is the first to reach it.
    """
    bests = [row["best_so_far"] for row in trials.rows if row["best_so_far"] != ""]
    if not bests:
        return {}
    best = next(row for row in trials.with_state("COMPLETE") if row[trials.metric] == bests[-1])
    shown = {"trial": best["number"], trials.metric: best[trials.metric]}
    shown["run folder"] = best["run_folder"]
    shown.update({option: best[option] for option in trials.options})
    return shown


def render_sweep(study: Path, output: Path | None = None) -> tuple[Path, list[Figure]]:
    """Draw a sweep's figures and page from ``STUDY/trials.tsv``.

    Args:
        study (Path): the sweep's folder (``runs/mg/sweep``).
        output (Path | None): where to write; defaults to ``STUDY/report``.

    Returns:
        tuple[Path, list[Figure]]: the HTML page and the figures on it.
    """
    trials = read_trials(study / TRIALS_FILE)
    folder = output or study / "report"
    folder.mkdir(parents=True, exist_ok=True)
    figures = [history_figure(trials, folder)]
    options = options_figure(trials, folder)
    if options is not None:
        figures.append(options)
    table = best_trial(trials)
    page = write_page(study, folder, figures, table, None, title="Best trial", kind="Sweep")
    return page, figures
