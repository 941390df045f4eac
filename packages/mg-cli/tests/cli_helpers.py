"""Small configs and data for the CLI tests."""

from __future__ import annotations

import functools
import os
import random
import signal
from pathlib import Path

import torch
import yaml
from lightning.pytorch.callbacks import Callback

from mg.adapters import LinearMeanPoolAdapter
from mg.backbones import BertDNATiny
from mg.cli.main import main
from mg.tasks import SequenceClassification


def write_motif_csv(path: Path, n: int, seed: int, bad_label_row: int | None = None) -> Path:
    """DNA 24-mers; label 1 exactly when TATAAT is present."""
    rng = random.Random(seed)
    lines = ["id,sequence,label"]
    for i in range(n):
        seq = [rng.choice("ACGC") for _ in range(24)]
        label = i % 2
        if label:
            start = rng.randrange(0, 18)
            seq[start : start + 6] = "TATAAT"
        if bad_label_row is not None and i == bad_label_row:
            label = 7
        lines.append(f"s{seed}_{i},{''.join(seq)},{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_config(folder: Path, **overrides: object) -> Path:
    """A small SequenceClassification config over CSVs in ``folder``; returns its path."""
    train = write_motif_csv(folder / "train.csv", 48, 0)
    val = write_motif_csv(folder / "val.csv", 16, 1)
    config: dict = {
        "trainer": {
            "max_epochs": 1,
            "accelerator": "cpu",
            "enable_progress_bar": False,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(folder / "runs"), "name": "test"},
            },
        },
        "model": {
            "class_path": "SequenceClassification",
            "init_args": {
                "backbone": {"class_path": "OneHotDNA"},
                "adapter": {"class_path": "LinearMeanPoolAdapter"},
                "n_classes": 2,
            },
        },
        "data": {
            "class_path": "SequenceData",
            "init_args": {
                "train_file": str(train),
                "val_file": str(val),
                "test_file": str(val),
                "predict_file": str(val),
                "label_columns": "label",
                "batch_size": 8,
            },
        },
    }
    for dotted, value in overrides.items():
        target = config
        *parents, last = dotted.split(".")
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def write_cv_config(folder: Path, data: Path, **overrides: object) -> Path:
    """`write_config` with one data file ``data`` split into 3 folds; returns its path."""
    config = write_config(folder, **overrides)
    loaded = yaml.safe_load(config.read_text())
    loaded["data"]["init_args"] = {
        "path": str(data),
        "label_columns": "label",
        "n_folds": 3,
        "batch_size": 8,
    }
    config.write_text(yaml.safe_dump(loaded))
    return config


EVERY_EPOCH = {
    "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
    "init_args": {"save_top_k": -1, "filename": "{epoch}"},
}
"""A checkpoint callback that keeps one checkpoint per epoch, ``epoch=N.ckpt``."""


def weights_by_epoch(folder: Path, callback: dict) -> list[dict[str, torch.Tensor]]:
    """Fit a 2-layer BertDNATiny classifier for 3 epochs with ``callback`` in ``folder``.

    Returns:
        list[dict[str, torch.Tensor]]: the weights before training, then after each epoch.
    """
    config = write_config(
        folder,
        **{
            "trainer.max_epochs": 3,
            "model.init_args.backbone": {
                "class_path": "BertDNATiny",
                "init_args": {"num_layers": 2},
            },
            "trainer.callbacks": [callback, EVERY_EPOCH],
        },
    )
    assert main(["fit", "--config", str(config)]) == 0
    (checkpoints,) = {p.parent for p in (folder / "runs").rglob("epoch=2.ckpt")}
    # The weights before training: the tiny backbone is seeded, so build it again.
    task = SequenceClassification(
        functools.partial(BertDNATiny, num_layers=2), LinearMeanPoolAdapter, n_classes=2
    )
    task.configure_model()
    start = {k: v.clone() for k, v in task.state_dict().items()}
    return [start, *(_weights(checkpoints / f"epoch={e}.ckpt", start) for e in range(3))]


def _weights(path: Path, start: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A checkpoint's weights; frozen backbone weights are left out of it, as unchanged."""
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    return {**start, **{k: v for k, v in state.items() if k in start}}


def changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], part: str) -> bool:
    """Whether any weight whose name holds ``part`` differs between the two."""
    keys = [k for k in before if part in k]
    assert keys, part
    return any(not torch.equal(before[k], after[k]) for k in keys)


class StopAt(Callback):
    """A test callback that sends its own process a signal after a given training batch.

    ``SIGKILL`` stands for a crash or ``kill -9`` (nothing can be saved); ``SIGTERM`` for a
    scheduler stopping the job (mg saves ``last.ckpt`` and exits 143).

    Args:
        epoch (int): the epoch in which to stop.
        batch (int): the batch index after which to stop.
        signal_name (str): ``"SIGKILL"`` or ``"SIGTERM"``.
    """

    def __init__(self, epoch: int, batch: int, signal_name: str = "SIGKILL") -> None:
        self.epoch = epoch
        self.batch = batch
        self.signal_name = signal_name

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            os.kill(os.getpid(), getattr(signal, self.signal_name))
