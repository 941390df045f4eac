"""Every task config in configs/ (the quickstart aside) runs on the shipped data: fit,
test and predict through the mg command, cut to a few batches."""

from __future__ import annotations

from pathlib import Path

import pytest

from mg.cli.main import main

ROOT = Path(__file__).parents[1]
CONFIGS = sorted(p.name for p in (ROOT / "configs").glob("*.yaml") if p.stem != "quickstart")
SHORT = [
    "--trainer.accelerator",
    "cpu",
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
]
PER_STAGE = {
    "fit": [
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "2",
        "--trainer.limit_val_batches",
        "1",
    ],
    "test": ["--trainer.limit_test_batches", "2"],
    "predict": ["--trainer.limit_predict_batches", "2"],
}


def _write_example_cells(folder: Path) -> None:
    from mg.tasks.data.cells.synthetic import write_example

    write_example(folder)


def _write_genome(folder: Path) -> None:
    from mg.tasks.data.genome.synthetic import write_planted_tracks

    write_planted_tracks(folder / "genome")


# Configs whose data the user writes first: the cells their comments' command writes, the
# genome files docs/tutorials/tracks.md writes into genome/.
PREPARE = {
    "cells.yaml": _write_example_cells,
    "tracks.yaml": _write_genome,
    "saturation.yaml": _write_genome,
}


def _stages(config: str) -> list[str]:
    """The stages a config's task runs (read from the task class, not assumed)."""
    import yaml

    from mg.core.registry import load

    task = yaml.safe_load((ROOT / "configs" / config).read_text())["model"]["class_path"]
    runs = load("tasks", task).supported_stages
    return [stage for stage in ("fit", "test", "predict") if stage in runs]


def test_there_are_task_configs() -> None:
    assert CONFIGS


@pytest.mark.parametrize("config", CONFIGS)
def test_config_runs_on_the_shipped_data(
    config: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("configs", "packages"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MG_DEBUG", "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    if config in PREPARE:
        PREPARE[config](tmp_path)
    for stage in _stages(config):
        extra = ["--ckpt_path", "last"] if stage != "fit" and "fit" in _stages(config) else []
        if stage == "predict":
            extra += ["--output", "predictions.tsv"]  # by default it goes in the run folder
        status = main([stage, "--config", f"configs/{config}", *SHORT, *PER_STAGE[stage], *extra])
        assert status == 0, f"mg {stage} --config configs/{config} exited {status}"
    assert (tmp_path / "predictions.tsv").read_text().startswith("ids\t")
