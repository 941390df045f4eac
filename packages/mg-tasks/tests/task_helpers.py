"""Synthetic samples with a known signal, tiny backbones and trainers for the task tests."""

from __future__ import annotations

import random
from functools import partial
from typing import Any

import torch

from mg.core.testing import InMemoryData, ToyBackbone
from mg.core.testing.contracts import fast_trainer

Sample = dict[str, Any]
DNA = "ACGT"

tiny_backbone = partial(ToyBackbone, max_length=40)
"""The backbone every test uses: hidden size 16, two layers, contexts of 40 tokens."""


def adam(lr: float = 3e-3) -> Any:
    return partial(torch.optim.Adam, lr=lr)


def _biased(rng: random.Random, length: int, rich: str, share: float) -> str:
    poor = "".join(b for b in DNA if b not in rich)
    return "".join(
        rng.choice(rich) if rng.random() < share else rng.choice(poor) for _ in range(length)
    )


def composition_samples(n: int, seed: int, n_classes: int = 2) -> list[Sample]:
    """Class k is rich in base k (for 2 classes: 0 = A/T-rich, 1 = G/C-rich)."""
    rng = random.Random(seed)
    rich = ["AT", "GC"] if n_classes == 2 else list(DNA[:n_classes])
    samples = []
    for i in range(n):
        label = i % n_classes
        seq = _biased(rng, rng.randint(8, 24), rich[label], 0.8)
        samples.append({"ids": f"c{seed}_{i}", "sequences": seq, "labels": label})
    return samples


def multilabel_samples(n: int, seed: int) -> list[Sample]:
    """Label 0: the sequence is A-rich; label 1: it is G-rich; independent of each other."""
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        a_rich, g_rich = i % 2, (i // 2) % 2
        weights = [3 if a_rich else 1, 1, 3 if g_rich else 1, 1]
        seq = "".join(rng.choices(DNA, weights=weights, k=rng.randint(10, 24)))
        samples.append({"ids": f"m{seed}_{i}", "sequences": seq, "labels": [a_rich, g_rich]})
    return samples


def gc_fraction(seq: str) -> float:
    return sum(b in "GC" for b in seq) / len(seq)


def regression_samples(
    n: int, seed: int, offset: float = 0.0, scale: float = 1.0, outputs: int = 1
) -> list[Sample]:
    """Label: ``offset + scale * GC fraction`` (and the A fraction as a second output)."""
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        seq = _biased(rng, rng.randint(8, 24), "GC", rng.random())
        values = [offset + scale * gc_fraction(seq), offset + scale * seq.count("A") / len(seq)]
        label: Any = values[0] if outputs == 1 else values[:outputs]
        samples.append({"ids": f"r{seed}_{i}", "sequences": seq, "labels": label})
    return samples


def token_samples(n: int, seed: int) -> list[Sample]:
    """Per residue: 1 for a purine (A, G), 0 for a pyrimidine."""
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        seq = "".join(rng.choice(DNA) for _ in range(rng.randint(6, 30)))
        labels = [int(b in "AG") for b in seq]
        samples.append({"ids": f"t{seed}_{i}", "sequences": seq, "labels": labels})
    return samples


PAIR_LENGTH = 24
STEM = 5


def hairpin_samples(n: int, seed: int) -> list[Sample]:
    """24-mers whose first five bases pair with the reverse complement in the last five."""
    rng = random.Random(seed)
    partner = {"A": "T", "T": "A", "G": "C", "C": "G"}
    samples = []
    for i in range(n):
        stem = "".join(rng.choice(DNA) for _ in range(STEM))
        loop = "".join(rng.choice(DNA) for _ in range(PAIR_LENGTH - 2 * STEM))
        seq = stem + loop + "".join(partner[b] for b in reversed(stem))
        pairs = [[k, PAIR_LENGTH - 1 - k] for k in range(STEM)]
        samples.append({"ids": f"h{seed}_{i}", "sequences": seq, "labels": pairs})
    return samples


def run_samples(n: int, seed: int) -> list[Sample]:
    """Runs of 3 to 5 equal bases: a masked base is its neighbours' base."""
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        seq = ""
        while len(seq) < 20:
            seq += rng.choice(DNA) * rng.randint(3, 5)
        samples.append({"ids": f"u{seed}_{i}", "sequences": seq[: rng.randint(16, 24)]})
    return samples


def conditional_samples(n: int, seed: int) -> list[Sample]:
    """Class 0: A/T only (mostly); class 1: G/C only (mostly)."""
    samples = composition_samples(n, seed)
    for sample in samples:
        rng = random.Random(sample["ids"])
        rich = "GC" if sample["labels"] else "AT"
        sample["sequences"] = _biased(rng, len(sample["sequences"]), rich, 0.95)
    return samples


def templates(n: int, length: int, labels: list[Any] | None = None) -> list[Sample]:
    """All-mask templates (``?`` * length) to generate from, with optional conditions."""
    samples: list[Sample] = []
    for i in range(n):
        sample: Sample = {"ids": f"g{i}", "sequences": "?" * length}
        if labels is not None:
            sample["labels"] = labels[i % len(labels)]
        samples.append(sample)
    return samples


def unlabelled(samples: list[Sample]) -> list[Sample]:
    return [{k: v for k, v in s.items() if k != "labels"} for s in samples]


def data_from(
    make: Any,
    n_train: int = 64,
    n_eval: int = 24,
    batch_size: int = 8,
    predict: list[Sample] | None = None,
    **options: Any,
) -> InMemoryData:
    """A data module whose splits come from ``make(n, seed, **options)`` with distinct seeds."""
    return InMemoryData(
        train=make(n_train, 0, **options),
        val=make(n_eval, 1, **options),
        test=make(n_eval, 2, **options),
        predict=predict,
        batch_size=batch_size,
    )


def train(task: Any, data: InMemoryData, epochs: int, **options: Any) -> dict[str, float]:
    """Fit for ``epochs`` then test; return the test metrics."""
    torch.manual_seed(0)
    fast_trainer(max_epochs=epochs, limit_val_batches=0, **options).fit(task, datamodule=data)
    return fast_trainer().test(task, datamodule=data)[0]


def predict(task: Any, data: InMemoryData, ckpt_path: Any = None) -> list[dict[str, Any]]:
    return fast_trainer().predict(task, datamodule=data, ckpt_path=ckpt_path) or []


def column(batches: list[dict[str, Any]], key: str = "predictions") -> list[Any]:
    """Concatenate one prediction column over batches, one entry per item."""
    return [item for batch in batches for item in batch[key]]
