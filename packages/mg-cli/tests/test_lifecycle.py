"""Runs you can trust: checkpoints, resume, interruption and run folders, through `mg`.

The resume tests run the real command in subprocesses (kill -9 and SIGTERM need their own
process) and compare final weights bitwise with an uninterrupted run of the same config.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from cli_helpers import write_config, write_motif_csv

from mg.cli.checkpointing import AtomicCheckpointIO, CheckpointError, load_checkpoint_file
from mg.cli.main import main

HERE = Path(__file__).parent
# Best by the largest loss: the loss falls, so the best stays early while last moves on.
CHECKPOINT = {
    "class_path": "mg.cli.callbacks.BestAndLastCheckpoint",
    "init_args": {"monitor": "val_loss", "mode": "max"},
}


def _config(folder: Path, stop: dict | None = None, **overrides: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    callbacks: list[dict] = [CHECKPOINT]
    if stop is not None:
        callbacks.append({"class_path": "cli_helpers.StopAt", "init_args": stop})
    values = {
        "trainer.max_epochs": 3,
        "trainer.callbacks": callbacks,
        # Dropout draws from the global generator, so exactness needs the RNG restored.
        "model.init_args.adapter.init_args": {"dropout": 0.3},
        **overrides,
    }
    return write_config(folder, **values)


def _mg(folder: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "mg.cli", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=600)
    return process.returncode, err


def _last(folder: Path) -> dict:
    (path,) = (folder / "runs" / "test").glob("version_*/checkpoints/last.ckpt")
    return torch.load(path, weights_only=True)


def test_kill_and_sigterm_then_resume_reach_the_uninterrupted_weights(tmp_path: Path) -> None:
    reference, killed, stopped = tmp_path / "reference", tmp_path / "killed", tmp_path / "stopped"
    ctrl_c = tmp_path / "ctrl_c"
    _config(reference)
    _config(killed, stop={"epoch": 1, "batch": 2, "signal_name": "SIGKILL"})
    _config(stopped, stop={"epoch": 1, "batch": 2, "signal_name": "SIGTERM"})
    _config(ctrl_c, stop={"epoch": 1, "batch": 2, "signal_name": "SIGINT"})
    folders = (reference, killed, stopped, ctrl_c)
    runs = [_mg(f, "fit", "--config", "config.yaml") for f in folders]
    (ref_status, ref_err), (kill_status, _), (term_status, term_err), (int_status, int_err) = map(
        _finish, runs
    )
    assert ref_status == 0, ref_err[-3000:]
    assert kill_status == -9
    assert term_status == 143, term_err[-3000:]
    assert "stopped by SIGTERM in epoch 1 after step 9; saved " in term_err
    assert "Resume with: mg fit --config config.yaml --ckpt_path last" in term_err
    assert int_status == 130, int_err[-3000:]
    assert "stopped by Ctrl-C in epoch 1 after step 9; saved " in int_err
    assert (_last(ctrl_c)["epoch"], _last(ctrl_c)["global_step"]) == (1, 9)

    # last.ckpt is the final epoch even though the best stayed at the first one.
    final = _last(reference)
    assert (final["epoch"], final["global_step"]) == (2, 18)
    best = list((reference / "runs" / "test").glob("version_0/checkpoints/best-*.ckpt"))
    assert [p.name for p in best] == ["best-epoch=00.ckpt"]
    # kill -9 left the end of epoch 0; SIGTERM saved the middle of epoch 1.
    assert (_last(killed)["epoch"], _last(killed)["global_step"]) == (0, 6)
    assert (_last(stopped)["epoch"], _last(stopped)["global_step"]) == (1, 9)

    # Resume without the stopping callback, in the same run folder.
    resume = ["fit", "--config", "config.yaml", "--ckpt_path", "last"]
    override = ["--trainer.callbacks", yaml.safe_dump([CHECKPOINT], default_flow_style=True)]
    resumed = [_mg(f, *resume, *override) for f in (killed, stopped)]
    for folder, (status, err) in zip((killed, stopped), map(_finish, resumed), strict=True):
        assert status == 0, err[-3000:]
        assert "Resuming fit from the last checkpoint" in err
        assert "not resumable" not in err  # Lightning's warning is wrong for mg's loaders
        assert [p.name for p in (folder / "runs" / "test").iterdir()] == ["version_0"]
        # The history survives the resume: the same rows as the uninterrupted run's.
        metrics = folder / "runs" / "test" / "version_0" / "metrics.csv"
        expected = reference / "runs" / "test" / "version_0" / "metrics.csv"
        assert metrics.read_text() == expected.read_text(), folder.name
        state = _last(folder)
        assert (state["epoch"], state["global_step"]) == (2, 18)
        for key, value in final["state_dict"].items():
            assert torch.equal(state["state_dict"][key], value), (folder.name, key)


def test_runs_started_together_get_their_own_folders_and_best_stays_in_its_config(
    tmp_path: Path,
) -> None:
    # Two experiments share runs/test: same data, a different head.
    first = _config(tmp_path, **{"trainer.max_epochs": 1})
    second = tmp_path / "second.yaml"
    config = yaml.safe_load(first.read_text())
    config["model"]["init_args"]["n_classes"] = 3
    second.write_text(yaml.safe_dump(config))
    runs = [_mg(tmp_path, "fit", "--config", name) for name in ("config.yaml", "second.yaml")]
    for status, err in map(_finish, runs):
        assert status == 0, err[-3000:]
    folders = sorted((tmp_path / "runs" / "test").iterdir())
    assert [f.name for f in folders] == ["version_0", "version_1"]
    second_run = next(
        f
        for f in folders
        if yaml.safe_load((f / "config.yaml").read_text())["model"]["init_args"]["n_classes"] == 3
    )
    first_run = next(f for f in folders if f != second_run)
    for folder in folders:
        metrics = (folder / "metrics.csv").read_text().splitlines()
        assert metrics and all(line.count(",") == metrics[0].count(",") for line in metrics)

    # The second config fitted first or last: `best` is its own file either way.
    for name, run in (("second.yaml", second_run), ("config.yaml", first_run)):
        test = _mg(tmp_path, "test", "--config", name, "--ckpt_path", "best")
        status, err = _finish(test)
        assert status == 0, err[-3000:]
        (best,) = (run / "checkpoints").glob("best-*.ckpt")
        assert f"Using the best checkpoint {best}" in err

    # The first config's checkpoint given by path to the second: one line naming it.
    (foreign,) = (first_run / "checkpoints").glob("best-*.ckpt")
    mismatch = _mg(tmp_path, "test", "--config", "second.yaml", "--ckpt_path", str(foreign))
    status, err = _finish(mismatch)
    assert status == 1
    assert f"mg: error: {foreign}: does not fit this config: " in err
    assert "adapter.linear.weight is [2," in err and "Traceback" not in err


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/model.ckpt", "https://example.org/a.ckpt", "s3://bucket/a.ckpt"]
)
def test_remote_checkpoints_are_refused_before_anything_loads(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    assert main(["test", "--config", str(config), "--ckpt_path", url]) == 1
    err = capsys.readouterr().err
    assert f"--ckpt_path {url}: remote checkpoints are refused" in err


class _Payload:
    def __reduce__(self) -> tuple:
        return (os.system, ("touch pwned",))


def test_checkpoints_load_without_running_code_and_bad_files_name_themselves(
    tmp_path: Path,
) -> None:
    crafted = tmp_path / "crafted.ckpt"
    torch.save({"state_dict": {}, "extra": _Payload()}, crafted)
    with pytest.raises(CheckpointError, match="refused to load") as error:
        load_checkpoint_file(crafted)
    assert str(crafted) in str(error.value)
    assert not (tmp_path / "pwned").exists()

    truncated = tmp_path / "truncated.ckpt"
    torch.save({"state_dict": {"w": torch.ones(1000)}}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:300])
    with pytest.raises(CheckpointError, match="not a readable checkpoint") as error:
        load_checkpoint_file(truncated)
    assert str(truncated) in str(error.value) and "\n" not in str(error.value)


def test_a_failed_checkpoint_write_keeps_the_old_file_and_leaves_no_orphan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    io = AtomicCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}, "epoch": 1}, path)

    def full_disk(obj: object, stream: object, *args: object, **kwargs: object) -> None:
        stream.write(b"PK\x03\x04 half a checkpoint")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "epoch": 2}, path)
    monkeypatch.undo()
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]
    kept = io.load_checkpoint(path)
    assert kept["epoch"] == 1 and torch.equal(kept["state_dict"]["w"], torch.zeros(3))


def test_fit_resume_of_a_config_never_fitted_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    assert main(["fit", "--config", str(config), "--ckpt_path", "last"]) == 1
    err = capsys.readouterr().err
    assert "No last checkpoint under" in err and "was written by this config" in err
    assert not (tmp_path / "runs" / "test").exists() or not any(
        (tmp_path / "runs" / "test").rglob("*.ckpt")
    )


def test_ddp_validate_counts_every_item_once(tmp_path: Path) -> None:
    """1-process and 2-process validation of the same checkpoint give the same metrics."""
    config = _config(tmp_path, **{"trainer.max_epochs": 1})
    status, err = _finish(_mg(tmp_path, "fit", "--config", "config.yaml"))
    assert status == 0, err[-3000:]
    (checkpoint,) = (tmp_path / "runs" / "test").glob("version_0/checkpoints/last.ckpt")
    seven = write_motif_csv(tmp_path / "seven.csv", 7, 5)  # odd: DDP would pad it to 8
    common = ["--config", str(config), "--data.init_args.val_file", str(seven)]
    metrics = {}
    for devices in (1, 2):
        run = _mg(
            tmp_path,
            "validate",
            *common,
            "--trainer.devices",
            str(devices),
            "--trainer.strategy",
            "ddp" if devices == 2 else "auto",
            "--trainer.logger.init_args.name",
            f"validate{devices}",
            "--ckpt_path",
            str(checkpoint),
        )
        status, err = _finish(run)
        assert status == 0, err[-3000:]
        (csv,) = (tmp_path / "runs" / f"validate{devices}").glob("version_*/metrics.csv")
        header, values = csv.read_text().splitlines()[:2]
        metrics[devices] = {
            k: float(v) for k, v in zip(header.split(","), values.split(","), strict=True) if v
        }
    assert metrics[1].keys() == metrics[2].keys() and "val_accuracy" in metrics[1]
    # The metrics sync their counts and val_loss its item-weighted sum and item count, so
    # all match exactly though the shares are uneven (4 and 3).
    for name in ("val_loss", "val_accuracy", "val_f1", "val_mcc", "val_auroc"):
        assert metrics[2][name] == pytest.approx(metrics[1][name], rel=1e-6), name
