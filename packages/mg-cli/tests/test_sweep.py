"""`mg sweep`: Optuna trials as ordinary run folders, a results table and a best config,
resuming to the asked count, pruning, two processes sharing one storage, and bad space
files stopped before any trial."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from cli_helpers import write_config

from mg.cli.main import main

HERE = Path(__file__).parent
LR = "model.init_args.optimizer.init_args.lr"
SPACE = {
    "metric": "val_loss",
    "sampler": {"name": "RandomSampler", "seed": 3},
    "parameters": {
        LR: {"low": 1.0e-3, "high": 0.3, "log": True},
        "model.init_args.adapter": {"choices": ["LinearMeanPoolAdapter", "LinearMaxPoolAdapter"]},
        "data.init_args.batch_size": {"low": 4, "high": 16},
    },
}


def _setup(folder: Path, space: dict | None = None, **overrides: object) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(folder, **overrides)
    path = folder / "space.yaml"
    path.write_text(yaml.safe_dump(space if space is not None else SPACE))
    return config, path


def _sweep(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["sweep", *args])
    return status, out.getvalue(), err.getvalue()


def _table(folder: Path) -> list[dict[str, str]]:
    with (folder / "runs" / "test" / "sweep" / "trials.tsv").open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, str]:
    folder = tmp_path_factory.mktemp("sweep")
    config, space = _setup(folder)
    status, out, err = _sweep("--config", str(config), "--space", str(space), "--trials", "3")
    assert status == 0, err
    return folder, config, space, out


def test_three_trials_are_run_folders_with_their_options_and_a_results_table(swept) -> None:
    folder, _, _, printed = swept
    rows = _table(folder)
    assert [r["number"] for r in rows] == ["0", "1", "2"]
    assert {r["state"] for r in rows} == {"COMPLETE"}
    for row in rows:
        run = Path(row["run_folder"])
        written = yaml.safe_load((run / "config.yaml").read_text())
        init = written["model"]["init_args"]
        assert init["optimizer"]["init_args"]["lr"] == pytest.approx(float(row[LR]))
        assert init["adapter"]["class_path"].endswith(row["model.init_args.adapter"])
        assert written["data"]["init_args"]["batch_size"] == int(row["data.init_args.batch_size"])
        with (run / "metrics.csv").open() as handle:
            logged = [float(r["val_loss"]) for r in csv.DictReader(handle) if r.get("val_loss")]
        # The trial's value is its best validation loss, as the run itself logged it.
        assert float(row["val_loss"]) == pytest.approx(min(logged))
        assert (run / "checkpoints" / "last.ckpt").is_file()
    assert len({r[LR] for r in rows}) == 3
    assert "Best config:" in printed


def test_best_config_is_the_best_trials_and_runs_with_mg_fit(swept) -> None:
    folder, _, _, _ = swept
    rows = _table(folder)
    best = min(rows, key=lambda r: float(r["val_loss"]))
    path = folder / "runs" / "test" / "sweep" / "best.yaml"
    config = yaml.safe_load(path.read_text())
    assert config["model"]["init_args"]["optimizer"]["init_args"]["lr"] == pytest.approx(
        float(best[LR])
    )
    assert config["trainer"]["logger"]["init_args"]["name"] == "test"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["fit", "--config", str(path)]) == 0
    # A fresh run folder of the base logger, not one of the trials'.
    assert (folder / "runs" / "test" / "version_0" / "checkpoints" / "last.ckpt").is_file()


def test_mg_report_draws_the_sweep_and_names_its_best_trial(swept) -> None:
    folder, _, _, _ = swept
    study = folder / "runs" / "test" / "sweep"
    rows = _table(folder)
    values = [float(r["val_loss"]) for r in rows]
    # The table carries the running best in trial order (the space minimises).
    assert [float(r["best_so_far"]) for r in rows] == [
        min(values[: i + 1]) for i in range(len(values))
    ]
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(["report", str(study)]) == 0
    drawn = study / "report"
    assert {"sweep_history.png", "sweep_options.png", "index.html"} <= {
        p.name for p in drawn.iterdir()
    }
    assert f"Report: {drawn / 'index.html'}" in printed.getvalue()
    page = (drawn / "index.html").read_text()
    best = min(rows, key=lambda r: float(r["val_loss"]))
    assert f"<td>trial</td><td>{best['number']}</td>" in page
    assert f"<td>{LR}</td><td>{best[LR]}</td>" in page
    assert f"<td>run folder</td><td>{best['run_folder']}</td>" in page


def test_running_again_goes_on_to_the_new_count(swept) -> None:
    folder, config, space, _ = swept
    before = _table(folder)
    status, out, err = _sweep("--config", str(config), "--space", str(space), "--trials", "4")
    assert status == 0, err
    after = _table(folder)
    assert [r["number"] for r in after] == ["0", "1", "2", "3"]
    assert after[:3] == before
    assert "3 of 4 trials finished" in out
    # Asked for no more than it has: nothing runs.
    status, out, _ = _sweep("--config", str(config), "--space", str(space), "--trials", "2")
    assert status == 0
    assert len(_table(folder)) == 4
    assert "Trial " not in out.replace("Best trial", "")


def test_a_trial_behind_the_pruner_stops_after_its_first_validation(tmp_path: Path) -> None:
    space = {
        **SPACE,
        # Every validation loss is above 0: the threshold pruner stops each trial at once.
        "pruner": {"name": "ThresholdPruner", "upper": 0.0},
    }
    config, path = _setup(tmp_path, space, **{"trainer.max_epochs": 3})
    status, out, err = _sweep("--config", str(config), "--space", str(path), "--trials", "1")
    assert status == 0, err
    (row,) = _table(tmp_path)
    assert row["state"] == "PRUNED"
    with (Path(row["run_folder"]) / "metrics.csv").open() as handle:
        epochs = {r["epoch"] for r in csv.DictReader(handle) if r.get("val_loss")}
    assert epochs == {"0"}
    assert "pruned at step" in out
    # A sweep with no completed trial still draws: the pruned trial is marked, no best named.
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["report", str(tmp_path / "runs" / "test" / "sweep")]) == 0
    page = (tmp_path / "runs" / "test" / "sweep" / "report" / "index.html").read_text()
    assert "sweep_history.png" in page and "Best trial" not in page
    assert row["best_so_far"] == ""  # Optuna's best trial counts completed trials only


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ({"model.init_args.no_such_option": {"low": 1, "high": 2}}, "no_such_option"),
        ({LR: {"low": 0.1, "high": 0.01}}, "low (0.1) must be below high (0.01)"),
        ({LR: {"low": 0.0, "high": 0.1, "log": True}}, "log: true needs low > 0"),
        ({"model.init_args.adapter": {"choices": ["NoSuchAdapter"]}}, "NoSuchAdapter"),
        ({LR: {"lo": 0.1, "high": 0.2}}, "unknown key(s) ['lo']"),
    ],
)
def test_a_bad_space_is_one_line_before_any_trial(
    tmp_path: Path, parameters: dict, named: str
) -> None:
    config, path = _setup(tmp_path, {"parameters": parameters})
    status, _, err = _sweep("--config", str(config), "--space", str(path), "--trials", "2")
    assert status != 0
    assert named in err
    assert str(path) in err
    assert "Traceback" not in err
    assert err.count("\n") <= 2  # the error, and the pointer to MG_DEBUG
    assert not (tmp_path / "runs").exists()


def _mg_sweep(folder: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "mg.cli", "sweep", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


OPEN_AT_ONCE = """
import sys, time
from pathlib import Path
import optuna
from mg.cli.sweep import _one_creator, _storage, _storage_location
location = _storage_location(None, Path(sys.argv[1]))
start = float(sys.argv[2])
while time.time() < start:
    pass
with _one_creator(location):
    optuna.create_study(study_name="s", storage=_storage(optuna, location), load_if_exists=True)
"""


def test_processes_starting_together_on_a_new_sqlite_study_all_open_it(tmp_path: Path) -> None:
    # The first use of a SQLite file creates its tables and stamps their version; without
    # a lock, two processes doing that at the same moment fail one another (seen in CI).
    for attempt in range(3):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        start = f"{time.time() + 4:.3f}"
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT_ONCE, str(folder), start],
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        for process in processes:
            _, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
        assert [
            s.study_name
            for s in optuna.get_all_study_summaries(f"sqlite:///{folder / 'optuna.db'}")
        ] == ["s"]


def test_two_processes_sharing_one_storage_run_disjoint_trials(tmp_path: Path) -> None:
    space = {**SPACE, "sampler": {"name": "RandomSampler"}}
    config, path = _setup(tmp_path, space)
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    args = ["--config", str(config), "--space", str(path), "--trials", "4", "--storage", storage]
    processes = [_mg_sweep(tmp_path, *args) for _ in range(2)]
    results = [p.communicate(timeout=900) for p in processes]
    for process, (_, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
    study = optuna.load_study(study_name="sweep", storage=storage)
    trials = study.get_trials()
    finished = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    # Four asked; a process already running a trial when the fourth ends finishes it.
    assert 4 <= len(finished) <= 5
    assert len(finished) == len(trials)
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))
    # Each trial ran in exactly one process, into its own folder, with its own options.
    printed = "".join(out for out, _ in results)
    for trial in trials:
        assert printed.count(f"Trial {trial.number}: ") == 2  # its start and its result
        run = Path(trial.user_attrs["run_folder"])
        written = yaml.safe_load((run / "config.yaml").read_text())
        lr = written["model"]["init_args"]["optimizer"]["init_args"]["lr"]
        assert lr == pytest.approx(trial.params[LR])
    runs = sorted(p.name for p in (tmp_path / "runs" / "test" / "sweep").glob("trial_*"))
    assert runs == [f"trial_{n:04d}" for n in range(len(trials))]


def test_an_interrupted_sweep_reruns_the_cut_trial_from_its_last_checkpoint(
    tmp_path: Path,
) -> None:
    stop = {
        "class_path": "cli_helpers.StopAt",
        "init_args": {"epoch": 1, "batch": 2, "signal_name": "SIGTERM"},
    }
    keep = {
        "class_path": "mg.cli.callbacks.BestAndLastCheckpoint",
        "init_args": {"monitor": "val_loss", "mode": "min"},
    }
    config, path = _setup(tmp_path, **{"trainer.max_epochs": 2, "trainer.callbacks": [keep, stop]})
    args = ["--config", str(config), "--space", str(path), "--trials", "1"]
    process = _mg_sweep(tmp_path, *args)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 130, err
    assert "run the same command again to go on" in err

    calm = write_config(tmp_path, **{"trainer.max_epochs": 2, "trainer.callbacks": [keep]})
    status, out, err = _sweep("--config", str(calm), "--space", str(path), "--trials", "1")
    assert status == 0, err
    assert "Trial 0 was interrupted; it runs again first." in out
    study = optuna.load_study(
        study_name="sweep",
        storage=f"sqlite:///{tmp_path / 'runs' / 'test' / 'sweep' / 'optuna.db'}",
    )
    cut, again = study.get_trials()
    assert cut.state == optuna.trial.TrialState.FAIL
    assert again.state == optuna.trial.TrialState.COMPLETE
    assert again.params == cut.params
    assert again.user_attrs["resume_from"].endswith("trial_0000/checkpoints/last.ckpt")
    assert "Resuming fit from" in err
