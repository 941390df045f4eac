"""Training in stages: a YAML unfreezing schedule by name pattern and epoch, and resuming a
checkpoint's weights with fresh optimizer states."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cli_helpers import EVERY_EPOCH, changed, weights_by_epoch, write_config

from mg.cli.main import main


def test_the_schedule_unfreezes_exactly_the_named_weights_at_their_epochs(tmp_path: Path) -> None:
    start, *epochs = weights_by_epoch(
        tmp_path,
        {
            "class_path": "mg.tasks.unfreezing_schedule.UnfreezingSchedule",
            "init_args": {"schedule": {1: ["*encoder.layer.1.*"], 2: ["*word_embeddings*"]}},
        },
    )

    assert changed(start, epochs[0], "adapter.")
    assert not changed(start, epochs[0], "backbone.")
    assert changed(epochs[0], epochs[1], "encoder.layer.1.")
    assert not changed(epochs[0], epochs[1], "encoder.layer.0.")
    assert not changed(epochs[0], epochs[1], "embeddings.")
    assert changed(epochs[1], epochs[2], "encoder.layer.1.")
    assert changed(epochs[1], epochs[2], "embeddings.word_embeddings")
    # Named nowhere: never trains.
    assert not changed(start, epochs[2], "encoder.layer.0.")
    assert not changed(start, epochs[2], "embeddings.position_embeddings")


def test_a_pattern_that_names_nothing_stops_the_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path,
        **{
            "model.init_args.backbone": {"class_path": "BertDNATiny"},
            "trainer.callbacks": [
                {
                    "class_path": "mg.tasks.unfreezing_schedule.UnfreezingSchedule",
                    "init_args": {"schedule": {1: ["*decoder*"]}},
                }
            ],
        },
    )
    assert main(["fit", "--config", str(config)]) != 0
    err = capsys.readouterr().err
    assert "pattern '*decoder*' (epoch 1) matches no backbone parameter" in err


def _adam_steps(checkpoint: Path) -> float:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    (optimizer,) = state["optimizer_states"]
    return max(float(s["step"]) for s in optimizer["state"].values())


@pytest.mark.parametrize("reset", [False, True])
def test_a_new_stage_starts_with_fresh_optimizer_states_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reset: bool
) -> None:
    # 48 rows in batches of 8: 6 optimizer steps per epoch.
    config = write_config(tmp_path, **{"trainer.callbacks": [EVERY_EPOCH]})
    assert main(["fit", "--config", str(config)]) == 0
    (first,) = (tmp_path / "runs" / "test").rglob("epoch=0.ckpt")
    assert _adam_steps(first) == 6
    stage = ["fit", "--config", str(config), "--ckpt_path", str(first)]
    stage += ["--trainer.max_epochs", "2"]
    if reset:
        stage += ["--trainer.callbacks+=mg.cli.stages.ResetOptimizerStates"]
    capsys.readouterr()
    assert main(stage) == 0
    (second,) = (tmp_path / "runs" / "test").rglob("epoch=1.ckpt")
    # The moments count the steps they have seen: this stage's alone after a reset.
    assert _adam_steps(second) == (6 if reset else 12)
    said = "reset_optimizer_states: 1 optimizer state(s)" in capsys.readouterr().err
    assert said == reset
