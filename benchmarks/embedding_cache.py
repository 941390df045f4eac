"""Epoch time with and without the embedding cache of a frozen backbone.

Run: ``python benchmarks/embedding_cache.py [--quick] [--device cpu|cuda] [--epochs N]
[--sequences N] [--hidden-size H] [--num-layers L] [--threads T]``

The same ``SequenceRegression`` (a frozen ``ESM2Tiny`` of ``--hidden-size`` and
``--num-layers``, a ``LinearMeanPoolAdapter`` head) is fitted twice in the same process on
the same random protein sequences of variable length (``--min-length`` to
``--max-length`` residues), with the same seed:

- ``no cache``: the backbone runs on every batch of every epoch.
- ``cache``: ``cache_embeddings=True`` with a fresh temporary ``cache_dir``: epoch 1 runs
  the backbone and writes every item's hidden states to disk; epochs 2+ read them back.

Each epoch is timed from its start to its end (a Lightning callback; no validation, no
logger, no checkpoints), so tokenizing in ``collate``, reading the cache and the adapter's
forward and backward all count. The table gives every epoch's seconds, then the ratios
measured in this run: ``no cache / cache epochs 2+`` (the speed-up; goal >= 5x) and
``cache epoch 1 / no cache`` (the cost of writing the cache). The one-time fingerprint of
the backbone's weights (hashed when the cache opens) is timed on its own. The last lines
check that both runs end with the same adapter weights (largest absolute difference).
"""

from __future__ import annotations

import argparse
import logging
import platform
import random
import statistics
import tempfile
import time
import warnings
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from mg.adapters import LinearMeanPoolAdapter
from mg.backbones import ESM2Tiny
from mg.core.embedding_cache import backbone_fingerprint
from mg.core.testing import InMemoryData
from mg.tasks import SequenceRegression

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"


class EpochTimer(pl.Callback):
    """Record the wall-clock seconds of every training epoch."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.seconds: list[float] = []
        self._start = 0.0

    def _sync(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._sync()
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._sync()
        self.seconds.append(time.perf_counter() - self._start)


def samples(n: int, min_length: int, max_length: int, seed: int = 0) -> list[dict[str, Any]]:
    """Random proteins of variable length; the label is their share of hydrophobic residues."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        sequence = "".join(rng.choices(AMINO_ACIDS, k=rng.randint(min_length, max_length)))
        label = sum(c in "AILMFVW" for c in sequence) / len(sequence)
        rows.append({"ids": f"p{i}", "sequences": sequence, "labels": label})
    return rows


def fit(args: argparse.Namespace, rows: list[dict[str, Any]], cache_dir: str | None) -> Any:
    """Fit once; return the epoch seconds and the trained task."""
    pl.seed_everything(0, verbose=False)
    backbone = partial(
        ESM2Tiny,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        num_heads=args.num_heads,
        max_length=args.max_length + 2,
        finetune="frozen",
    )
    task = SequenceRegression(
        backbone=backbone,
        adapter=LinearMeanPoolAdapter,
        optimizer=partial(torch.optim.AdamW, lr=1e-3),
        cache_embeddings=cache_dir is not None,
        cache_dir=cache_dir,
    )
    timer = EpochTimer(args.device)
    trainer = pl.Trainer(
        accelerator=args.device,
        devices=1,
        max_epochs=args.epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[timer],
    )
    trainer.fit(task, datamodule=InMemoryData(train=rows, batch_size=args.batch_size))
    return timer.seconds, task


def main() -> None:
    """Parse options, run both variants, print the environment and a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run for a smoke test")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per fit (>= 2)")
    parser.add_argument("--sequences", type=int, default=512, help="training sequences")
    parser.add_argument("--min-length", type=int, default=50, help="shortest sequence")
    parser.add_argument("--max-length", type=int, default=400, help="longest sequence")
    parser.add_argument("--hidden-size", type=int, default=192)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.quick:
        args.sequences, args.epochs, args.max_length, args.hidden_size = 64, 3, 200, 128
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the cache pays off from epoch 2.")
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)

    print(f"python {platform.python_version()}, torch {version('torch')}, ", end="")
    print(f"lightning {version('lightning')}, {platform.processor() or platform.machine()}, ")
    print(f"device {args.device}, torch threads {torch.get_num_threads()}")
    print(
        f"ESM2Tiny hidden {args.hidden_size}, {args.num_layers} layers, frozen; "
        f"{args.sequences} sequences of {args.min_length}-{args.max_length} residues, "
        f"batch {args.batch_size}, {args.epochs} epochs\n"
    )
    rows = samples(args.sequences, args.min_length, args.max_length)

    plain_seconds, plain = fit(args, rows, None)
    with tempfile.TemporaryDirectory() as folder:
        cached_seconds, cached = fit(args, rows, folder)
        stored = sum(p.stat().st_size for p in Path(folder).rglob("*"))
    start = time.perf_counter()
    backbone_fingerprint(cached.backbone, "32-true")
    fingerprint_seconds = time.perf_counter() - start

    print("| run | " + " | ".join(f"epoch {i + 1} s" for i in range(args.epochs)) + " |")
    print("|---|" + "---|" * args.epochs)
    for name, seconds in (("no cache", plain_seconds), ("cache", cached_seconds)):
        print(f"| {name} | " + " | ".join(f"{s:.2f}" for s in seconds) + " |")
    plain_epoch = statistics.median(plain_seconds)
    later = statistics.median(cached_seconds[1:])
    print()
    print("| ratio | value |")
    print("|---|---|")
    print(f"| no cache / cache epochs 2+ (speed-up) | {plain_epoch / later:.1f}x |")
    print(f"| cache epoch 1 / no cache (cost of writing) | {cached_seconds[0] / plain_epoch:.2f} |")
    print(f"| fingerprint of the backbone (one-time) | {fingerprint_seconds:.3f} s |")
    print(f"| cache on disk | {stored / 2**20:.1f} MiB |")
    difference = max(
        (a - b).abs().max().item()
        for a, b in zip(
            plain.adapter.state_dict().values(), cached.adapter.state_dict().values(), strict=True
        )
    )
    print(f"\nlargest adapter weight difference, cache vs no cache: {difference:.2e}")


if __name__ == "__main__":
    main()
