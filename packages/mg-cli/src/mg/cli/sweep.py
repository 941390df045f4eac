"""``mg sweep``: a hyperparameter search with Optuna, each trial an ordinary ``mg fit`` run.

``mg sweep --config base.yaml --space space.yaml --trials N`` draws N sets of options from
the space file (see `mg.cli.sweep_space`), fits each as ``mg fit`` would with those options
added to the command line, prunes trials whose validation metric falls behind, and writes
the results. Layout, under the logger's ``save_dir/name`` (``runs/mg`` by default)::

    <study>/optuna.db        the Optuna study (SQLite), unless --storage names another
    <study>/trial_0000/      a normal run folder: config.yaml, checkpoints, metrics.csv
    <study>/trials.tsv       number, state, value, best value so far, run folder and
                             options of every trial (``mg report <study>`` draws it)
    <study>/best.yaml        the best trial's config, ready for ``mg fit --config``

``--trials N`` is the number of finished (complete or pruned) trials the study should have:
running the command again after an interruption goes on to N, starting with the trial that
was cut off (resumed from its ``last.ckpt``). Processes on several machines that name the
same ``--storage`` share one study, each drawing its own trials.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from mg.cli.fit_runs import fit_runs_parser
from mg.cli.sweep_space import Space, option_args, read_space, suggest

DEFAULT_STUDY = "sweep"


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ImportError(
            "mg sweep needs Optuna: pip install 'mg-cli[sweep]' (or pip install optuna)."
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Heartbeats and stale-trial checks are marked experimental; mg relies on them knowingly.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def _plan(args: list[str], space: Space) -> tuple[Path, str]:
    """Parse the base config once (no weights), and check every searched option on it.

    Returns:
        tuple[Path, str]: the logger's ``save_dir/name`` and its name.

    Raises:
        ValueError: the base config has no run-folder logger, or an option of the space does
            not exist or does not take one of its values.
    """
    from mg.cli.lightning import MGCLI
    from mg.cli.parse_errors import explain

    cli = MGCLI(list(args), run=False)
    logger = cli.trainer.logger
    if logger is None or not hasattr(logger, "save_dir"):
        raise ValueError(
            "mg sweep writes each trial into the logger's folder: keep a logger with save_dir "
            "and name (the default CSVLogger), not trainer.logger: false."
        )
    parser = cli.parser
    options = parser._option_names() if hasattr(parser, "_option_names") else []
    parser.exit_on_error = False
    try:
        for parameter in space.parameters:
            for value in parameter.probes():
                try:
                    parser.parse_args([*args, *option_args({parameter.path: value})])
                except Exception as error:  # jsonargparse's ArgumentError, with its reason
                    message = str(error)
                    clear = explain(message, options, "mg fit") or " ".join(message.split())
                    raise ValueError(
                        f"{space.source}: parameters.{parameter.path} = {value!r}: {clear}"
                    ) from None
    finally:
        parser.exit_on_error = True
    name = logger.name or ""
    return Path(logger.save_dir) / name, name


def _storage_location(given: str | None, folder: Path) -> str:
    """The ``--storage`` given, else an SQLite file in the sweep folder."""
    return given or f"sqlite:///{(folder / 'optuna.db').resolve()}"


def _storage(optuna: Any, location: str) -> Any:
    """Optuna storage: an RDB URL (SQLite by default) or a journal file."""
    if "://" in location:
        kwargs: dict[str, Any] = {}
        if location.startswith("sqlite"):
            # Several processes may share one SQLite file: wait for its lock, do not fail.
            kwargs["engine_kwargs"] = {"connect_args": {"timeout": 120}}
        return optuna.storages.RDBStorage(
            location,
            heartbeat_interval=20,
            grace_period=60,
            **kwargs,
        )
    from optuna.storages.journal import JournalFileBackend

    path = Path(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


@contextmanager
def _one_creator(location: str) -> Iterator[None]:
    """Let one process at a time open (and on first use create) a shared SQLite study.

    Two processes starting together on a new SQLite file would both create its tables and
    both stamp its schema version; the second then fails. An exclusive lock on a file beside
    the database orders them. Other RDB servers and journal files handle this themselves.
    """
    database = location.removeprefix("sqlite:///")
    if database == location or not database or database == ":memory:":
        yield
        return
    try:
        import fcntl
    except ImportError:  # Windows: no flock; sweeps there share a journal file or a server
        yield
        return
    lock_path = Path(database + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _component(module: Any, spec: dict[str, Any] | None, kind: str, space: Space) -> Any:
    if spec is None:
        return None
    options = {k: v for k, v in spec.items() if k != "name"}
    cls = getattr(module, spec["name"], None)
    if not isinstance(cls, type):
        raise ValueError(
            f"{space.source}: {kind}: {spec['name']!r} is not a class of {module.__name__} "
            "(e.g. MedianPruner, TPESampler)."
        )
    try:
        return cls(**options)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{space.source}: {kind}: {spec['name']}: {error}") from None


def _finished_states(optuna: Any) -> tuple[Any, ...]:
    state = optuna.trial.TrialState
    return (state.COMPLETE, state.PRUNED)


def _requeue_interrupted(optuna: Any, study: Any) -> None:
    """Queue again each trial cut off by an interruption, resuming from its last checkpoint.

    Trials whose process died are marked failed first (Optuna's heartbeat), so that a
    sweep killed with ``kill -9`` also goes on where it stopped.
    """
    optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    for trial in trials:
        if trial.state != optuna.trial.TrialState.FAIL or trial.number in retried:
            continue
        if trial.user_attrs.get("error"):  # a failure of its own options: not run again
            continue
        folder = trial.user_attrs.get("run_folder")
        last = Path(folder) / "checkpoints" / "last.ckpt" if folder else None
        attrs: dict[str, Any] = {"retry_of": trial.number}
        if last is not None and last.is_file():
            attrs["resume_from"] = str(last)
        study.enqueue_trial(trial.params, user_attrs=attrs)
        print(f"Trial {trial.number} was interrupted; it runs again first.", flush=True)


class _Stopped(KeyboardInterrupt):
    """A trial's fit stopped by Ctrl-C or SIGTERM: the sweep stops, to be run again."""


def _objective(optuna: Any, space: Space, args: list[str], root: Path, logger_name: str) -> Any:
    from mg.cli.sweep_trial import run_trial

    def objective(trial: Any) -> float:
        values = suggest(trial, space)
        version = f"trial_{trial.number:04d}"
        folder = root / version
        trial.set_user_attr("run_folder", str(folder.resolve()))
        fit = ["fit", *args, *option_args(values)]
        fit += ["--trainer.logger.init_args.name", logger_name]
        fit += ["--trainer.logger.init_args.version", version]
        resume = trial.user_attrs.get("resume_from")
        if resume:
            fit += ["--ckpt_path", resume]
        shown = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in values.items())
        print(f"\nTrial {trial.number}: {shown} -> {folder}", flush=True)
        try:
            outcome = run_trial(fit, trial, space.metric, space.direction)
        except (ValueError, KeyError) as error:
            trial.set_user_attr("error", str(error))
            raise
        config = folder / "config.yaml"
        if config.is_file():
            # Kept in the study, so that any machine can write the best config.
            trial.set_user_attr("config", config.read_text())
        if outcome.stopped:
            raise _Stopped(f"trial {trial.number} was stopped")
        if outcome.pruned:
            print(
                f"Trial {trial.number}: pruned at step {outcome.step} "
                f"({space.metric}={outcome.last:.4g})",
                flush=True,
            )
            raise optuna.TrialPruned()
        print(f"Trial {trial.number}: {space.metric}={outcome.best:.4g}", flush=True)
        return outcome.best

    return objective


def write_results(optuna: Any, study: Any, folder: Path, space: Space, root_name: str) -> Path:
    """Write ``trials.tsv`` (every trial) and ``best.yaml`` (the best trial's config).

    Returns:
        Path: the results table.
    """
    import csv

    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    names = [p.path for p in space.parameters]
    better = min if space.direction == "minimize" else max
    best_so_far: float | None = None
    table = folder / "trials.tsv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        header = ["number", "state", space.metric, "best_so_far", "seconds", "run_folder"]
        writer.writerow([*header, *names])
        for t in trials:
            seconds = (
                f"{(t.datetime_complete - t.datetime_start).total_seconds():.1f}"
                if t.datetime_complete and t.datetime_start
                else ""
            )
            if t.state == optuna.trial.TrialState.COMPLETE:  # as Optuna's best_trial
                best_so_far = t.value if best_so_far is None else better(best_so_far, t.value)
            value = "" if t.value is None else t.value
            best = "" if best_so_far is None else best_so_far
            row = [t.number, t.state.name, value, best, seconds, t.user_attrs.get("run_folder", "")]
            writer.writerow([*row, *(t.params.get(n, "") for n in names)])
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        config = best.user_attrs.get("config")
        if config:
            loaded = yaml.safe_load(config)
            # Ready for `mg fit`: a new run folder under the base config's logger, no resume.
            logger = (loaded.get("trainer") or {}).get("logger")
            if isinstance(logger, dict) and isinstance(logger.get("init_args"), dict):
                logger["init_args"]["name"] = root_name
                logger["init_args"]["version"] = None
            loaded.pop("ckpt_path", None)
            header = (
                f"# The best trial ({best.number}, {space.metric}={best.value:.6g}) of the "
                f"sweep in {folder}.\n"
                f"# Train it again with: mg fit --config {folder / 'best.yaml'}\n"
            )
            (folder / "best.yaml").write_text(header + yaml.safe_dump(loaded, sort_keys=False))
    return table


def _print_summary(optuna: Any, study: Any, space: Space, folder: Path, table: Path) -> None:
    states = [t.state for t in study.get_trials(deepcopy=False)]
    counts = {s.name.lower(): states.count(s) for s in set(states)}
    print(
        "\nSweep " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f": {table}",
        flush=True,
    )
    if any(s == optuna.trial.TrialState.COMPLETE for s in states):
        best = study.best_trial
        print(f"Best trial {best.number}: {space.metric}={best.value:.6g}", flush=True)
        for path, value in best.params.items():
            print(f"  {path}: {value}", flush=True)
        if (folder / "best.yaml").is_file():
            print(f"Best config: {folder / 'best.yaml'}", flush=True)


def main(args: list[str]) -> int:
    """Run ``mg sweep --config base.yaml --space space.yaml --trials N [options]``."""
    parser = fit_runs_parser(
        "mg sweep",
        "Hyperparameter search with Optuna: each trial is an `mg fit` run with options drawn "
        "from a space file; bad trials are pruned from their validation metric.",
        " and shared by every trial",
    )
    parser.add_argument("--space", required=True, help="the YAML file of searched options")
    parser.add_argument(
        "--trials",
        type=int,
        required=True,
        help="finished trials the study should have (a resumed sweep goes on to this count)",
    )
    parser.add_argument(
        "--storage",
        default=None,
        help="Optuna storage shared by every process of the sweep: an RDB URL "
        "(sqlite:///..., postgresql://...) or a journal file path on a shared file system; "
        "default: SQLite in the sweep folder",
    )
    parser.add_argument(
        "--study",
        default=DEFAULT_STUDY,
        help=f"the study name and folder (default {DEFAULT_STUDY})",
    )
    options, rest = parser.parse_known_args(args)
    if options.trials < 1:
        raise ValueError(f"--trials {options.trials}: give at least 1.")
    if not options.study or "/" in options.study or options.study.startswith("."):
        raise ValueError(f"--study {options.study!r}: give a plain folder name.")
    space = read_space(options.space)
    optuna = _optuna()
    pruner = _component(optuna.pruners, space.pruner, "pruner", space)
    sampler = _component(optuna.samplers, space.sampler, "sampler", space)
    root, name = _plan(rest, space)
    folder = root / options.study
    folder.mkdir(parents=True, exist_ok=True)
    location = _storage_location(options.storage, folder)
    with _one_creator(location):
        study = optuna.create_study(
            study_name=options.study,
            storage=_storage(optuna, location),
            direction=space.direction,
            pruner=pruner or optuna.pruners.NopPruner(),
            sampler=sampler,
            load_if_exists=True,
        )
    if study.direction.name.lower() != space.direction:
        raise ValueError(
            f"--study {options.study}: the stored study {study.direction.name.lower()}s; the "
            f"space says {space.direction}. Use another --study name."
        )
    _requeue_interrupted(optuna, study)
    finished = _finished_states(optuna)
    done = len(study.get_trials(deepcopy=False, states=finished))
    logger_name = f"{name}/{options.study}" if name else options.study
    if done < options.trials:
        print(
            f"Sweep {options.study}: {done} of {options.trials} trials finished; storage "
            f"{options.storage or folder / 'optuna.db'}",
            flush=True,
        )
        started = time.monotonic()
        try:
            study.optimize(
                _objective(optuna, space, rest, folder, logger_name),
                n_trials=options.trials - done,
                callbacks=[optuna.study.MaxTrialsCallback(options.trials, states=finished)],
            )
        except KeyboardInterrupt:
            write_results(optuna, study, folder, space, name)
            print(
                f"mg sweep: interrupted after {time.monotonic() - started:.0f} s; run the same "
                "command again to go on.",
                file=sys.stderr,
                flush=True,
            )
            return 130
    table = write_results(optuna, study, folder, space, name)
    _print_summary(optuna, study, space, folder, table)
    return 0
