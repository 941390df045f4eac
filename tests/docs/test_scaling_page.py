"""The Scaling out page: its configs parse, its CPU command runs, its SLURM script launches
the command it says (the Python block runs in test_doc_examples.py)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from doc_blocks import DOCS, ROOT, named_block

from mg.cli.main import main as mg_main

PAGE = DOCS / "scaling.md"


def _quickstart(folder: Path) -> Path:
    """configs/quickstart.yaml with its data paths made absolute, in ``folder``."""
    text = (ROOT / "configs" / "quickstart.yaml").read_text()
    path = folder / "quickstart.yaml"
    path.write_text(text.replace(" packages/", f" {ROOT}/packages/"))
    return path


@pytest.mark.parametrize(
    ("name", "strategy"),
    [("ddp", "ddp"), ("fsdp", "mg.cli.strategies.BackboneFSDPStrategy")],
)
def test_strategy_configs_parse(
    name: str,
    strategy: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    block = named_block(PAGE, name)
    (tmp_path / block.title).write_text(block.code)
    config = _quickstart(tmp_path)
    with pytest.raises(SystemExit) as done:
        mg_main(["fit", "--config", str(config), "--config", block.title, "--print_config"])
    assert done.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)["trainer"]["strategy"]
    assert (printed if isinstance(printed, str) else printed["class_path"]) == strategy


def test_checkpointing_command_trains_on_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    words = shlex.split(named_block(PAGE, "checkpointing").code, comments=True)
    assert words[:2] == ["mg", "fit"]
    assert "--model.backbone.init_args.gradient_checkpointing" in words
    args = [str(_quickstart(tmp_path)) if w == "configs/quickstart.yaml" else w for w in words]
    shorter = ["--trainer.accelerator", "cpu", "--trainer.max_epochs", "1"]
    shorter += ["--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1"]
    shorter += ["--trainer.enable_progress_bar", "false"]
    assert mg_main([*args[1:], *shorter]) == 0
    assert list((tmp_path / "runs").rglob("last.ckpt"))


@pytest.mark.parametrize("resume", [False, True])
def test_sbatch_script_runs_mg_under_srun(tmp_path: Path, resume: bool) -> None:
    block = named_block(PAGE, "sbatch")
    script = tmp_path / block.title
    script.write_text(block.code)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "srun.args"
    srun = bin_dir / "srun"  # stands in for SLURM's srun: records what it would start
    srun.write_text(f'#!/bin/sh\nfor a in "$@"; do echo "$a"; done > {calls}\n')
    srun.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "SLURM_JOB_NUM_NODES": "2",
        "SLURM_NTASKS_PER_NODE": "8",
    }
    command = ["bash", str(script), *(["resume"] if resume else [])]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    expected = ["mg", "fit", "--config", "esm2.yaml", "--config", "fsdp.yaml"]
    expected += ["--trainer.num_nodes", "2", "--trainer.devices", "8"]
    expected += ["--ckpt_path", "last"] if resume else []
    assert calls.read_text().split("\n")[:-1] == expected
