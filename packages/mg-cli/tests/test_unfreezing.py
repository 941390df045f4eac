"""Gradual unfreezing from a config: the head first, then backbone layers from the top."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import changed, weights_by_epoch, write_config

from mg.cli.main import main


def test_layers_unfreeze_top_down_one_epoch_at_a_time(tmp_path: Path) -> None:
    start, *epochs = weights_by_epoch(
        tmp_path,
        {
            "class_path": "mg.tasks.unfreezing.GradualUnfreezing",
            "init_args": {"unfreeze_at_epoch": 1, "layers_per_epoch": 1},
        },
    )

    # Epoch 0: the head alone.
    assert changed(start, epochs[0], "adapter.")
    assert not changed(start, epochs[0], "backbone.")
    # Epoch 1: the last layer joins.
    assert changed(epochs[0], epochs[1], "encoder.layer.1.")
    assert not changed(epochs[0], epochs[1], "encoder.layer.0.")
    assert not changed(epochs[0], epochs[1], "embeddings.")
    # Epoch 2: every layer, and the embeddings.
    assert changed(epochs[1], epochs[2], "encoder.layer.0.")
    assert changed(epochs[1], epochs[2], "embeddings.word_embeddings")


def test_unfreezing_a_lora_backbone_is_refused_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path,
        **{
            "model.init_args.backbone": {
                "class_path": "BertDNATiny",
                "init_args": {"finetune": "lora"},
            },
            "trainer.callbacks": [{"class_path": "mg.tasks.unfreezing.GradualUnfreezing"}],
        },
    )
    assert main(["fit", "--config", str(config)]) == 1
    assert "set finetune: full, or drop the callback" in capsys.readouterr().err
