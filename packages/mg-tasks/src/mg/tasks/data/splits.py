"""Seeded splits of one table into train, validation and test rows.

Every function returns row indices in file order, so a split is the same list whatever
the machine, and holding the seed fixed reproduces it exactly.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any


def _shuffled(indices: Sequence[int], seed: int) -> list[int]:
    order = list(indices)
    random.Random(seed).shuffle(order)
    return order


def fraction_size(n: int, fraction: float) -> int:
    """Return how many of ``n`` rows a fraction takes (rounded; 0 only for a 0 fraction)."""
    return round(n * fraction)


def random_split(
    n: int, val_fraction: float = 0.0, test_fraction: float = 0.0, seed: int = 0
) -> dict[str, list[int]]:
    """Split ``n`` rows at random into train, val and test.

    Args:
        n (int): number of rows.
        val_fraction (float): share of rows for validation.
        test_fraction (float): share of rows for testing.
        seed (int): the seed of the shuffle.

    Returns:
        dict[str, list[int]]: ``{"train": [...], "val": [...], "test": [...]}``, each sorted.
    """
    order = _shuffled(range(n), seed)
    n_test = fraction_size(n, test_fraction)
    n_val = fraction_size(n, val_fraction)
    return {
        "test": sorted(order[:n_test]),
        "val": sorted(order[n_test : n_test + n_val]),
        "train": sorted(order[n_test + n_val :]),
    }


def kfold_split(
    indices: Sequence[int], n_folds: int, fold: int, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Split rows into ``n_folds`` folds of near-equal size and hold one out.

    Across ``fold = 0 .. n_folds - 1`` every row is held out exactly once.

    Args:
        indices (Sequence[int]): the rows to fold.
        n_folds (int): number of folds (at least 2).
        fold (int): the fold held out for validation.
        seed (int): the seed of the shuffle that assigns rows to folds.

    Returns:
        tuple[list[int], list[int]]: (training rows, held-out rows), each sorted.
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, not {n_folds}.")
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold must be in 0..{n_folds - 1} for n_folds={n_folds}, not {fold}.")
    order = _shuffled(indices, seed)
    held_out = set(order[fold::n_folds])
    return (
        sorted(i for i in indices if i not in held_out),
        sorted(held_out),
    )


def column_fold_split(
    values: Sequence[Any], indices: Sequence[int], fold: int | str
) -> tuple[list[int], list[int]]:
    """Hold out the rows whose fold column equals ``fold`` (compared as text).

    Args:
        values (Sequence[Any]): the fold column, one value per row of the table.
        indices (Sequence[int]): the rows to split.
        fold (int | str): the fold to hold out.

    Returns:
        tuple[list[int], list[int]]: (training rows, held-out rows).
    """
    wanted = str(fold).strip()
    held_out = [i for i in indices if _fold_text(values[i]) == wanted]
    chosen = set(held_out)
    return [i for i in indices if i not in chosen], held_out


def _fold_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def fold_values(values: Sequence[Any], indices: Sequence[int]) -> list[str]:
    """Return the distinct fold values of the given rows, sorted, for messages."""
    return sorted({_fold_text(values[i]) for i in indices})
