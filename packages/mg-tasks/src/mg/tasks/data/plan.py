"""Where each split's rows come from: a file of its own, or rows carved from the training pool.

`SplitPlan` answers from the options alone (a Hugging Face dataset's split names aside)
whether a split exists and which input holds it; the seeded partition of the pool into
train, validation and test rows is computed once, when the pool is first read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from mg.core.data import SPLITS_OF_STAGE
from mg.tasks.data.readers import HF_VAL_SPLITS, Table
from mg.tasks.data.splits import column_fold_split, fold_values, kfold_split, random_split

Split = Literal["train", "val", "test", "predict"]
SPLITS: tuple[str, ...] = ("train", "val", "test", "predict")

SPLIT_HINTS = {
    "train": "give path, train_file or hf_dataset",
    "val": "give val_file, or val_fraction, n_folds or fold_column together with path or "
    "train_file",
    "test": "give test_file, or test_fraction together with path or train_file",
    "predict": "give predict_file (or a test split: test_file or test_fraction)",
}


@dataclass(frozen=True)
class SplitSource:
    """Which input holds a split.

    Attributes:
        key (str): ``"pool"`` (``path``/``train_file``), ``"val"``, ``"test"``,
            ``"predict"`` (the matching ``*_file``), or ``"hf:<split>"``.
        part (str | None): the part of the pool's partition (``"train"``, ``"val"``,
            ``"test"``) the split takes; None for every row of the input.
    """

    key: str
    part: str | None = None


@dataclass
class SplitPlan:
    """The split options of `SequenceData`, checked, and what they mean for each split.

    Args:
        pool (str | None): ``"pool"``, ``"hf:train"`` or None: where training rows live.
        val_file (str | None): validation file or folder.
        test_file (str | None): test file or folder.
        predict_file (str | None): prediction file or folder.
        hf_splits (Callable[[], list[str]] | None): the split names of the Hugging Face
            dataset, read on demand (None without one).
        val_fraction (float): share of pool rows held out for validation.
        test_fraction (float): share of pool rows held out for testing.
        n_folds (int | None): k-fold validation over the pool's training rows.
        fold (int): the validation fold, or the ``fold_column`` value of validation rows.
        fold_column (str | None): a column assigning pool rows to folds.
        test_fold (int | str | None): the fold (of ``n_folds``, or a ``fold_column`` value)
            held out for testing; the rest is folded again for validation.
        seed (int): seed of the partition.
    """

    pool: str | None
    val_file: str | None = None
    test_file: str | None = None
    predict_file: str | None = None
    hf_splits: Callable[[], list[str]] | None = None
    val_fraction: float = 0.0
    test_fraction: float = 0.0
    n_folds: int | None = None
    fold: int = 0
    fold_column: str | None = None
    test_fold: int | str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        self._partition: dict[str, list[int]] | None = None
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), not {value}.")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"val_fraction + test_fraction must leave training rows; they add up to "
                f"{self.val_fraction + self.test_fraction}."
            )
        carves = self.val_fraction or self.test_fraction or self.n_folds or self.fold_column
        if carves and self.pool is None:
            raise ValueError(
                "val_fraction, test_fraction, n_folds and fold_column split the training data: "
                "give path, train_file or hf_dataset."
            )
        val_ways = [
            name
            for name, value in (
                ("val_file", self.val_file),
                ("val_fraction", self.val_fraction),
                ("n_folds", self.n_folds),
                ("fold_column", self.fold_column),
            )
            if value
        ]
        if len(val_ways) > 1:
            raise ValueError(
                f"Choose one way to get validation rows, not {' and '.join(val_ways)}."
            )
        if self.test_file and self.test_fraction:
            raise ValueError("Give test_file or test_fraction, not both.")
        if self.n_folds is not None and (self.n_folds < 2 or not 0 <= self.fold < self.n_folds):
            raise ValueError(
                f"n_folds must be at least 2 and fold in 0..n_folds - 1; got n_folds="
                f"{self.n_folds}, fold={self.fold}."
            )
        if self.test_fold is not None:
            self._check_test_fold()

    def _check_test_fold(self) -> None:
        if not (self.n_folds or self.fold_column) or self.test_file or self.test_fraction:
            raise ValueError(
                f"test_fold={self.test_fold!r} picks the test rows among n_folds or "
                "fold_column folds: set one of those, and neither test_file nor test_fraction."
            )
        if self.fold_column and str(self.test_fold) == str(self.fold):
            raise ValueError(
                f"test_fold and fold are both {self.fold!r}: the test and validation folds "
                "must differ."
            )
        if self.n_folds and not (
            isinstance(self.test_fold, int) and 0 <= self.test_fold < self.n_folds
        ):
            raise ValueError(
                f"test_fold must be in 0..{self.n_folds - 1} for n_folds={self.n_folds}, "
                f"not {self.test_fold!r}."
            )

    # ----------------------------------------------------------------- where splits live
    def _hf_split(self, split: str) -> str | None:
        if self.hf_splits is None:
            return None
        names = self.hf_splits()
        wanted = {"val": HF_VAL_SPLITS, "test": ("test",)}.get(split, ())
        return next((name for name in wanted if name in names), None)

    def source(self, split: str) -> SplitSource | None:
        """Return the input holding ``split``, or None when the options give it no data.

        Raises:
            ValueError: ``split`` is not train, val, test or predict.
        """
        if split == "train":
            return None if self.pool is None else SplitSource(self.pool, "train")
        if split == "val":
            if self.val_file:
                return SplitSource("val")
            if self.val_fraction or self.n_folds or self.fold_column:
                return SplitSource(self.pool, "val")  # type: ignore[arg-type]
            name = self._hf_split("val")
            return SplitSource(f"hf:{name}") if name else None
        if split == "test":
            if self.test_file:
                return SplitSource("test")
            if self.test_fraction or self.test_fold is not None:
                return SplitSource(self.pool, "test")  # type: ignore[arg-type]
            name = self._hf_split("test")
            return SplitSource(f"hf:{name}") if name else None
        if split == "predict":
            # Never the whole pool by default: that would predict the training rows too.
            return SplitSource("predict") if self.predict_file else self.source("test")
        raise ValueError(f"Unknown split {split!r}; choose one of {', '.join(SPLITS)}.")

    def has_split(self, split: str) -> bool:
        """Whether the options give ``split`` any data."""
        return self.source(split) is not None

    def is_carved(self, source: SplitSource) -> bool:
        """Whether ``source`` is part of the pool cut by fractions or folds (not a whole input)."""
        return source.part is not None and bool(
            self.val_fraction
            or self.test_fraction
            or self.n_folds
            or self.fold_column
            or self.test_fold is not None
        )

    def stage_splits(self, stage: str | None) -> list[str]:
        """Return the splits a Lightning stage reads (``fit``: train, and val when configured).

        Raises:
            ValueError: the stage is unknown, or its split is not configured.
        """
        if stage is None:
            return [s for s in SPLITS if self.has_split(s)]
        if stage not in SPLITS_OF_STAGE:
            raise ValueError(f"Unknown stage {stage!r}; choose fit, validate, test or predict.")
        splits = []
        for split in SPLITS_OF_STAGE[stage]:
            if self.has_split(split):
                splits.append(split)
            elif not (stage == "fit" and split == "val"):
                raise ValueError(
                    f"SequenceData has no {split} split for {stage}: {SPLIT_HINTS[split]}."
                )
        return splits

    # ----------------------------------------------------------------- the pool's partition
    def rows(self, source: SplitSource, table: Table) -> list[int]:
        """Return the row indices of ``table`` that ``source`` takes, in file order."""
        if source.part is None:
            return list(range(len(table)))
        return self.partition(table)[source.part]

    def partition(self, pool: Table) -> dict[str, list[int]]:
        """Split the pool's rows into train, val and test (seeded, once), none left empty.

        Raises:
            ValueError: a configured split gets no row, or no training row is left.
        """
        if self._partition is not None:
            return self._partition
        n = len(pool)
        plain_val = self.val_fraction if not (self.n_folds or self.fold_column) else 0.0
        if self.test_fold is not None:
            parts = self._test_fold_split(pool)
        else:
            parts = random_split(n, plain_val, self.test_fraction, self.seed)
        for split, option in (("test", "test_fraction"), ("val", "val_fraction")):
            value = getattr(self, option)
            if value and not parts[split]:
                raise ValueError(
                    f"The {split} split is empty: {option}={value} of the {n} rows of "
                    f"{pool.source} gives no row. Raise {option}, or give {split}_file."
                )
        if self.n_folds:
            self._check_fold_count(len(parts["train"]), pool)
            parts["train"], parts["val"] = kfold_split(
                parts["train"], self.n_folds, self.fold, self.seed
            )
            if not parts["val"]:
                raise ValueError(
                    f"The val split is empty: fold {self.fold} of n_folds={self.n_folds} over the "
                    f"{n} rows of {pool.source} holds no row. Use fewer folds."
                )
        elif self.fold_column:
            pool.require_column(self.fold_column, "fold_column", "each row's fold")
            values = pool.columns[self.fold_column]
            parts["train"], parts["val"] = column_fold_split(values, parts["train"], self.fold)
            if not parts["val"]:
                raise ValueError(
                    f"The val split is empty: no row of {pool.source} has {self.fold_column!r} "
                    f"equal to fold={self.fold}; its values are "
                    f"{fold_values(values, range(n))}. Set fold to one of them."
                )
        if not parts["train"]:
            raise ValueError(
                f"The train split is empty: after the validation and test rows, none of the {n} "
                f"rows of {pool.source} is left for training. Lower the fractions or give more "
                "data."
            )
        self._partition = parts
        return parts

    def _check_fold_count(self, rows: int, pool: Table) -> None:
        """Refuse more folds than rows before any fold trains (every fold needs a row).

        Raises:
            ValueError: ``n_folds`` exceeds the rows it folds.
        """
        if self.n_folds and self.n_folds > rows:
            raise ValueError(
                f"n_folds={self.n_folds} is more than the {rows} rows of {pool.source} it folds, "
                f"so some folds would hold no row. Use n_folds of at most {rows}."
            )

    def _test_fold_split(self, pool: Table) -> dict[str, list[int]]:
        """Hold out the rows of fold ``test_fold`` for testing; the rest is the training pool."""
        rows = list(range(len(pool)))
        if self.n_folds:
            self._check_fold_count(len(rows), pool)
            rest, test = kfold_split(rows, self.n_folds, int(self.test_fold), self.seed)  # type: ignore[arg-type]
            return {"train": rest, "val": [], "test": test}
        assert self.fold_column is not None
        pool.require_column(self.fold_column, "fold_column", "each row's fold")
        values = pool.columns[self.fold_column]
        _, test = column_fold_split(values, rows, self.test_fold)  # type: ignore[arg-type]
        if not test:
            raise ValueError(
                f"The test split is empty: no row of {pool.source} has {self.fold_column!r} "
                f"equal to test_fold={self.test_fold}; its values are "
                f"{fold_values(values, rows)}. Set test_fold to one of them."
            )
        held = set(test)
        return {"train": [i for i in rows if i not in held], "val": [], "test": test}
