"""Files from elsewhere are data, and one run resolver serves every command, through `mg`.

Every test runs the real command in a subprocess, as a user would: a crafted checkpoint
changes no option, a broken one is one line naming it, and ``best``/``last`` never pick
another experiment's run, whichever command asks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from cli_helpers import write_config, write_cv_config, write_motif_csv
from safetensors.torch import load_file

HERE = Path(__file__).parent


def _mg(folder: Path, *args: str, debug: bool = False) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("MG_DEBUG", None)
    if debug:
        env["MG_DEBUG"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "mg.cli", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.returncode, done.stdout, done.stderr


def _runs(folder: Path) -> list[Path]:
    root = folder / "runs" / "test"
    return sorted(root.glob("version_*"), key=lambda p: int(p.name.split("_")[1]))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One fitted run of a small config; returns its folder and config."""
    folder = tmp_path_factory.mktemp("fitted")
    config = write_config(folder, **{"trainer.max_epochs": 1})
    code, _, err = _mg(folder, "fit", "--config", str(config))
    assert code == 0, err
    return folder, config


def _best(folder: Path, version: str = "version_0") -> Path:
    (path,) = (folder / "runs" / "test" / version / "checkpoints").glob("best-*.ckpt")
    return path


def test_a_checkpoints_hyper_parameters_never_change_the_config(fitted, tmp_path: Path) -> None:
    folder, config = fitted
    state = torch.load(_best(folder), weights_only=True)
    remote_code = tmp_path / "remote_code_model"
    remote_code.mkdir()
    state["hyper_parameters"] = {
        "_class_path": "SequenceClassification",
        "backbone": {
            "class_path": "HFBackbone",
            "init_args": {"model_path": str(remote_code), "trust_remote_code": True},
        },
        "optimizer": {"class_path": "torch.optim.SGD", "init_args": {"lr": 123.0}},
        "n_classes": 2,
    }
    crafted = tmp_path / "crafted.ckpt"
    torch.save(state, crafted)
    before = {p.name for p in _runs(folder)}
    code, _, err = _mg(folder, "test", "--config", str(config), "--ckpt_path", str(crafted))
    assert code == 0, err
    (run,) = [p for p in _runs(folder) if p.name not in before]
    recorded = yaml.safe_load((run / "config.yaml").read_text())
    fitted_config = yaml.safe_load(
        (folder / "runs" / "test" / "version_0" / "config.yaml").read_text()
    )
    assert recorded["model"] == fitted_config["model"]
    text = (run / "config.yaml").read_text()
    assert "trust_remote_code" not in text and "HFBackbone" not in text and "123" not in text


def _broken_files(folder: Path, source: Path) -> dict[str, Path]:
    empty = folder / "empty.ckpt"
    empty.write_bytes(b"")
    noise = folder / "random.ckpt"
    noise.write_bytes(os.urandom(4096))
    truncated = folder / "truncated.ckpt"
    truncated.write_bytes(source.read_bytes()[:2000])
    return {"empty": empty, "random": noise, "truncated": truncated}


def test_a_broken_checkpoint_is_one_line_naming_it_in_every_command(fitted, tmp_path: Path) -> None:
    folder, config = fitted
    broken = _broken_files(tmp_path, _best(folder))
    # Every kind of damage through one command; every command with one kind (one reader).
    cases = [("test", path) for path in broken.values()]
    cases += [("predict", broken["random"]), ("export", broken["truncated"])]
    for command, path in cases:
        extra = ["--output", str(tmp_path / "export")] if command == "export" else []
        code, _, err = _mg(
            folder, command, "--config", str(config), "--ckpt_path", str(path), *extra
        )
        assert code == 1, (command, path, err)
        assert "Traceback" not in err, (command, path, err)
        errors = [line for line in err.splitlines() if line.startswith("mg: error:")]
        assert len(errors) == 1 and str(path) in errors[0], (command, path, err)
        assert not (tmp_path / "export").exists()
    code, _, err = _mg(
        folder, "test", "--config", str(config), "--ckpt_path", str(broken["empty"]), debug=True
    )
    assert code == 1 and "Traceback" in err  # MG_DEBUG=1 shows where it failed


def test_best_and_last_resolve_only_in_this_experiment_for_every_command(
    fitted, tmp_path: Path
) -> None:
    folder, config = fitted
    # Another experiment (another adapter) fits later into the same runs folder.
    other = tmp_path / "other.yaml"
    loaded = yaml.safe_load(config.read_text())
    loaded["model"]["init_args"]["adapter"] = {"class_path": "MLPPoolAdapter"}
    other.write_text(yaml.safe_dump(loaded))
    code, _, err = _mg(folder, "fit", "--config", str(other))
    assert code == 0, err
    newest = _runs(folder)[-1]
    saved = yaml.safe_load((newest / "config.yaml").read_text())["model"]["init_args"]
    assert saved["adapter"]["class_path"].endswith("MLPPoolAdapter")  # the other experiment

    # Export of this config's best takes this config's weights, not the newer run's.
    output = tmp_path / "exported"
    code, _, err = _mg(
        folder, "export", "--config", str(config), "--ckpt_path", "best", "--output", str(output)
    )
    assert code == 0, err
    ours = torch.load(_best(folder), weights_only=True)["state_dict"]
    exported = load_file(output / "weights.safetensors")
    assert exported.keys() == {k for k in ours if not k.startswith("backbone.")}
    assert all(torch.equal(exported[k], ours[k]) for k in exported)

    # Predicting a new file is the same experiment: best resolves to the fitted run.
    new = write_motif_csv(tmp_path / "new.csv", 10, 9)
    predictions = tmp_path / "new_predictions.tsv"
    code, _, err = _mg(
        folder,
        "predict",
        "--config",
        str(config),
        "--data.init_args.predict_file",
        str(new),
        "--ckpt_path",
        "best",
        "--output",
        str(predictions),
    )
    assert code == 0, err
    assert str(_best(folder)) in err
    assert len(predictions.read_text().splitlines()) == 11


def test_resume_keeps_metrics_history_and_removes_orphaned_temporary_files(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, **{"trainer.max_epochs": 2})
    code, _, err = _mg(tmp_path, "fit", "--config", str(config))
    assert code == 0, err
    run = tmp_path / "runs" / "test" / "version_0"
    before = (run / "metrics.csv").read_text().splitlines()
    orphan = run / "checkpoints" / ".last.ckpt.k1ll3d.part"
    orphan.write_bytes(b"half a checkpoint")
    code, _, err = _mg(
        tmp_path, "fit", "--config", str(config), "--trainer.max_epochs", "3", "--ckpt_path", "last"
    )
    assert code == 0, err
    after = (run / "metrics.csv").read_text().splitlines()
    assert after[: len(before)] == before and len(after) > len(before)
    assert not orphan.exists()
    mode = (run / "checkpoints" / "last.ckpt").stat().st_mode & 0o777
    assert mode & 0o040, oct(mode)  # the group may read it (umask permitting)


def test_cv_counts_a_fold_done_only_for_this_experiment(tmp_path: Path) -> None:
    config = write_cv_config(tmp_path, _named_labels(tmp_path / "all.csv", 36, 5))
    code, out, err = _mg(tmp_path, "cv", "--config", str(config), "--folds", "0")
    assert code == 0, err
    assert "over 1 of 3 folds" in out
    # Classes are named alike in every output of the run.
    root = tmp_path / "runs" / "test"
    header = (root / "oof_predictions.tsv").read_text().splitlines()[0].split("\t")
    assert "probabilities_motif" in header, header
    outputs = torch.load(root / "fold0" / "test" / "test_outputs.pt", weights_only=True)
    assert outputs["class_names"] == ["motif", "plain"]

    # Another experiment (another adapter) in the same folder: refused before training.
    loaded = yaml.safe_load(config.read_text())
    loaded["model"]["init_args"]["adapter"] = {"class_path": "MLPPoolAdapter"}
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(loaded))
    files = sorted(p for p in (tmp_path / "runs").rglob("*"))
    code, out, err = _mg(tmp_path, "cv", "--config", str(other))
    assert code == 1, out + err
    assert "Traceback" not in err and "another experiment" in err
    assert str(tmp_path / "runs" / "test" / "fold0") in err
    assert sorted(p for p in (tmp_path / "runs").rglob("*")) == files

    # The same experiment again finds fold 0 done and fits only the others.
    code, out, err = _mg(tmp_path, "cv", "--config", str(config), "--folds", "0")
    assert code == 0, err
    assert "Fold 0: done before, skipped" in out and "over 1 of 3 folds" in out


def _named_labels(path: Path, n: int, seed: int, keep: set[str] | None = None) -> Path:
    """A motif CSV whose labels are class names (``plain``/``motif``), not numbers."""
    write_motif_csv(path, n, seed)
    lines = path.read_text().splitlines()
    rows = [lines[0]]
    for line in lines[1:]:
        item, sequence, label = line.split(",")
        name = "motif" if label == "1" else "plain"
        if keep is None or name in keep:
            rows.append(f"{item},{sequence},{name}")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A run trained on named classes, exported; returns its folder, config and export."""
    folder = tmp_path_factory.mktemp("exported")
    config = write_config(folder, **{"trainer.max_epochs": 1})
    loaded = yaml.safe_load(config.read_text())
    for split, seed in (("train_file", 0), ("val_file", 1), ("test_file", 1), ("predict_file", 1)):
        loaded["data"]["init_args"][split] = str(_named_labels(folder / f"{split}.csv", 32, seed))
    # A schedule, as the recipes tutorial writes it: an export may name mg's schedules.
    loaded["model"]["init_args"]["lr_scheduler"] = {
        "class_path": "mg.tasks.CosineWarmupLR",
        "init_args": {"warmup_steps": 2},
    }
    config.write_text(yaml.safe_dump(loaded))
    code, _, err = _mg(folder, "fit", "--config", str(config))
    assert code == 0, err
    output = folder / "export"
    code, _, err = _mg(
        folder, "export", "--config", str(config), "--ckpt_path", "best", "--output", str(output)
    )
    assert code == 0, err
    return folder, config, output


def test_a_copied_export_is_self_contained_and_predicts_class_names(
    exported, tmp_path: Path
) -> None:
    folder, _, output = exported
    for name in ("config.yaml", "export.json"):
        assert str(folder) not in (output / name).read_text(), name
    for file in output.rglob("*"):
        if file.is_file():
            assert file.stat().st_mode & 0o040, file  # the group may read (umask 022)
    copy = tmp_path / "elsewhere" / "model"
    copy.parent.mkdir()
    output.rename(copy)  # the original folder is gone: nothing can fall back on it
    try:
        unlabelled = tmp_path / "unlabelled.csv"
        labelled = tmp_path / "only_motifs.csv"
        lines = _named_labels(labelled, 12, 4, keep={"motif"}).read_text().splitlines()
        unlabelled.write_text("\n".join(",".join(r.split(",")[:2]) for r in lines) + "\n")
        # Both files hold the same rows (only the motif class), one without its label column.
        for data in (unlabelled, labelled):
            expected_rows = len(lines) - 1
            predictions = tmp_path / f"{data.stem}.tsv"
            code, _, err = _mg(
                tmp_path,
                "predict",
                "--config",
                str(copy / "config.yaml"),
                "--data.init_args.predict_file",
                str(data),
                "--output",
                str(predictions),
            )
            assert code == 0, err
            header, *rows = predictions.read_text().splitlines()
            assert len(rows) == expected_rows
            assert "probabilities_motif" in header.split("\t"), header
            column = header.split("\t").index("predictions")
            assert {row.split("\t")[column] for row in rows} <= {"motif", "plain"}
    finally:
        copy.rename(output)


def test_an_export_goes_only_into_a_new_or_empty_folder(exported) -> None:
    folder, config, _ = exported
    target = folder / "mine"
    target.mkdir()
    (target / "config.yaml").write_text("my own notes\n")
    args = ["export", "--config", str(config), "--ckpt_path", "best", "--output", str(target)]
    code, _, err = _mg(folder, *args)
    assert code == 1 and "not empty" in err and "--overwrite" in err and "Traceback" not in err
    assert (target / "config.yaml").read_text() == "my own notes\n"
    code, _, err = _mg(folder, *args, "--overwrite")
    assert code == 0, err
    assert (target / "weights.safetensors").is_file()


@pytest.mark.parametrize(
    ("edit", "refused"),
    [
        (
            {
                "class_path": "HFBackbone",
                "init_args": {"model_path": ".", "trust_remote_code": True},
            },
            "trust_remote_code",
        ),
        ({"class_path": "subprocess.Popen", "init_args": {"args": ["touch", "pwned"]}}, "Popen"),
    ],
)
def test_a_crafted_export_runs_no_code_and_names_the_refused_key(
    exported, tmp_path: Path, edit: dict, refused: str
) -> None:
    folder, _, output = exported
    crafted = tmp_path / "crafted"
    shutil.copytree(output, crafted)
    config = yaml.safe_load((crafted / "config.yaml").read_text())
    config["model"]["init_args"]["backbone"] = edit
    (crafted / "config.yaml").write_text(yaml.safe_dump(config))
    code, _, err = _mg(
        tmp_path,
        "predict",
        "--config",
        str(crafted / "config.yaml"),
        "--data.init_args.predict_file",
        str(folder / "predict_file.csv"),
    )
    errors = [line for line in err.splitlines() if line.startswith("mg: error:")]
    assert code == 1 and len(errors) == 1 and "Traceback" not in err, err
    assert str(crafted / "config.yaml") in errors[0] and refused in errors[0]
    assert "model.init_args.backbone" in errors[0]
    loaded = subprocess.run(
        [sys.executable, "-c", f"import mg.cli; mg.cli.load({str(crafted)!r})"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert loaded.returncode == 1 and "ExportConfigError" in loaded.stderr
    assert refused in loaded.stderr.splitlines()[-1]
    assert not (tmp_path / "pwned").exists()


def test_predictions_are_created_exclusively_with_lf_lines_and_one_line_per_id(
    fitted, tmp_path: Path
) -> None:
    folder, config = fitted
    output = tmp_path / "predictions.tsv"
    marker = tmp_path / "other_job.txt"
    callbacks = {
        "trainer": {
            "callbacks": [
                {
                    "class_path": "mg.cli.writer.PredictionWriter",
                    "init_args": {"output": str(output)},
                },
                {
                    "class_path": "untrusted_helpers.OtherJobWrites",
                    "init_args": {"path": str(output), "marker": str(marker)},
                },
            ]
        }
    }
    extra = tmp_path / "other_job.yaml"
    extra.write_text(yaml.safe_dump(callbacks))
    rows = ["id,sequence,label", '"line\nbreak",ACGTTATAATACGTACGTACGTAC,1', "plain,ACGTACGTAC,0"]
    data = tmp_path / "odd_ids.csv"
    data.write_text("\r\n".join(rows) + "\r\n")
    args = ["--data.init_args.predict_file", str(data), "--ckpt_path", str(_best(folder))]
    code, _, err = _mg(folder, "predict", "--config", str(config), "--config", str(extra), *args)
    assert code == 0, err
    assert marker.read_text() == "refused"  # the name was ours from the start
    text = output.read_bytes()
    assert b"\r" not in text and text.count(b"\n") == 1 + 3  # the quoted id keeps its break

    array = tmp_path / "predictions.npy"
    code, _, err = _mg(folder, "predict", "--config", str(config), "--output", str(array), *args)
    assert code == 0, err
    ids = (tmp_path / "predictions.ids.txt").read_text().split("\n")
    assert ids == ["line\\nbreak", "plain", ""]


def test_the_thread_count_does_not_follow_the_load_and_is_recorded(fitted) -> None:
    from mg.cli.startup import MAX_DEFAULT_THREADS, usable_cores

    folder, config = fitted
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mg.cli",
            "validate",
            "--config",
            str(config),
            "--ckpt_path",
            str(_best(folder)),
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    record = yaml.safe_load((_runs(folder)[-1] / "versions.yaml").read_text())
    # Whatever the load average of this (shared) machine is now.
    assert record["torch_threads"] == min(usable_cores(), MAX_DEFAULT_THREADS)


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--model.init_args.optimizer.init_args.lr", "-0.1", "optimizer.init_args.lr is -0.1"),
        ("--trainer.max_epochs", "-1", "trainer.max_epochs is -1"),
        ("--data.init_args.batch_size", "0", "batch_size must be at least 1, not 0"),
    ],
)
def test_bad_training_options_are_one_line_naming_the_option_before_any_run(
    tmp_path: Path, option: str, value: str, named: str
) -> None:
    config = write_config(tmp_path)
    code, _, err = _mg(tmp_path, "fit", "--config", str(config), option, value)
    errors = [line for line in err.splitlines() if line.startswith("mg: error:")]
    assert code != 0 and len(errors) == 1 and named in errors[0], err
    assert "Namespace(" not in err and "Traceback" not in err
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.rglob("version_*"))  # nothing left behind


def test_truncation_error_stops_before_any_step_naming_the_row(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    backbone = "--model.init_args.backbone.init_args."
    code, _, err = _mg(
        tmp_path, "fit", "--config", str(config), f"{backbone}truncation", "error",
        f"{backbone}max_length", "16",
    )  # fmt: skip
    errors = [line for line in err.splitlines() if line.startswith("mg: error:")]
    assert code != 0 and len(errors) == 1, err
    assert "truncation='error'" in errors[0] and "max_length=16" in errors[0]
    assert "train row 1 (id " in errors[0] and "Traceback" not in err
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.rglob("version_*"))  # nothing left behind


def test_dna_given_to_a_protein_backbone_is_said_once_in_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, **{"trainer.limit_train_batches": 1})
    code, out, err = _mg(
        tmp_path, "fit", "--config", str(config), "--model.init_args.backbone", "ESM2Tiny"
    )
    assert code == 0, err
    said = [line for line in (out + err).splitlines() if "look like DNA or RNA" in line]
    assert len(said) == 1 and said[0].startswith("mg: warning: The train sequences"), said
    assert "ESM2Tiny reads protein" in said[0] and "rank_zero_warn" not in err
