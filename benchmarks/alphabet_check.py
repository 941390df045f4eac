"""Time the vectorised alphabet check against a Python set test per character.

Both find the first character outside the alphabet in the same batch, in the same run;
the table gives sequences per second and their ratio. The batch is clean (the check's
common case, where every character must be looked at).

    uv run python benchmarks/alphabet_check.py [--sequences 2000] [--length 1000]
"""

from __future__ import annotations

import argparse
import platform
import random
import time
from collections.abc import Callable, Sequence

import torch

from mg.core.alphabets import DNA, NUCLEOTIDE_AMBIGUITY, AlphabetCheck


def per_character(sequences: Sequence[str], accepted: frozenset[str]) -> tuple[int, int] | None:
    """The former check: a set difference per sequence, then a scan for the position."""
    for index, sequence in enumerate(sequences):
        bad = set(sequence) - accepted
        if bad:
            return index, next(i for i, c in enumerate(sequence) if c in bad)
    return None


def rate(run: Callable[[], object], count: int, repeats: int) -> float:
    """Best sequences per second over ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def main() -> None:
    """Print the environment and the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=2000)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    rng = random.Random(0)
    alphabet = DNA + NUCLEOTIDE_AMBIGUITY
    batch = ["".join(rng.choices(DNA, k=options.length)) for _ in range(options.sequences)]
    check = AlphabetCheck(alphabet)
    accepted = frozenset(alphabet + alphabet.lower())
    assert check.find_invalid(batch) is None and per_character(batch, accepted) is None
    print(f"python {platform.python_version()}, torch {torch.__version__}, {platform.machine()}")
    print(f"{options.sequences} sequences x {options.length} residues, best of {options.repeats}")
    vectorised = rate(lambda: check.find_invalid(batch), options.sequences, options.repeats)
    python = rate(lambda: per_character(batch, accepted), options.sequences, options.repeats)
    print(f"{'check':<28}{'sequences/s':>14}")
    print(f"{'AlphabetCheck (one pass)':<28}{vectorised:>14,.0f}")
    print(f"{'set per sequence':<28}{python:>14,.0f}")
    print(f"ratio: {vectorised / python:.2f}x")


if __name__ == "__main__":
    main()
