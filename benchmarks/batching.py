"""Padding waste of each batching scheme, and sorted prediction against a plain HF loop.

Run: ``python benchmarks/batching.py [--quick] [--device cpu|cuda] [--sequences N]
[--batch-size B] [--max-tokens T]``

Part 1, padding (no model): for sequence lengths drawn at random between 50 and 1000
residues (shuffled), each scheme's batches are built by mg's samplers and their padding
waste is printed: padded positions that hold no residue, per real residue (0.00: none).
Schemes: file order cut every ``batch_size`` items; sorted inference (windows of
``sort_window`` items, longest first); sorted inference with a token budget; training
grouped by length (pools of 50 batches); training with a token budget.

Part 2, speed: an ``Embed`` (mean pool) over a small seeded BERT (``BertDNATiny`` at
hidden 128, 4 layers) predicts every sequence of a file, through ``Trainer.predict`` with
the prediction writer writing ``.npy`` in file order, against a plain loop over the same
Hugging Face model and tokenizer in file order (tokenize, pad, forward, masked mean,
``.cpu()``), both in the same run. Twice: on shuffled variable lengths (where sorting
pays) and on equal lengths (where it can only cost). Neither time counts building the
model: mg's runs from the predict epoch's start to the writer's merged output (reading
the file, tokenizing in ``collate``, forward, writing), the plain loop's from its first
batch to its last (the file read before). The ratio is the plain loop's
seconds over mg's: above 1.0 mg is faster. Each variant runs once untimed first, then
``--repeats`` times; the median is shown.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import warnings
from functools import partial
from pathlib import Path

import torch

from mg.tasks.data.samplers import (
    EpochBatchSampler,
    LengthGroupedBatchSampler,
    padding_waste,
)


def _lengths(n: int, seed: int, equal: bool = False) -> list[int]:
    rng = random.Random(seed)
    return [500 if equal else rng.randrange(50, 1001) for _ in range(n)]


def padding_table(n: int, batch_size: int, max_tokens: int) -> list[tuple[str, float, int]]:
    """Each scheme's padding waste and batch count on shuffled lengths of 50 to 1000."""
    lengths = _lengths(n, 0)
    items = range(n)
    schemes = {
        "file order": EpochBatchSampler(items, batch_size, shuffle=False),  # type: ignore[arg-type]
        "sorted inference": LengthGroupedBatchSampler(
            items, batch_size, lengths=lengths, shuffle=False
        ),  # type: ignore[arg-type]
        f"sorted, max_tokens={max_tokens}": LengthGroupedBatchSampler(
            items, 10 * batch_size, lengths=lengths, shuffle=False, max_tokens=max_tokens
        ),  # type: ignore[arg-type]
        "training, group_by_length": LengthGroupedBatchSampler(
            items, batch_size, lengths=lengths, seed=1
        ),  # type: ignore[arg-type]
        f"training, max_tokens={max_tokens}": LengthGroupedBatchSampler(
            items, 10 * batch_size, lengths=lengths, seed=1, max_tokens=max_tokens
        ),  # type: ignore[arg-type]
    }
    return [(name, padding_waste(list(s), lengths), len(s)) for name, s in schemes.items()]


def _write(path: Path, lengths: list[int]) -> None:
    rng = random.Random(1)
    lines = ["id,sequence"]
    lines += [f"s{i},{''.join(rng.choices('ACGT', k=n))}" for i, n in enumerate(lengths)]
    path.write_text("\n".join(lines) + "\n")


def _backbone() -> partial:
    from mg.backbones import BertDNATiny

    return partial(BertDNATiny, max_length=1024, hidden_size=128, num_layers=4, num_heads=4)


def run_mg(path: Path, out: Path, batch_size: int, device: str, order: str) -> float:
    """Seconds of ``Trainer.predict``'s loop for an Embed, the writer writing .npy."""
    import lightning.pytorch as pl

    from mg.cli.writer import PredictionWriter
    from mg.tasks import Embed
    from mg.tasks.data import SequenceData

    class Clock(pl.Callback):
        """From the first batch's fetch to the merged output: model building left out."""

        start = end = 0.0

        def on_predict_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self.start = time.perf_counter()

        def on_predict_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self.end = time.perf_counter()

    data = SequenceData(predict_file=str(path), batch_size=batch_size, inference_order=order)
    clock = Clock()
    trainer = pl.Trainer(
        accelerator=device,
        devices=1,
        logger=False,
        callbacks=[PredictionWriter(str(out), overwrite=True), clock],  # clock after the merge
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    task = Embed(_backbone(), pooling="mean")
    with contextlib.redirect_stdout(io.StringIO()):  # the writer's "Wrote N predictions"
        trainer.predict(task, datamodule=data, return_predictions=False)
    return clock.end - clock.start


def run_plain(path: Path, batch_size: int, device: str) -> float:
    """Seconds for a plain loop over the Hugging Face model and tokenizer, in file order."""
    import csv

    backbone = _backbone()()
    model = backbone.encoder.to(device).eval()
    tokenizer = backbone.tokenizer
    split = backbone.sequence_tokenizer.split_characters
    with path.open() as handle:
        sequences = [row["sequence"] for row in csv.DictReader(handle)]
    start = time.perf_counter()
    outputs = []
    with torch.inference_mode():
        for first in range(0, len(sequences), batch_size):
            batch = sequences[first : first + batch_size]
            texts = [list(s) for s in batch] if split else batch
            encoded = tokenizer(
                texts,
                is_split_into_words=split,
                padding=True,
                truncation=True,
                max_length=backbone.max_length,
                return_tensors="pt",
            )
            mask = encoded["attention_mask"].to(device)
            hidden = model(input_ids=encoded["input_ids"].to(device), attention_mask=mask)
            weights = mask.unsqueeze(-1).to(hidden.last_hidden_state.dtype)
            pooled = (hidden.last_hidden_state * weights).sum(1) / weights.sum(1)
            outputs.append(pooled.cpu())
    return time.perf_counter() - start


def speed_rows(args: argparse.Namespace, folder: Path) -> list[tuple[str, str, float, float]]:
    rows = []
    for label, equal in (("shuffled 50-1000", False), ("equal 500", True)):
        path = folder / f"{'equal' if equal else 'mixed'}.csv"
        _write(path, _lengths(args.predict_sequences, 2, equal))
        runs = {
            "plain HF loop": lambda p=path: run_plain(p, args.batch_size, args.device),
            "mg, sorted": lambda p=path: run_mg(
                p, folder / "e.npy", args.batch_size, args.device, "sorted"
            ),
            "mg, file order": lambda p=path: run_mg(
                p, folder / "e.npy", args.batch_size, args.device, "file"
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for run in runs.values():
            run()  # untimed: first-use costs
        for _ in range(args.repeats):
            for name, run in runs.items():
                times[name].append(run())
        plain = statistics.median(times["plain HF loop"])
        for name, values in times.items():
            seconds = statistics.median(values)
            rows.append((label, name, seconds, plain / seconds))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--sequences", type=int, default=20000, help="lengths for part 1")
    parser.add_argument("--predict-sequences", type=int, default=512, help="for part 2")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=16384)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.quick:
        args.sequences, args.predict_sequences, args.repeats = 4000, 96, 1
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    print(
        f"python {sys.version.split()[0]}, torch {torch.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, threads {torch.get_num_threads()}, device {args.device}"
    )
    if args.device == "cuda":
        print(f"GPU: {torch.cuda.get_device_name()}")

    print(
        f"\n### Padding waste, {args.sequences} shuffled lengths 50-1000, batch {args.batch_size}\n"
    )
    print("| scheme | padding per residue | batches |\n|---|---|---|")
    for name, waste, count in padding_table(args.sequences, args.batch_size, args.max_tokens):
        print(f"| {name} | {waste:.2f} | {count} |")

    print(f"\n### Embed predict, {args.predict_sequences} sequences, batch {args.batch_size}\n")
    print("| lengths | variant | seconds | plain / variant |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for label, name, seconds, ratio in speed_rows(args, Path(folder)):
            print(f"| {label} | {name} | {seconds:.2f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
