"""``mg cv``: k-fold cross-validation as one command.

With ``data.init_args.n_folds: K`` in the config, ``mg cv --config my.yaml`` fits and tests
one model per fold, each in its own run folder, then prints and writes the mean ± sd of
every test metric across folds and, when the test fold rotates, every item's prediction
from the fold that held it out.

Layout, under the logger's ``save_dir/name`` (``runs/mg`` by default)::

    fold0/fit/      checkpoints, metrics.csv, config.yaml   (mg fit)
    fold0/test/     metrics.csv, test_outputs.pt            (mg test, best checkpoint)
    fold0/done      written once the fold is tested
    ...
    cv_metrics.tsv  metric, mean, sd, then one column per fold
    oof_predictions.tsv / oof_outputs.pt

Folds with a ``done`` file are skipped, so running the command again after an interruption
finishes the remaining folds; a fold whose fit stopped midway resumes from ``last.ckpt``.
A fold counts as done only when its fit's ``config.yaml`` records this experiment (the
run identity of `mg.cli.runs`: model and training data, with this fold's split); a folder
that holds another experiment's folds stops the command before any training.
"""

from __future__ import annotations

import copy
import csv
import json
import shutil
import statistics
from pathlib import Path
from typing import Any, NamedTuple

import torch

from mg.cli.fit_runs import fit_runs_parser
from mg.cli.outputs import load_test_outputs
from mg.cli.report import final_test_metrics, read_metrics
from mg.cli.runs import recorded_identity, run_identity


class Plan(NamedTuple):
    """What ``mg cv`` reads from the config once.

    Attributes:
        n_folds (int): the fold count.
        rotate_test (bool): the test fold rotates with the validation fold.
        root (Path): the logger's folder, ``save_dir/name``.
        name (str): the logger's name.
        config (dict[str, Any]): the resolved config shared by every fold.
    """

    n_folds: int
    rotate_test: bool
    root: Path
    name: str
    config: dict[str, Any]


def fold_identity(plan: Plan, fold: int) -> dict[str, Any]:
    """The run identity a fold's fit records: the shared config with this fold's split."""
    config = copy.deepcopy(plan.config)
    init_args = config["data"].setdefault("init_args", {})
    init_args["fold"] = fold
    if plan.rotate_test:
        init_args["test_fold"] = fold
    return run_identity(config)


def _holds_this_experiment(plan: Plan, fold: int) -> bool | None:
    """True/False when the fold's fit recorded its config; None when it never wrote one."""
    recorded = recorded_identity(plan.root / f"fold{fold}" / "fit")
    return None if recorded is None else recorded == fold_identity(plan, fold)


def _refuse_other_experiments(plan: Plan, folds: list[int]) -> None:
    """Stop before any training when a fold folder holds another experiment's run."""
    foreign = [f for f in folds if _holds_this_experiment(plan, f) is False]
    if foreign:
        shown = ", ".join(str(plan.root / f"fold{f}") for f in foreign[:3])
        raise ValueError(
            f"{shown}: holds a cross-validation run of another experiment (different model or "
            "training data). Give this one its own folder with --trainer.logger.init_args.name "
            "NAME, or remove the old folds."
        )


def _plan(args: list[str]) -> Plan:
    """Read the config once: fold count, test rotation, the logger's folder and name."""
    from mg.cli.lightning import MGCLI

    cli = MGCLI(list(args), run=False)
    data = cli.datamodule
    # SequenceData keeps its split options in its plan.
    plan = getattr(data, "plan", data)
    n_folds = getattr(plan, "n_folds", None)
    if not n_folds:
        raise ValueError(
            f"mg cv needs k folds: set data.init_args.n_folds (e.g. --data.init_args.n_folds 5) "
            f"for {type(data).__name__}."
        )
    fixed_test = bool(getattr(plan, "test_file", None) or getattr(plan, "test_fraction", 0.0))
    logger = cli.trainer.logger
    if logger is None or not hasattr(logger, "save_dir"):
        raise ValueError(
            "mg cv writes each fold into the logger's folder: keep a logger with save_dir "
            "and name (the default CSVLogger), not trainer.logger: false."
        )
    name = logger.name or ""
    return Plan(
        int(n_folds), not fixed_test, Path(logger.save_dir) / name, name, cli.resolved_config()
    )


def _fold_args(args: list[str], fold: int, rotate_test: bool, version: str, name: str) -> list[str]:
    extra = ["--data.init_args.fold", str(fold)]
    if rotate_test:
        extra += ["--data.init_args.test_fold", str(fold)]
    extra += [
        "--trainer.logger.init_args.name",
        name,
        "--trainer.logger.init_args.version",
        version,
    ]
    return [*args, *extra]


def _checkpoint(fit: Path) -> Path:
    best = sorted((fit / "checkpoints").glob("best-*.ckpt"), key=lambda p: p.stat().st_mtime)
    return best[-1] if best else fit / "checkpoints" / "last.ckpt"


def _run(args: list[str]) -> None:
    """Run one mg subcommand in this process; an interrupted run stops the whole command."""
    from mg.cli.lightning import MGCLI

    cli = MGCLI(args)
    if cli.trainer.interrupted:
        raise KeyboardInterrupt(f"mg {args[0]} was interrupted; run mg cv again to go on.")


def run_fold(args: list[str], fold: int, rotate_test: bool, root: Path, name: str) -> None:
    """Fit and test one fold, unless a previous run did.

    Args:
        args (list[str]): the options shared by every fold (``--config ...``).
        fold (int): the fold to run.
        rotate_test (bool): hold this fold out for testing too (``test_fold``).
        root (Path): the logger's folder, ``save_dir/name``.
        name (str): the logger's name.
    """
    folder = root / f"fold{fold}"
    name = f"{name}/{folder.name}" if name else folder.name
    if not (folder / "done").exists():
        fit = folder / "fit"
        last = fit / "checkpoints" / "last.ckpt"
        fit_args = _fold_args(args, fold, rotate_test, "fit", name)
        if (fit / "fitted").exists():
            print(f"Fold {fold}: fitted before", flush=True)
        elif last.exists():
            print(f"Fold {fold}: resuming the fit from {last}", flush=True)
            _run(["fit", *fit_args, "--ckpt_path", str(last)])
        else:
            shutil.rmtree(fit, ignore_errors=True)
            print(f"Fold {fold}: fitting", flush=True)
            _run(["fit", *fit_args])
        (fit / "fitted").touch()
        test = folder / "test"
        shutil.rmtree(test, ignore_errors=True)
        checkpoint = _checkpoint(fit)
        print(f"Fold {fold}: testing {checkpoint}", flush=True)
        test_args = _fold_args(args, fold, rotate_test, "test", name)
        _run(["test", *test_args, "--ckpt_path", str(checkpoint)])
        (folder / "done").touch()
    else:
        print(f"Fold {fold}: done before, skipped", flush=True)


def summarize(per_fold: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    """Return each test metric's mean and sample standard deviation over the folds."""
    names = sorted({name for metrics in per_fold for name in metrics})
    summary = {}
    for name in names:
        values = [m[name] for m in per_fold if name in m]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        summary[name] = (statistics.fmean(values), sd)
    return summary


def write_metrics(
    root: Path, per_fold: list[dict[str, float]], folds: list[int] | None = None
) -> Path:
    """Write ``cv_metrics.tsv``: metric, mean, sd and each fold's value.

    Args:
        root (Path): the cross-validation folder.
        per_fold (list[dict[str, float]]): each done fold's test metrics.
        folds (list[int] | None): the fold numbers of ``per_fold`` (default 0, 1, ...).
    """
    folds = list(range(len(per_fold))) if folds is None else folds
    summary = summarize(per_fold)
    path = root / "cv_metrics.tsv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["metric", "mean", "sd", *(f"fold{i}" for i in folds)])
        for name, (mean, sd) in summary.items():
            writer.writerow([name, mean, sd, *(m.get(name, "") for m in per_fold)])
    return path


def write_out_of_fold(root: Path, folds: list[int]) -> list[Path]:
    """Merge every fold's test outputs: each item predicted by the model that never saw it.

    ``oof_outputs.pt`` holds the merged outputs (with each item's fold), for `mg report`
    style analysis of any task kind; sequence-level tasks also get ``oof_predictions.tsv``.
    """
    records = []
    for fold in folds:
        record = load_test_outputs(root / f"fold{fold}" / "test")
        if record is not None:
            records.append((fold, record))
    if not records:
        return []
    first = records[0][1]
    merged: dict[str, Any] = {k: first[k] for k in ("kind", "task", "class_names")}
    merged["ids"] = [i for _, r in records for i in r["ids"]]
    merged["folds"] = [fold for fold, r in records for _ in r["ids"]]
    if first["kind"] == "pairs":
        merged["labels"] = [m for _, r in records for m in r["labels"]]
        merged["scores"] = [m for _, r in records for m in r["scores"]]
    else:
        merged["labels"] = torch.cat([r["labels"] for _, r in records])
        merged["scores"] = torch.cat([r["scores"] for _, r in records])
    written = [root / "oof_outputs.pt"]
    torch.save(merged, written[0])
    if first["kind"] in ("class", "multilabel", "regression"):
        written.append(_write_oof_table(root / "oof_predictions.tsv", merged))
    return written


def _write_oof_table(path: Path, merged: dict[str, Any]) -> Path:
    scores = merged["scores"].reshape(len(merged["ids"]), -1)
    labels = merged["labels"].reshape(len(merged["ids"]), -1)
    score_name = "predictions" if merged["kind"] == "regression" else "probabilities"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        header = ["ids", "fold"]
        header += (
            [f"labels_{j}" for j in range(labels.shape[1])] if labels.shape[1] > 1 else ["labels"]
        )
        names = merged.get("class_names") or []
        # Named by class as in predictions.tsv, when the run's classes have names.
        suffixes = names if len(names) == scores.shape[1] else range(scores.shape[1])
        header += [f"{score_name}_{j}" for j in suffixes]
        writer.writerow(header)
        for row, (item, fold) in enumerate(zip(merged["ids"], merged["folds"], strict=True)):
            writer.writerow(
                [item, fold, *(_number(v) for v in labels[row]), *(float(v) for v in scores[row])]
            )
    return path


def _number(value: torch.Tensor) -> float | int:
    number = value.item()
    return int(number) if float(number).is_integer() else number


def main(args: list[str]) -> int:
    """Run ``mg cv --config my.yaml [options]``: every fold, then the summary."""
    parser = fit_runs_parser(
        "mg cv",
        "K-fold cross-validation: fit and test every fold, then mean ± sd of every test "
        "metric and out-of-fold predictions.",
        "; set data.init_args.n_folds. Without test_file or test_fraction the test fold "
        "rotates too, so every item is tested once",
    )
    parser.add_argument(
        "--folds",
        type=int,
        nargs="*",
        help="run only these folds (default: all); the summary covers the folds done",
    )
    options, rest = parser.parse_known_args(args)
    plan = _plan(rest)
    n_folds, rotate_test, root, name = plan.n_folds, plan.rotate_test, plan.root, plan.name
    folds = options.folds if options.folds else list(range(n_folds))
    for fold in folds:
        if not 0 <= fold < n_folds:
            raise ValueError(
                f"--folds {fold} is not a fold of n_folds={n_folds} (0..{n_folds - 1})."
            )
    _refuse_other_experiments(plan, folds)
    for fold in folds:
        run_fold(rest, fold, rotate_test, root, name)
    done = [
        f
        for f in range(n_folds)
        if (root / f"fold{f}" / "done").exists() and _holds_this_experiment(plan, f)
    ]
    per_fold = [
        final_test_metrics(read_metrics(root / f"fold{f}" / "test" / "metrics.csv")) for f in done
    ]
    summary = summarize(per_fold)
    path = write_metrics(root, per_fold, done)
    mode = "test and validation folds rotate" if rotate_test else "validation folds rotate"
    print(f"\nCross-validation over {len(done)} of {n_folds} folds ({mode}):")
    width = max((len(n) for n in summary), default=0)
    for name, (mean, sd) in summary.items():
        print(f"  {name:<{width}}  {mean:.4f} ± {sd:.4f}")
    print(f"Per-fold metrics: {path}")
    if rotate_test:
        for written in write_out_of_fold(root, done):
            print(f"Out-of-fold predictions: {written}")
    (root / "cv_summary.json").write_text(
        json.dumps(
            {
                "n_folds": n_folds,
                "folds_done": done,
                "rotating_test_fold": rotate_test,
                "metrics": {n: {"mean": m, "sd": s} for n, (m, s) in summary.items()},
            },
            indent=2,
        )
    )
    return 0
