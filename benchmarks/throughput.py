"""Throughput on variable-length proteins: mg against a plain loop and the Hugging Face Trainer.

Run: ``python benchmarks/throughput.py [--quick] [--plot docs/images/throughput.png]``
(the HF Trainer rows need ``accelerate``: ``uv sync --group bench``).

Every variant trains (or embeds) the same ESM-style model, built from a config with seeded
weights (``ESM2Tiny``: hidden 128, 2 layers, 4 heads by default), on the same shuffled
random proteins whose lengths follow a log-normal like real proteins' (median ~300, cut to
50-1000 residues), in the same process, one after another:

- ``plain loop``: the Hugging Face tokenizer (pad to the longest in the batch), the
  transformers model, a masked mean pool and a linear head, batches in shuffled order
  (train) or file order (predict). The baseline: every ratio is samples/s over its own.
- ``HF Trainer``: ``transformers.Trainer`` over pre-tokenized data with
  ``DataCollatorWithPadding``, with and without ``train_sampling_strategy="group_by_length"``.
- ``mg``: ``SequenceClassification`` (train) or ``Embed`` (predict) with
  ``LinearMeanPoolAdapter`` on ``SequenceData`` reading a CSV, fitted by a Lightning
  ``Trainer``: its defaults, then its batching options (``group_by_length``,
  ``max_tokens``, inference in file order).

Each trains with AdamW at its own default: the plain loop with torch's default kernel, the
HF Trainer and mg with torch's fused one (``adamw_torch_fused``; `mg.core.optimizers`).

A variant's time is one epoch over the same sequences, from the start of its first batch
to the end of its last (data loading, tokenizing and padding included; setup, file
reading and checks not). "padded / real" is the padded tokens the model ran over per real
token, counted from the attention masks of the batches it saw. A short untimed epoch of
each variant runs first, so one-time costs (lazy imports, first-use set-up) are not timed.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import platform
import random
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import transformers
from torch import Tensor, nn

import mg.tasks
from mg.adapters import LinearMeanPoolAdapter
from mg.backbones import ESM2Tiny
from mg.tasks import Embed, SequenceClassification, SequenceData

RESIDUES = "ACDEFGHIKLMNPQRSTVWY"


@dataclass(frozen=True)
class Settings:
    """What every variant runs.

    Attributes:
        train_rows (int): sequences in the training epoch.
        predict_rows (int): sequences embedded.
        batch_size (int): sequences per batch (a cap on them with ``max_tokens``).
        max_tokens (int): mg's token budget per batch in its ``max_tokens`` rows.
        hidden_size (int): the model's hidden size.
        num_layers (int): encoder layers.
        num_heads (int): attention heads.
        equal_length (int): the length of every sequence in the equal-length predict rows.
        repeats (int): timed rounds of each variant (the median is reported).
        seed (int): seed of the data, the weights and the order.
    """

    train_rows: int
    predict_rows: int
    batch_size: int
    max_tokens: int
    hidden_size: int
    num_layers: int
    num_heads: int
    equal_length: int
    repeats: int
    seed: int


@dataclass
class Result:
    """One variant's numbers.

    Attributes:
        seconds (list[float]): one epoch's wall time per round.
        padded (int): padded tokens the model ran over in one epoch.
        real (int): real (attended) tokens in that epoch.
    """

    seconds: list[float]
    padded: int
    real: int

    def samples_per_s(self, rows: int) -> float:
        """The median rate over the rounds."""
        return rows / statistics.median(self.seconds)


# --------------------------------------------------------------------------- data
def protein_lengths(count: int, rng: random.Random, equal: int | None = None) -> list[int]:
    """Draw protein-like lengths: log-normal around 300 residues, kept within 50-1000."""
    if equal is not None:
        return [equal] * count
    return [min(1000, max(50, round(rng.lognormvariate(math.log(300), 0.6)))) for _ in range(count)]


def write_proteins(path: Path, lengths: list[int], rng: random.Random) -> list[tuple[str, int]]:
    """Write random proteins (a label: whether they are K-rich) to a CSV and return them."""
    rows = []
    for length in lengths:
        sequence = "".join(rng.choices(RESIDUES, k=length))
        rows.append((sequence, int(sequence.count("K") / length > 0.05)))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "sequence", "label"])
        writer.writerows((f"p{i}", s, y) for i, (s, y) in enumerate(rows))
    return rows


# --------------------------------------------------------------------------- the model
def backbone_fn(settings: Settings) -> Callable[..., ESM2Tiny]:
    """The mg backbone every variant takes its transformers model and tokenizer from."""
    return partial(
        ESM2Tiny,
        hidden_size=settings.hidden_size,
        num_layers=settings.num_layers,
        num_heads=settings.num_heads,
        max_length=1024,
        seed=settings.seed,
    )


class PooledClassifier(nn.Module):
    """The plain model: transformers encoder, masked mean pool, linear head.

    Args:
        encoder (nn.Module): the transformers model.
        hidden_size (int): its hidden size.
    """

    def __init__(self, encoder: nn.Module, hidden_size: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(hidden_size, 2)

    def pooled(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Mean of the hidden states over the attended tokens."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1)

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, labels: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Logits, and the cross-entropy loss when labels are given (what the Trainer reads)."""
        logits = self.head(self.pooled(input_ids, attention_mask))
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = nn.functional.cross_entropy(logits, labels)
        return out


def plain_model(settings: Settings) -> tuple[PooledClassifier, Any]:
    """Build the plain model and its Hugging Face tokenizer from the mg backbone."""
    torch.manual_seed(settings.seed)
    backbone = backbone_fn(settings)()
    return PooledClassifier(backbone.encoder, settings.hidden_size), backbone.tokenizer


# --------------------------------------------------------------------------- variants
def plain_train(settings: Settings, rows: list[tuple[str, int]]) -> tuple[float, int, int]:
    """One shuffled training epoch of the plain loop: seconds, padded and real tokens."""
    model, tokenizer = plain_model(settings)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(settings.seed))
    padded = real = 0
    start = time.perf_counter()
    for first in range(0, len(rows), settings.batch_size):
        batch = [rows[i] for i in order[first : first + settings.batch_size].tolist()]
        tokens = tokenizer([s for s, _ in batch], padding=True, return_tensors="pt")
        labels = torch.tensor([y for _, y in batch])
        loss = model(tokens["input_ids"], tokens["attention_mask"], labels)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        padded += tokens["attention_mask"].numel()
        real += int(tokens["attention_mask"].sum())
    return time.perf_counter() - start, padded, real


@torch.no_grad()
def plain_predict(settings: Settings, rows: list[tuple[str, int]]) -> tuple[float, int, int]:
    """Embed every sequence in file order with the plain loop."""
    model, tokenizer = plain_model(settings)
    model.eval()
    padded = real = 0
    start = time.perf_counter()
    for first in range(0, len(rows), settings.batch_size):
        batch = [s for s, _ in rows[first : first + settings.batch_size]]
        tokens = tokenizer(batch, padding=True, return_tensors="pt")
        model.pooled(tokens["input_ids"], tokens["attention_mask"]).cpu()
        padded += tokens["attention_mask"].numel()
        real += int(tokens["attention_mask"].sum())
    return time.perf_counter() - start, padded, real


def hf_trainer_train(
    settings: Settings, rows: list[tuple[str, int]], strategy: str
) -> tuple[float, int, int]:
    """One epoch of ``transformers.Trainer`` with the given training sampling strategy."""
    from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

    model, tokenizer = plain_model(settings)
    data = [
        {**tokenizer(sequence), "labels": label}  # pre-tokenized, as Trainer users do
        for sequence, label in rows
    ]
    counts = [0, 0]
    pad = DataCollatorWithPadding(tokenizer)

    def collate(features: list[dict[str, Any]]) -> dict[str, Tensor]:
        batch = pad(features)
        counts[0] += batch["attention_mask"].numel()
        counts[1] += int(batch["attention_mask"].sum())
        return batch

    marks: dict[str, float] = {}

    class Clock(TrainerCallback):
        def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            marks["start"] = time.perf_counter()

        def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            marks["end"] = time.perf_counter()

    with tempfile.TemporaryDirectory() as output:
        arguments = TrainingArguments(
            output_dir=output,
            per_device_train_batch_size=settings.batch_size,
            num_train_epochs=1,
            learning_rate=1e-4,
            train_sampling_strategy=strategy,
            report_to=[],
            save_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
            use_cpu=not torch.cuda.is_available(),
            dataloader_num_workers=0,
            seed=settings.seed,
        )
        trainer = Trainer(
            model=model,
            args=arguments,
            train_dataset=data,  # type: ignore[arg-type]
            data_collator=collate,
            callbacks=[Clock()],
        )
        trainer.train()
    return marks["end"] - marks["start"], counts[0], counts[1]


class EpochClock(pl.Callback):
    """Time the train or predict epoch and count the tokens of its batches."""

    def __init__(self) -> None:
        self.start = self.end = 0.0
        self.padded = self.real = 0

    def _start(self, *args: Any) -> None:
        self.start = time.perf_counter()

    def _end(self, *args: Any) -> None:
        self.end = time.perf_counter()

    def _count(self, batch: dict[str, Any]) -> None:
        mask = batch["attention_mask"]
        self.padded += mask.numel()
        self.real += int(mask.sum())

    on_train_epoch_start = on_predict_epoch_start = _start
    on_train_epoch_end = on_predict_epoch_end = _end

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, *args: Any) -> None:
        """Count the batch's tokens."""
        self._count(batch)

    def on_predict_batch_start(self, trainer: Any, module: Any, batch: Any, *args: Any) -> None:
        """Count the batch's tokens."""
        self._count(batch)


def _trainer(clock: EpochClock) -> pl.Trainer:
    return pl.Trainer(
        accelerator="auto",
        devices=1,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[clock],
    )


def mg_train(settings: Settings, path: Path, options: dict[str, Any]) -> tuple[float, int, int]:
    """One mg training epoch with the given SequenceData options."""
    pl.seed_everything(settings.seed, verbose=False)
    data = SequenceData(
        train_file=str(path),
        label_columns="label",
        batch_size=settings.batch_size,
        seed=settings.seed,
        **options,
    )
    task = SequenceClassification(
        backbone=backbone_fn(settings),
        adapter=LinearMeanPoolAdapter,
        n_classes=2,
        optimizer=partial(torch.optim.AdamW, lr=1e-4),
    )
    clock = EpochClock()
    _trainer(clock).fit(task, datamodule=data)
    return clock.end - clock.start, clock.padded, clock.real


def mg_predict(settings: Settings, path: Path, options: dict[str, Any]) -> tuple[float, int, int]:
    """Embed every sequence with mg's Embed task and the given SequenceData options."""
    data = SequenceData(predict_file=str(path), batch_size=settings.batch_size, **options)
    task = Embed(backbone=backbone_fn(settings), pooling="mean")
    clock = EpochClock()
    _trainer(clock).predict(task, datamodule=data, return_predictions=False)
    return clock.end - clock.start, clock.padded, clock.real


# --------------------------------------------------------------------------- running
Variant = tuple[str, Callable[[], tuple[float, int, int]]]


def run(variants: list[Variant], repeats: int) -> dict[str, Result]:
    """Run each variant once untimed (on its own short data), then ``repeats`` timed rounds."""
    results: dict[str, Result] = {}
    for _ in range(repeats):
        for name, call in variants:
            seconds, padded, real = call()
            entry = results.setdefault(name, Result([], padded, real))
            entry.seconds.append(seconds)
            print(f"  {name}: {seconds:.2f} s", flush=True)
    return results


def table(title: str, results: dict[str, Result], rows: int, baseline: str) -> str:
    """Render one Markdown table, rates relative to ``baseline``."""
    base = results[baseline].samples_per_s(rows)
    lines = [
        f"### {title}",
        "",
        "| variant | samples/s | vs plain loop | padded / real tokens |",
        "|---|---:|---:|---:|",
    ]
    for name, result in results.items():
        rate = result.samples_per_s(rows)
        lines.append(
            f"| {name} | {rate:.1f} | {rate / base:.2f}x | {result.padded / result.real:.2f} |"
        )
    return "\n".join(lines)


def plot(path: Path, sections: list[tuple[str, dict[str, Result], int, str]]) -> None:
    """Draw each section's samples/s relative to its plain loop as horizontal bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height = 1.2 + 0.45 * sum(len(section[1]) for section in sections)
    figure = plt.figure(figsize=(7.5, height))
    axes = figure.subplots(len(sections), 1, squeeze=False)[:, 0]
    for axis, (title, results, rows, baseline) in zip(axes, sections, strict=True):
        base = results[baseline].samples_per_s(rows)
        names = list(results)[::-1]
        ratios = [results[n].samples_per_s(rows) / base for n in names]
        colors = ["#4c72b0" if n.startswith("mg") else "#999999" for n in names]
        axis.barh(names, ratios, color=colors)
        axis.axvline(1.0, color="black", linewidth=0.8)
        for y, ratio in enumerate(ratios):
            axis.text(ratio, y, f" {ratio:.2f}x", va="center", fontsize=8)
        axis.set_title(title, fontsize=10, loc="left")
        axis.set_xlim(0, max(ratios) * 1.2)
    figure.axes[-1].set_xlabel("samples/s relative to the plain loop (higher is faster)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    print(f"Wrote {path}")


def main() -> None:
    """Parse the options, run every variant and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run, to check the script")
    parser.add_argument("--train-rows", type=int, default=384)
    parser.add_argument("--predict-rows", type=int, default=768)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=6000)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--equal-length", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-trainer", action="store_true", help="skip the HF Trainer rows")
    parser.add_argument("--plot", type=Path, help="write a PNG of the ratios here")
    args = parser.parse_args()
    if args.quick:
        args.train_rows, args.predict_rows, args.hidden_size = 48, 64, 64
    settings = Settings(
        args.train_rows,
        args.predict_rows,
        args.batch_size,
        args.max_tokens,
        args.hidden_size,
        args.num_layers,
        args.num_heads,
        args.equal_length,
        args.repeats,
        args.seed,
    )
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, lightning "
        f"{pl.__version__}, transformers {transformers.__version__}, mg-tasks "
        f"{getattr(mg.tasks, '__version__', '?')}, {platform.machine()}, "
        f"{'cuda' if torch.cuda.is_available() else 'cpu'}, {args.threads} threads"
    )
    print(settings)

    rng = random.Random(settings.seed)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        train_path, predict_path, equal_path, warm_path = (
            root / f"{n}.csv" for n in ("train", "predict", "equal", "warm")
        )
        train = write_proteins(train_path, protein_lengths(settings.train_rows, rng), rng)
        predict = write_proteins(predict_path, protein_lengths(settings.predict_rows, rng), rng)
        equal_lengths = protein_lengths(settings.predict_rows, rng, settings.equal_length)
        equal = write_proteins(equal_path, equal_lengths, rng)
        warm = write_proteins(warm_path, protein_lengths(2 * settings.batch_size, rng), rng)

        budget = {"max_tokens": settings.max_tokens}
        train_variants: list[Variant] = [
            ("plain loop", lambda: plain_train(settings, train)),
            ("mg (default)", lambda: mg_train(settings, train_path, {})),
            ("mg, group_by_length", lambda: mg_train(settings, train_path, GROUPED)),
            (
                f"mg, max_tokens={settings.max_tokens}",
                lambda: mg_train(settings, train_path, budget),
            ),
        ]
        if not args.no_trainer:
            train_variants[1:1] = [
                ("HF Trainer", lambda: hf_trainer_train(settings, train, "random")),
                (
                    "HF Trainer, group_by_length",
                    lambda: hf_trainer_train(settings, train, "group_by_length"),
                ),
            ]
        predict_variants: list[Variant] = [
            ("plain loop", lambda: plain_predict(settings, predict)),
            ("mg (default: sorted)", lambda: mg_predict(settings, predict_path, {})),
            ("mg, file order", lambda: mg_predict(settings, predict_path, FILE_ORDER)),
            (
                f"mg, max_tokens={settings.max_tokens}",
                lambda: mg_predict(settings, predict_path, budget),
            ),
        ]
        equal_variants: list[Variant] = [
            ("plain loop", lambda: plain_predict(settings, equal)),
            ("mg (default)", lambda: mg_predict(settings, equal_path, {})),
        ]

        print("Warm-up (untimed)")
        plain_train(settings, warm)
        plain_predict(settings, warm)
        mg_train(settings, warm_path, {})
        mg_predict(settings, warm_path, {})
        if not args.no_trainer:
            hf_trainer_train(settings, warm, "random")

        sections = []
        for title, variants, rows in (
            (f"Train: one epoch of {settings.train_rows} proteins", train_variants, len(train)),
            (f"Predict (Embed): {settings.predict_rows} proteins", predict_variants, len(predict)),
            (
                f"Predict (Embed): {settings.predict_rows} proteins, all "
                f"{settings.equal_length} residues long",
                equal_variants,
                len(equal),
            ),
        ):
            print(title)
            sections.append((title, run(variants, settings.repeats), rows, "plain loop"))
    print()
    for section in sections:
        print(table(*section))
        print()
    if args.plot is not None:
        plot(args.plot, sections)


GROUPED: dict[str, Any] = {"group_by_length": True}
"""The SequenceData option that groups training batches by length."""

FILE_ORDER: dict[str, Any] = {"inference_order": "file"}
"""The SequenceData option that batches evaluation and prediction in file order."""

if __name__ == "__main__":
    main()
