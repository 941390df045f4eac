"""Seeded splits of cells: by a group column (donor), or stratified by label.

Both depend on the cells' ids and obs values only, never on their storage order, so an
``.h5ad`` and a SOMA experiment made from it split the same way. Each returns
``{"train": rows, "val": rows, "test": rows}`` with rows (positions in obs) sorted.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from mg.tasks.data.splits import fraction_size


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction ({val_fraction}) and test_fraction ({test_fraction}) must be "
            "non-negative and leave cells for training (sum below 1)."
        )


def group_split(
    groups: Sequence[Any],
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    *,
    column: str = "group",
) -> dict[str, list[int]]:
    """Split cells so that no group (donor, sample) is in two splits.

    Groups are shuffled with the seed, then handed to test, then validation, until each
    holds at least its fraction of the cells; the rest train.

    Args:
        groups (Sequence[Any]): each cell's group, in obs order.
        val_fraction (float): share of cells for validation.
        test_fraction (float): share of cells for testing.
        seed (int): the seed of the shuffle of groups.
        column (str): the obs column's name, for messages.

    Returns:
        dict[str, list[int]]: rows of each split, sorted.

    Raises:
        ValueError: too few groups for the splits asked for.
    """
    _check_fractions(val_fraction, test_fraction)
    members: dict[str, list[int]] = defaultdict(list)
    for row, group in enumerate(groups):
        members[str(group)].append(row)
    wanted = [("test", test_fraction), ("val", val_fraction)]
    needed = 1 + sum(f > 0 for _, f in wanted)
    if len(members) < needed:
        raise ValueError(
            f"obs column {column!r} has {len(members)} distinct value(s), but splitting by it "
            f"into train, val and test as asked needs at least {needed}."
        )
    order = sorted(members)
    random.Random(seed).shuffle(order)
    n = len(groups)
    splits: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    position = 0
    for name, fraction in wanted:
        target = fraction_size(n, fraction)
        while target and len(splits[name]) < target and len(order) - position > 1:
            splits[name].extend(members[order[position]])
            position += 1
    for group in order[position:]:
        splits["train"].extend(members[group])
    return {name: sorted(rows) for name, rows in splits.items()}


def stratified_split(
    ids: Sequence[str],
    labels: Sequence[Any],
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
) -> dict[str, list[int]]:
    """Split cells at random within each label, so every split keeps the label mix.

    Within a label the cells are ordered by id, then shuffled with the seed.

    Args:
        ids (Sequence[str]): cell ids, in obs order.
        labels (Sequence[Any]): each cell's label, in obs order.
        val_fraction (float): share of each label's cells for validation.
        test_fraction (float): share of each label's cells for testing.
        seed (int): the seed of the shuffles.

    Returns:
        dict[str, list[int]]: rows of each split, sorted.
    """
    _check_fractions(val_fraction, test_fraction)
    by_label: dict[str, list[int]] = defaultdict(list)
    for row, label in enumerate(labels):
        by_label[str(label)].append(row)
    splits: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for label in sorted(by_label):
        rows = sorted(by_label[label], key=lambda r: str(ids[r]))
        random.Random(f"{seed}:{label}").shuffle(rows)
        n_test = fraction_size(len(rows), test_fraction)
        n_val = fraction_size(len(rows), val_fraction)
        splits["test"] += rows[:n_test]
        splits["val"] += rows[n_test : n_test + n_val]
        splits["train"] += rows[n_test + n_val :]
    return {name: sorted(rows) for name, rows in splits.items()}


def fold_split(
    units: Sequence[Any], n_folds: int, fold: int, seed: int = 0, *, column: str = "cell"
) -> dict[str, list[int]]:
    """Deal whole units (donors, or single cells) into ``n_folds`` folds; hold one out.

    Units are sorted by name, shuffled with the seed and dealt in turn, so fold ``k``
    holds the same cells however they are stored; over ``fold = 0 .. n_folds - 1`` every
    unit is held out exactly once.

    Args:
        units (Sequence[Any]): each cell's unit, in the order of the rows being split.
        n_folds (int): number of folds (at least 2).
        fold (int): the fold held out.
        seed (int): the seed of the shuffle of units.
        column (str): what the units are, for messages (an obs column's name).

    Returns:
        dict[str, list[int]]: positions in ``units``: ``"held_out"`` and ``"rest"``, sorted.

    Raises:
        ValueError: ``n_folds`` below 2, ``fold`` out of range, or fewer units than folds.
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, not {n_folds}.")
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold must be in 0..{n_folds - 1} for n_folds={n_folds}, not {fold}.")
    members: dict[str, list[int]] = defaultdict(list)
    for row, unit in enumerate(units):
        members[str(unit)].append(row)
    if len(members) < n_folds:
        raise ValueError(
            f"{len(members)} distinct {column} value(s) cannot fill n_folds={n_folds} folds: "
            "lower n_folds."
        )
    order = sorted(members)
    random.Random(seed).shuffle(order)
    split: dict[str, list[int]] = {"held_out": [], "rest": []}
    for position, unit in enumerate(order):
        split["held_out" if position % n_folds == fold else "rest"].extend(members[unit])
    return {name: sorted(rows) for name, rows in split.items()}
