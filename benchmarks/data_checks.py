"""How long the up-front alphabet check takes on a large set, against a per-character loop.

Run: ``python benchmarks/data_checks.py [--sequences 1000000] [--length 300]``

Before any weights load, mg checks every sequence of the splits a stage reads against the
backbone's alphabet (`mg.core.alphabets.AlphabetCheck`: one byte-table lookup over all
sequences at once). This script generates random protein sequences of one length, puts
an invalid character in the last one (the worst case: everything is scanned), and times:

- ``mg``: ``AlphabetCheck(PROTEIN + ambiguity codes).find_invalid(sequences)``;
- ``python``: the obvious per-sequence check, ``set(sequence) - accepted``, in the same run.

It prints sequences/s and residues/s of each and their ratio.
"""

from __future__ import annotations

import argparse
import random
import time

from mg.core.alphabets import PROTEIN, PROTEIN_AMBIGUITY, AlphabetCheck


def python_check(sequences: list[str], accepted: frozenset[str]) -> tuple[int, str] | None:
    """The per-sequence set check mg's byte table replaces."""
    for index, sequence in enumerate(sequences):
        bad = set(sequence) - accepted
        if bad:
            return index, min(bad)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=1_000_000)
    parser.add_argument("--length", type=int, default=300)
    options = parser.parse_args()
    rng = random.Random(0)
    # Build from a pool of random chunks: generating 300M random letters one by one would
    # take longer than the check itself.
    chunks = ["".join(rng.choices(PROTEIN, k=options.length)) for _ in range(1000)]
    sequences = [chunks[rng.randrange(1000)] for _ in range(options.sequences - 1)]
    sequences.append(chunks[0][:-1] + "*")
    residues = options.sequences * options.length
    accepted = PROTEIN + PROTEIN_AMBIGUITY
    check = AlphabetCheck(accepted)

    start = time.perf_counter()
    found = check.find_invalid(sequences)
    mg_seconds = time.perf_counter() - start
    assert found == (len(sequences) - 1, options.length - 1, "*"), found

    start = time.perf_counter()
    slow = python_check(sequences, frozenset(accepted + accepted.lower()))
    python_seconds = time.perf_counter() - start
    assert slow == (len(sequences) - 1, "*"), slow

    print(f"{options.sequences:,} sequences of {options.length} residues ({residues:,} residues)")
    print(f"{'check':<8} {'seconds':>8} {'sequences/s':>14} {'residues/s':>16}")
    for name, seconds in (("mg", mg_seconds), ("python", python_seconds)):
        print(
            f"{name:<8} {seconds:>8.2f} {options.sequences / seconds:>14,.0f} "
            f"{residues / seconds:>16,.0f}"
        )
    print(f"mg / python speed: {python_seconds / mg_seconds:.1f}x")


if __name__ == "__main__":
    main()
