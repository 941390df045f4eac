"""Gradual unfreezing from a config: the head first, then backbone layers from the top."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
from cli_helpers import write_config

from mg.adapters import LinearMeanPoolAdapter
from mg.backbones import BertDNATiny
from mg.cli.main import main
from mg.tasks import SequenceClassification


def _weights(path: Path, start: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A checkpoint's weights; frozen backbone weights are left out of it, as unchanged."""
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    return {**start, **{k: v for k, v in state.items() if k in start}}


def _changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], part: str) -> bool:
    keys = [k for k in before if part in k]
    assert keys, part
    return any(not torch.equal(before[k], after[k]) for k in keys)


def test_layers_unfreeze_top_down_one_epoch_at_a_time(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        **{
            "trainer.max_epochs": 3,
            "model.init_args.backbone": {
                "class_path": "BertDNATiny",
                "init_args": {"num_layers": 2},
            },
            "trainer.callbacks": [
                {
                    "class_path": "mg.tasks.unfreezing.GradualUnfreezing",
                    "init_args": {"unfreeze_at_epoch": 1, "layers_per_epoch": 1},
                },
                {
                    "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                    "init_args": {"save_top_k": -1, "filename": "{epoch}"},
                },
            ],
        },
    )
    assert main(["fit", "--config", str(config)]) == 0
    (checkpoints,) = {p.parent for p in (tmp_path / "runs").rglob("epoch=2.ckpt")}
    # The weights before training: the tiny backbone is seeded, so build it again.
    task = SequenceClassification(
        functools.partial(BertDNATiny, num_layers=2), LinearMeanPoolAdapter, n_classes=2
    )
    task.configure_model()
    start = {k: v.clone() for k, v in task.state_dict().items()}
    epochs = [_weights(checkpoints / f"epoch={e}.ckpt", start) for e in range(3)]

    # Epoch 0: the head alone.
    assert _changed(start, epochs[0], "adapter.")
    assert not _changed(start, epochs[0], "backbone.")
    # Epoch 1: the last layer joins.
    assert _changed(epochs[0], epochs[1], "encoder.layer.1.")
    assert not _changed(epochs[0], epochs[1], "encoder.layer.0.")
    assert not _changed(epochs[0], epochs[1], "embeddings.")
    # Epoch 2: every layer, and the embeddings.
    assert _changed(epochs[1], epochs[2], "encoder.layer.0.")
    assert _changed(epochs[1], epochs[2], "embeddings.word_embeddings")


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
