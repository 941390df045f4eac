"""Training-step overhead of mg (Lightning + task) against plain PyTorch and a bare HF loop.

Run: ``python benchmarks/training_overhead.py [--device cpu|cuda] [--steps N] [--batch-size B]
[--backbone BertDNATiny|NucleotideTransformerTiny] [--threads T] [--profile]``

Five ways to train the same classifier on the same data, in the same run:

- ``mg``: ``SequenceClassification(backbone=partial(Backbone, ...), adapter=LinearMeanPoolAdapter)``
  fitted by a Lightning ``Trainer`` (no logger, no checkpoints, no progress bar) on
  ``SequenceData`` reading the shipped ``promoters_train.csv``. Collate (tokenizing) runs in
  the main process, as with ``num_workers=0``; training metrics are updated every step, as
  the task always does.
- ``lightning``: a bare ``LightningModule`` around the very modules the task builds (forward,
  cross-entropy, AdamW built as mg builds it; nothing logged), fitted by the same
  ``Trainer`` on a plain ``DataLoader`` whose collate tokenizes with ``backbone.batch``. It
  separates Lightning's own cost from mg's: ``mg / lightning`` is what the task and data
  module add.
- ``plain``: a hand-written PyTorch loop over the very modules the task builds (the task's
  ``configure_model()``, then ``task.backbone`` and ``task.adapter``): tokenize each batch
  with ``backbone.tokenize``, forward, cross-entropy, backward, ``AdamW`` step, with
  torch's default AdamW kernel, as such a loop is usually written.
- ``plain_fused``: the same loop with AdamW built as mg builds it (`mg.core.optimizers`:
  torch's fused kernel where it has one, as on a CPU with torch >= 2.4). ``mg /
  plain_fused`` is mg's and Lightning's cost alone; ``plain_fused / plain`` is what the
  fused kernel saves.
- ``hf``: the underlying transformers model (``backbone.encoder``) and its Hugging Face
  tokenizer called directly, a masked mean pool and an ``nn.Linear`` head, in the same loop
  (torch's default AdamW kernel).

Every variant starts from the same seeded weights, uses AdamW with the same learning rate,
the same samples, batch size and padded shapes (all promoters are 40-mers), and is timed
over ``--steps`` optimizer steps after ``--warmup`` steps, from the end of one step to the
end of another, so loading the next batch and tokenizing it are part of a step. A short
untimed round of each variant comes first, so one-time costs (lazy imports, first-use
set-up) land on no variant's numbers. Rounds are then repeated (``--repeats``, the
variants' order rotated each round): steps/s is the median over rounds, and each ratio the
median of the per-round ratios, which steadies the numbers on a busy machine.

Memory: on CUDA, ``torch.cuda.max_memory_allocated`` above what was allocated when the
variant started (weights, optimizer state and activations); exact. On CPU, the peak
resident set size above the one at the variant's start, read from ``/proc/self/statm``
every few milliseconds (the largest over the timed rounds). It counts Python objects as
well as tensors, but memory that an earlier variant freed and the allocator kept is reused
without showing, so read it as a rough indicator only. The untimed first round prints
one-time costs, the process's own (first forward and backward pass) on the first variant.

How to read the ratios: ``mg / plain`` is mg's steps/s over the plain loop's; 1.0 means no
overhead, 0.5 means mg takes twice as long per step. The ``mg +ms`` column is the same
overhead as a fixed cost per step: it stays about constant as the model grows, so the
ratio approaches 1 for real model sizes. The training file has 24 batches an epoch, so
mg's work at each epoch's end (computing and logging the epoch's loss and metrics, a few
ms) counts once every 24 steps here, far more often than on a real data set.
``plain / hf`` isolates mg's backbone wrapper (alphabet check, bool masks, special-token
mask) from Lightning and the task. The mean
training loss of the timed steps is shown as a check that the variants do the same work.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import logging
import os
import platform
import pstats
import statistics
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from importlib.metadata import version
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from mg.adapters import LinearMeanPoolAdapter
from mg.backbones import BertDNATiny, NucleotideTransformerTiny, TransformersBackbone
from mg.core.optimizers import build_optimizer
from mg.tasks import SequenceClassification
from mg.tasks.data import SequenceData, example_path

Sample = dict[str, Any]
BACKBONES: dict[str, type[TransformersBackbone]] = {
    "BertDNATiny": BertDNATiny,
    "NucleotideTransformerTiny": NucleotideTransformerTiny,
}
VARIANTS = ("mg", "lightning", "plain", "plain_fused", "hf")
LABELS = {
    "mg": "mg (Lightning + task)",
    "lightning": "Lightning, bare module",
    "plain": "plain PyTorch, same modules",
    "plain_fused": "plain, mg's optimizer",
    "hf": "HF model + linear head",
}
TRAIN_FILE = "promoters_train.csv"


@dataclass(frozen=True)
class Settings:
    """What every variant trains, and for how long.

    Attributes:
        device (torch.device): where the model trains.
        backbone (str): a key of `BACKBONES`.
        hidden_size (int): the backbone's hidden size.
        num_layers (int): the backbone's encoder layers.
        num_heads (int): the backbone's attention heads.
        batch_size (int): samples per step.
        steps (int): timed optimizer steps.
        warmup (int): untimed steps before them.
        lr (float): AdamW learning rate.
        seed (int): seed of the weights, the data order and dropout.
    """

    device: torch.device
    backbone: str
    hidden_size: int
    num_layers: int
    num_heads: int
    batch_size: int
    steps: int
    warmup: int
    lr: float
    seed: int


@dataclass
class RoundResult:
    """One variant's numbers from one round.

    Attributes:
        steps_per_s (float): timed steps divided by their wall time.
        memory_mib (float | None): peak memory above the start (see the module docstring).
        mean_loss (float): mean training loss over the timed steps (a sanity check that
            the variants do the same work).
    """

    steps_per_s: float
    memory_mib: float | None
    mean_loss: float


@dataclass
class Summary:
    """A variant's rounds, summarised."""

    rounds: list[RoundResult] = field(default_factory=list)

    @property
    def steps_per_s(self) -> float:
        """The median steps/s over the rounds."""
        return statistics.median(r.steps_per_s for r in self.rounds)

    @property
    def spread(self) -> tuple[float, float]:
        """The slowest and fastest rounds' steps/s."""
        speeds = [r.steps_per_s for r in self.rounds]
        return min(speeds), max(speeds)

    @property
    def memory_mib(self) -> float | None:
        """The largest peak memory over the timed rounds, or None when it was not measured."""
        values = [r.memory_mib for r in self.rounds if r.memory_mib is not None]
        return max(values) if values else None

    @property
    def mean_loss(self) -> float:
        """The mean of the rounds' mean losses."""
        return statistics.fmean(r.mean_loss for r in self.rounds)


# --------------------------------------------------------------------------- memory
class RssSampler(threading.Thread):
    """Sample this process's resident set size in the background and keep the peak.

    Args:
        interval_s (float): seconds between samples.
    """

    def __init__(self, interval_s: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.interval_s = interval_s
        self.page_size = os.sysconf("SC_PAGE_SIZE")
        self.start_bytes = self.read()
        self.peak_bytes = self.start_bytes
        self._stop_event = threading.Event()

    def read(self) -> int:
        """Return the resident set size in bytes."""
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * self.page_size

    def run(self) -> None:
        """Sample until `stop` is called."""
        while not self._stop_event.wait(self.interval_s):
            self.peak_bytes = max(self.peak_bytes, self.read())

    def stop(self) -> float:
        """Stop sampling and return the peak growth in MiB."""
        self._stop_event.set()
        self.join()
        self.peak_bytes = max(self.peak_bytes, self.read())
        return (self.peak_bytes - self.start_bytes) / 2**20


def rss_available() -> bool:
    """Whether ``/proc/self/statm`` can be read (Linux)."""
    return os.path.exists("/proc/self/statm")


@contextlib.contextmanager
def peak_memory(device: torch.device) -> Iterator[list[float | None]]:
    """Yield a one-item list that holds the peak memory in MiB (or None) once the block ends."""
    result: list[float | None] = [None]
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        yield result
        torch.cuda.synchronize(device)
        result[0] = (torch.cuda.max_memory_allocated(device) - before) / 2**20
    elif rss_available():
        sampler = RssSampler()
        sampler.start()
        try:
            yield result
        finally:
            result[0] = sampler.stop()
    else:
        yield result


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work, so a clock reading covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------- building
def make_data(settings: Settings) -> SequenceData:
    """Return the data module over the shipped promoter training file."""
    return SequenceData(
        train_file=str(example_path(TRAIN_FILE)),
        label_columns="label",
        label_type="class",  # the plain loops read the data without a task to say it
        batch_size=settings.batch_size,
        seed=settings.seed,
    )


def make_task(settings: Settings) -> SequenceClassification:
    """Return the (unbuilt) mg task every variant takes its modules from."""
    backbone = partial(
        BACKBONES[settings.backbone],
        hidden_size=settings.hidden_size,
        num_layers=settings.num_layers,
        num_heads=settings.num_heads,
        seed=settings.seed,
    )
    return SequenceClassification(
        backbone=backbone,
        adapter=LinearMeanPoolAdapter,
        n_classes=2,
        optimizer=partial(torch.optim.AdamW, lr=settings.lr),
    )


def built_modules(settings: Settings) -> tuple[TransformersBackbone, nn.Module]:
    """Build the task's backbone and adapter the way Lightning would, and return them."""
    pl.seed_everything(settings.seed, verbose=False)
    task = make_task(settings)
    task.configure_model()
    assert isinstance(task.backbone, TransformersBackbone) and task.adapter is not None
    return task.backbone, task.adapter


def sample_batches(dataset: Dataset, settings: Settings) -> Iterator[list[Sample]]:
    """Yield shuffled lists of raw samples, epoch after epoch (what mg's loader batches)."""
    generator = torch.Generator().manual_seed(settings.seed)
    loader = DataLoader(
        dataset, batch_size=settings.batch_size, shuffle=True, collate_fn=list, generator=generator
    )
    while True:
        yield from loader


def trainable(*modules: nn.Module) -> list[nn.Parameter]:
    """Return the parameters that require gradients (what mg hands its optimizer)."""
    return [p for m in modules for p in m.parameters() if p.requires_grad]


def mg_optimizer(parameters: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """Return the AdamW mg's task builds over ``parameters`` (fused where that is safe)."""
    return build_optimizer(partial(torch.optim.AdamW, lr=lr), parameters)


# --------------------------------------------------------------------------- variants
class StepClock(pl.Callback):
    """Read the clock after the warm-up steps and after the last step; keep timed losses.

    Args:
        settings (Settings): warm-up and timed step counts, and the device.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.marks: dict[int, float] = {}
        self.losses: list[Tensor] = []

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Record the time at the step boundaries and the loss of each timed step."""
        step = trainer.global_step
        if step > self.settings.warmup:
            self.losses.append(outputs["loss"].detach())
        if step in (self.settings.warmup, self.settings.warmup + self.settings.steps):
            synchronize(self.settings.device)
            self.marks[step] = time.perf_counter()

    def result(self, memory_mib: float | None) -> RoundResult:
        """Return the timed steps' speed and mean loss."""
        first, last = self.settings.warmup, self.settings.warmup + self.settings.steps
        seconds = self.marks[last] - self.marks[first]
        loss = float(torch.stack(self.losses).mean())
        return RoundResult(self.settings.steps / seconds, memory_mib, loss)


def trainer_for(settings: Settings, clock: StepClock) -> pl.Trainer:
    """Return the Trainer every Lightning variant is fitted by: no logger, checkpoints or bar."""
    return pl.Trainer(
        accelerator=settings.device.type,
        devices=[settings.device.index] if settings.device.index is not None else 1,
        max_steps=settings.warmup + settings.steps,
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[clock],
    )


def run_mg(settings: Settings) -> RoundResult:
    """Fit the mg task with a Lightning Trainer and time its steps."""
    pl.seed_everything(settings.seed, verbose=False)
    clock = StepClock(settings)
    with peak_memory(settings.device) as memory:
        trainer_for(settings, clock).fit(make_task(settings), datamodule=make_data(settings))
    return clock.result(memory[0])


class BareModule(pl.LightningModule):
    """The least a LightningModule can be: the task's modules, cross-entropy and AdamW.

    Args:
        settings (Settings): the learning rate and what to build.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.lr = settings.lr
        self.backbone, self.adapter = built_modules(settings)

    def training_step(self, batch: tuple[Any, Tensor], batch_idx: int) -> Tensor:
        """Forward, then the loss (Lightning runs backward and the optimizer)."""
        tokens, labels = batch
        output = self.backbone(tokens.input_ids, tokens.attention_mask)
        return F.cross_entropy(
            self.adapter(output.last_hidden_state, output.attention_mask), labels
        )

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """AdamW over the trainable weights, as the task builds it (fused where mg fuses)."""
        return mg_optimizer(trainable(self.backbone, self.adapter), self.lr)


def run_lightning(settings: Settings) -> RoundResult:
    """Fit `BareModule` with the same Trainer as mg, on a plain DataLoader, and time it."""
    pl.seed_everything(settings.seed, verbose=False)
    module = BareModule(settings)
    backbone = module.backbone

    def collate(samples: list[Sample]) -> tuple[Any, Tensor]:
        return backbone.batch([s["sequences"] for s in samples]), labels_of(
            samples, torch.device("cpu")
        )

    loader = DataLoader(
        make_data(settings).dataset("train"),
        batch_size=settings.batch_size,
        shuffle=True,
        collate_fn=collate,
        generator=torch.Generator().manual_seed(settings.seed),
    )
    clock = StepClock(settings)
    with peak_memory(settings.device) as memory:
        trainer_for(settings, clock).fit(module, train_dataloaders=loader)
    return clock.result(memory[0])


StepFn = Callable[[list[Sample]], Tensor]


def timed_loop(settings: Settings, step: StepFn, batches: Iterator[list[Sample]]) -> RoundResult:
    """Run ``warmup + steps`` steps of a hand-written loop and time the last ``steps``.

    Args:
        settings (Settings): step counts and device.
        step (StepFn): trains on one list of samples and returns the detached loss.
        batches (Iterator[list[Sample]]): the samples of each step.
    """
    total = torch.zeros((), device=settings.device)
    start = 0.0
    for index in range(1, settings.warmup + settings.steps + 1):
        loss = step(next(batches))
        if index > settings.warmup:
            total += loss
        if index == settings.warmup:
            synchronize(settings.device)
            start = time.perf_counter()
    synchronize(settings.device)
    seconds = time.perf_counter() - start
    return RoundResult(settings.steps / seconds, None, float(total) / settings.steps)


def labels_of(samples: list[Sample], device: torch.device) -> Tensor:
    """Return the class indices of a list of samples."""
    return torch.tensor([int(s["labels"]) for s in samples], device=device)


def run_plain(settings: Settings, *, mg_kernel: bool = False) -> RoundResult:
    """Train the task's own backbone and adapter in a hand-written PyTorch loop.

    Args:
        settings (Settings): what to train, and for how long.
        mg_kernel (bool): build AdamW as mg does, not with torch's defaults.
    """
    with peak_memory(settings.device) as memory:
        backbone, adapter = built_modules(settings)
        backbone.to(settings.device).train()
        adapter.to(settings.device).train()
        weights = trainable(backbone, adapter)
        optimizer = (
            mg_optimizer(weights, settings.lr)
            if mg_kernel
            else torch.optim.AdamW(weights, lr=settings.lr)
        )
        dataset = make_data(settings).dataset("train")
        device = settings.device

        def step(samples: list[Sample]) -> Tensor:
            tokens = backbone.batch([s["sequences"] for s in samples])
            labels = labels_of(samples, device)
            output = backbone(tokens.input_ids.to(device), tokens.attention_mask.to(device))
            logits = adapter(output.last_hidden_state, output.attention_mask)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss.detach()

        result = timed_loop(settings, step, sample_batches(dataset, settings))
    result.memory_mib = memory[0]
    return result


def run_hf(settings: Settings) -> RoundResult:
    """Train the bare transformers encoder and a linear head, tokenizing with HF directly."""
    with peak_memory(settings.device) as memory:
        backbone, _ = built_modules(settings)
        pl.seed_everything(settings.seed, verbose=False)
        encoder = backbone.encoder.to(settings.device).train()
        # The same draw as the adapter's layer, so the head starts from the same weights.
        head = nn.Linear(backbone.get_embedding_size(), 2).to(settings.device)
        tokenizer = backbone.tokenizer
        split = backbone.sequence_tokenizer.split_characters
        max_length = backbone.max_length
        optimizer = torch.optim.AdamW(trainable(encoder, head), lr=settings.lr)
        dataset = make_data(settings).dataset("train")
        device = settings.device

        def step(samples: list[Sample]) -> Tensor:
            texts = [list(s["sequences"]) if split else s["sequences"] for s in samples]
            encoded = tokenizer(
                texts,
                is_split_into_words=split,
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            labels = labels_of(samples, device)
            mask = encoded["attention_mask"].to(device)
            hidden = encoder(input_ids=encoded["input_ids"].to(device), attention_mask=mask)
            weights = mask.unsqueeze(-1).to(hidden.last_hidden_state.dtype)
            pooled = (hidden.last_hidden_state * weights).sum(1) / weights.sum(1).clamp(min=1)
            loss = F.cross_entropy(head(pooled), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss.detach()

        result = timed_loop(settings, step, sample_batches(dataset, settings))
    result.memory_mib = memory[0]
    return result


RUNNERS: dict[str, Callable[[Settings], RoundResult]] = {
    "mg": run_mg,
    "lightning": run_lightning,
    "plain": run_plain,
    "plain_fused": partial(run_plain, mg_kernel=True),
    "hf": run_hf,
}


# --------------------------------------------------------------------------- report
def environment(settings: Settings, threads: int) -> str:
    """Describe the software, the device and the run's sizes."""
    if settings.device.type == "cuda":
        device = f"cuda ({torch.cuda.get_device_name(settings.device)})"
    else:
        device = f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    versions = ", ".join(
        f"{name} {version(name)}" for name in ("lightning", "transformers", "mg-tasks")
    )
    return (
        f"python {platform.python_version()}, torch {torch.__version__}, {versions}\n"
        f"device={device}  torch threads={threads} (interop {torch.get_num_interop_threads()})\n"
        f"backbone={settings.backbone} (hidden {settings.hidden_size}, {settings.num_layers} "
        f"layers, {settings.num_heads} heads) + LinearMeanPoolAdapter, data={TRAIN_FILE}, "
        f"batch={settings.batch_size}, steps={settings.steps} after {settings.warmup} warm-up, "
        f"AdamW lr={settings.lr}, fp32"
    )


def paired_ratio(top: Summary, bottom: Summary) -> float:
    """Return the median over rounds of ``top``'s steps/s over ``bottom``'s in the same round.

    Pairing by round cancels the slow drift of a shared machine's speed.
    """
    return statistics.median(
        a.steps_per_s / b.steps_per_s for a, b in zip(top.rounds, bottom.rounds, strict=True)
    )


def paired_extra_ms(top: Summary, bottom: Summary) -> float:
    """Return the median over rounds of ``top``'s ms/step minus ``bottom``'s."""
    return statistics.median(
        1000 / a.steps_per_s - 1000 / b.steps_per_s
        for a, b in zip(top.rounds, bottom.rounds, strict=True)
    )


def table(summaries: dict[str, Summary], device: torch.device) -> str:
    """Format the results: steps/s, ratios, per-step overhead, memory and loss."""
    memory_name = "peak MiB" if device.type == "cuda" else "RSS+ MiB"
    lines = [
        f"{'variant':<30} {'steps/s':>8} {'min-max':>13} {'ms/step':>8} {'mg / this':>9} "
        f"{'mg +ms':>7} {memory_name:>9} {'loss':>6}"
    ]
    mg = summaries["mg"]
    for name, summary in summaries.items():
        speed = summary.steps_per_s
        low, high = summary.spread
        memory = summary.memory_mib
        memory_text = "n/a" if memory is None else f"{memory:.1f}"
        lines.append(
            f"{LABELS[name]:<30} {speed:>8.1f} {f'{low:.1f}-{high:.1f}':>13} "
            f"{1000 / speed:>8.2f} {paired_ratio(mg, summary):>9.2f} "
            f"{paired_extra_ms(mg, summary):>7.2f} {memory_text:>9} {summary.mean_loss:>6.3f}"
        )
    return "\n".join(lines)


def round_line(label: str, name: str, result: RoundResult) -> str:
    """Format one variant's result in one round."""
    memory = "n/a" if result.memory_mib is None else f"{result.memory_mib:.1f} MiB"
    return (
        f"  {label:<8} {name:<11} {result.steps_per_s:7.1f} steps/s  memory {memory:>10}  "
        f"loss {result.mean_loss:.3f}"
    )


def profile_mg(settings: Settings, limit: int) -> str:
    """Profile one mg fit and return the functions with the most own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    run_mg(settings)
    profiler.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats("lightning|mg/|torchmetrics", limit)
    return stream.getvalue()


def quiet_lightning() -> None:
    """Silence Lightning's start-up messages and its few-workers warning."""
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
    # mg returns no validation loader without a val split; Lightning notes the empty list.
    warnings.filterwarnings("ignore", message=".*across ranks is zero.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--backbone", default="BertDNATiny", choices=sorted(BACKBONES))
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=100, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=9, help="rounds; the median is shown")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--profile", action="store_true", help="also profile one mg fit (cProfile)")
    parser.add_argument("--profile-lines", type=int, default=25)
    return parser.parse_args()


def main() -> None:
    """Measure every variant over the rounds and print the environment and the table."""
    args = parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for, but torch sees no CUDA device.")
    if args.steps < 1 or args.warmup < 1 or args.repeats < 1:
        raise SystemExit("--steps, --warmup and --repeats must be at least 1.")
    # One tokenizer thread too, so --threads bounds the whole run.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(args.threads)
    with contextlib.suppress(RuntimeError):  # only settable before any parallel work
        torch.set_num_interop_threads(args.threads)
    quiet_lightning()
    settings = Settings(
        device=torch.device(args.device),
        backbone=args.backbone,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        num_heads=args.num_heads,
        batch_size=args.batch_size,
        steps=args.steps,
        warmup=args.warmup,
        lr=args.lr,
        seed=args.seed,
    )
    print(environment(settings, torch.get_num_threads()))
    if settings.device.type == "cpu" and not rss_available():
        print("memory: /proc/self/statm is not readable here, so memory is not measured")
    start = time.perf_counter()
    # A short untimed round first: lazy imports and first-use set-up happen once per
    # process, and would otherwise land on whichever variant runs first.
    first = replace(settings, steps=2, warmup=1)
    for name in VARIANTS:
        print(round_line("first", name, RUNNERS[name](first)), "(untimed, one-time costs)")
    summaries = {name: Summary() for name in VARIANTS}
    for round_index in range(args.repeats):
        shift = round_index % len(VARIANTS)
        for name in VARIANTS[shift:] + VARIANTS[:shift]:
            result = RUNNERS[name](settings)
            summaries[name].rounds.append(result)
            print(round_line(f"round {round_index + 1}", name, result), flush=True)
    print()
    print(table(summaries, settings.device))
    mg, lightning, plain, plain_fused, hf = (summaries[n] for n in VARIANTS)
    print(
        f"\nmg / plain = {paired_ratio(mg, plain):.2f}   mg / plain with mg's optimizer = "
        f"{paired_ratio(mg, plain_fused):.2f}   mg / lightning = "
        f"{paired_ratio(mg, lightning):.2f}   lightning / plain with mg's optimizer = "
        f"{paired_ratio(lightning, plain_fused):.2f}\nmg / hf = {paired_ratio(mg, hf):.2f}   "
        f"plain / hf = {paired_ratio(plain, hf):.2f}   (steps/s, median of per-round ratios; "
        "1.0 = same speed, 0.5 = twice as slow)"
    )
    print(f"finished in {time.perf_counter() - start:.1f} s")
    if args.profile:
        print("\n== cProfile of one mg fit ==")
        print(profile_mg(settings, args.profile_lines))


if __name__ == "__main__":
    main()
