"""`SequenceData`: the generic data module over sequence files and Hugging Face datasets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from torch.utils.data import Dataset, Sampler

from mg.core.data import DataInterface, LabelCheck, Sample
from mg.tasks.data.labels import (
    LABEL_TYPES,
    LabelParser,
    LabelType,
    infer_class_names,
    is_missing,
)
from mg.tasks.data.readers import (
    HF_VAL_SPLITS,
    FileFormat,
    Table,
    compile_header_pattern,
    hf_split_table,
    load_hf_dataset,
    read_path,
)
from mg.tasks.data.samplers import LengthGroupedBatchSampler
from mg.tasks.data.splits import column_fold_split, fold_values, kfold_split, random_split

Split = Literal["train", "val", "test", "predict"]

_SPLIT_HINTS = {
    "train": "give path, train_file or hf_dataset",
    "val": "give val_file, or val_fraction, n_folds or fold_column together with path or "
    "train_file",
    "test": "give test_file, or test_fraction together with path or train_file",
    "predict": "give predict_file (or path)",
}


class SequenceDataset(Dataset):
    """Parsed samples of one split, with the file and row each came from.

    Attributes:
        sequences (list[str]): the sequences (whitespace removed).
        ids (list[str]): one id per sequence.
        labels (list[Any] | None): schema labels, or None when the split is unlabelled.
        files (list[str]): the file of each sample.
        rows (list[int]): the 1-based data row of each sample in its file.
        label_files (list[str]): the file each label came from (a label table, or ``files``).
        label_rows (list[int]): the row each label came from.
        label_columns_text (str): the label column(s), for messages.
    """

    def __init__(
        self,
        sequences: list[str],
        ids: list[str],
        labels: list[Any] | None,
        files: list[str],
        rows: list[int],
        label_files: list[str] | None = None,
        label_rows: list[int] | None = None,
        label_columns_text: str = "",
    ) -> None:
        self.sequences = sequences
        self.ids = ids
        self.labels = labels
        self.files = files
        self.rows = rows
        self.label_files = label_files if label_files is not None else files
        self.label_rows = label_rows if label_rows is not None else rows
        self.label_columns_text = label_columns_text

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> Sample:
        sample: Sample = {"sequences": self.sequences[index], "ids": self.ids[index]}
        if self.labels is not None:
            sample["labels"] = self.labels[index]
        return sample

    @property
    def lengths(self) -> list[int]:
        """The length of every sequence."""
        return [len(s) for s in self.sequences]

    def origin(self, index: int) -> str:
        """Say where sample ``index`` came from: ``"file, row N"``."""
        return f"{self.files[index]}, row {self.rows[index]}"


@dataclass
class _LabelView:
    """Raw label values for the rows of a table, and where each came from."""

    values: dict[str, list[Any]]
    files: list[str]
    rows: list[int]


class SequenceData(DataInterface):
    r"""Sequences and labels from CSV, TSV, Parquet, JSON Lines or FASTA files, or a HF dataset.

    Give the data either as one ``path`` (a file or a folder of files; training rows, plus
    validation and test rows split off at random or by fold) or as separate
    ``train_file``/``val_file``/``test_file``/``predict_file`` (each a file or a folder), or
    as ``hf_dataset``. Prediction reads ``predict_file``, else every row of ``path``, else
    the test split, in file order.

    Files are read and checked when a stage is set up, before any model weights load: a
    missing column, an empty file or split, or a label that cannot be read raises a
    ValueError naming the file, the 1-based data row and the column.

    Args:
        path (str | None): a file or folder holding all the data.
        train_file (str | None): training data (file or folder), instead of ``path``.
        val_file (str | None): validation data.
        test_file (str | None): test data.
        predict_file (str | None): data to predict on.
        hf_dataset (str | None): a Hugging Face dataset name or a folder saved with
            ``save_to_disk`` (needs the ``datasets`` package); its ``train``, ``validation``
            (or ``valid``/``val``/``dev``) and ``test`` splits are used unless a fraction or
            fold option carves them from ``train``.
        hf_config (str | None): the Hugging Face dataset configuration.
        file_format (FileFormat): the format of every file, or ``"auto"`` to tell each
            file's format from its suffix.
        sequence_column (str): the column that holds the sequences.
        id_column (str): the column that holds ids; when the default ``"id"`` is absent, ids
            are made from the file name and row (``"train-3"``). In FASTA files the id is the
            header's first word.
        label_columns (str | list[str] | None): the column(s) that hold labels; None for
            unlabelled data. Several columns give a multilabel or multi-output target.
        label_type (Literal["class", "multilabel", "regression", "token", "pairs", "none"]):
            how labels are read: ``class`` an index or a class name; ``multilabel`` 0/1
            per column (or a list in one column); ``regression`` a number per column (or a
            list); ``token`` one class per residue (``"0110"``, ``"0 1 1 0"`` or a JSON
            list); ``pairs`` a JSON list of ``[i, j]`` 0-based pairs or a dot-bracket
            string; ``none`` ignores ``label_columns``.
        class_names (list[str] | None): class names in index order; without, names are
            read from the training data and sorted (integer labels are used as indices).
        label_table (str | None): a table (CSV, TSV, Parquet, JSON Lines) with
            ``id_column`` and the label columns, joined on id (e.g. labels for a FASTA file).
        header_pattern (str | None): FASTA only: a regular expression whose named groups
            become columns read from each header, e.g. ``"label=(?P<label>\S+)"``.
        val_fraction (float): share of ``path``/``train_file`` rows held out for validation.
        test_fraction (float): share of ``path``/``train_file`` rows held out for testing.
        n_folds (int | None): k-fold cross-validation: split the training rows (after the
            test rows are held out) into this many folds.
        fold (int): the fold used for validation (``0 .. n_folds - 1``), or the value of
            ``fold_column`` that marks validation rows.
        fold_column (str | None): a column assigning each row to a fold; rows whose value
            equals ``fold`` are validation rows, the others training rows.
        test_fold (int | str | None): with ``n_folds`` or ``fold_column``, the fold held
            out for testing: with ``n_folds``, fold ``test_fold`` of all rows (the other
            rows are then folded again for validation); with ``fold_column``, the rows of
            that value (it must differ from ``fold``). Rotating it over ``0 .. n_folds - 1``
            (``mg cv`` does) tests every row exactly once.
        seed (int): seed of the random split, the fold assignment and length grouping.
        batch_size (int): samples per batch.
        num_workers (int): DataLoader worker processes (tokenization runs there).
        group_by_length (bool): batch sequences of similar length together (shuffled per
            epoch for training; sorted for validation and test; prediction stays in file
            order).
        max_rows (int | None): read at most this many rows of each input, for quick runs.
    """

    def __init__(
        self,
        *,
        path: str | None = None,
        train_file: str | None = None,
        val_file: str | None = None,
        test_file: str | None = None,
        predict_file: str | None = None,
        hf_dataset: str | None = None,
        hf_config: str | None = None,
        file_format: FileFormat = "auto",
        sequence_column: str = "sequence",
        id_column: str = "id",
        label_columns: str | list[str] | None = None,
        label_type: LabelType = "class",
        class_names: list[str] | None = None,
        label_table: str | None = None,
        header_pattern: str | None = None,
        val_fraction: float = 0.0,
        test_fraction: float = 0.0,
        n_folds: int | None = None,
        fold: int = 0,
        fold_column: str | None = None,
        test_fold: int | str | None = None,
        seed: int = 0,
        batch_size: int = 16,
        num_workers: int = 0,
        group_by_length: bool = False,
        max_rows: int | None = None,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        self.path = path
        self.train_file = train_file
        self.val_file = val_file
        self.test_file = test_file
        self.predict_file = predict_file
        self.hf_dataset = hf_dataset
        self.hf_config = hf_config
        self.file_format = file_format
        self.sequence_column = sequence_column
        self.id_column = id_column
        if isinstance(label_columns, str):
            label_columns = [label_columns]
        self.label_columns: list[str] = list(label_columns or [])
        self.label_type = label_type
        self.class_names: list[str] | None = list(class_names) if class_names else None
        self.label_table = label_table
        self.header_pattern = header_pattern
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.n_folds = n_folds
        self.fold = fold
        self.fold_column = fold_column
        self.test_fold = test_fold
        self.seed = seed
        self.group_by_length = group_by_length
        self.max_rows = max_rows
        self._check_options()
        self._pattern = compile_header_pattern(header_pattern) if header_pattern else None
        self._class_names_given = self.class_names is not None
        self._class_names_known = self._class_names_given
        self._tables: dict[str, Table] = {}
        self._pool_indices: dict[str, list[int]] | None = None
        self._sets: dict[str, SequenceDataset] = {}
        self._hf_loaded: Any = None

    # ----------------------------------------------------------------- options
    @property
    def labelled(self) -> bool:
        """Whether label columns are configured (and ``label_type`` is not ``"none"``)."""
        return bool(self.label_columns) and self.label_type != "none"

    def _check_options(self) -> None:
        pools = [n for n in ("path", "train_file", "hf_dataset") if getattr(self, n) is not None]
        if len(pools) > 1:
            raise ValueError(f"Give only one of {' / '.join(pools)}: each holds the training data.")
        if not pools and not any((self.val_file, self.test_file, self.predict_file)):
            raise ValueError(
                "SequenceData has no data: give path (a file or folder), train_file / val_file / "
                "test_file / predict_file, or hf_dataset."
            )
        if self.label_type not in LABEL_TYPES:
            raise ValueError(f"label_type must be one of {LABEL_TYPES}, not {self.label_type!r}.")
        if self.label_type in ("class", "token", "pairs") and len(self.label_columns) > 1:
            raise ValueError(
                f"label_type={self.label_type!r} reads one label column, but label_columns is "
                f"{self.label_columns}; use 'multilabel' or 'regression' for several columns."
            )
        if self.class_names is not None:
            if self.label_type != "class":
                raise ValueError(
                    f"class_names applies to label_type='class', not {self.label_type!r}."
                )
            if len(set(self.class_names)) != len(self.class_names):
                raise ValueError(f"class_names repeats a name: {self.class_names}.")
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
        if carves and not pools:
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
        if self.max_rows is not None and self.max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, not {self.max_rows}.")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}.")

    # ----------------------------------------------------------------- reading
    def _hf(self) -> Any:
        if self._hf_loaded is None:
            assert self.hf_dataset is not None
            self._hf_loaded = load_hf_dataset(self.hf_dataset, self.hf_config)
        return self._hf_loaded

    def _hf_split_name(self, split: str) -> str | None:
        names = list(self._hf())
        wanted = {"train": ("train",), "val": HF_VAL_SPLITS, "test": ("test",)}.get(split, ())
        return next((name for name in wanted if name in names), None)

    def _table(self, key: str) -> Table:
        """Read (once) the input called ``key``: pool, val, test, predict or hf:<split>."""
        if key not in self._tables:
            if key.startswith("hf:"):
                assert self.hf_dataset is not None
                table = hf_split_table(self._hf(), self.hf_dataset, key[3:], max_rows=self.max_rows)
            else:
                location = {
                    "pool": self.path or self.train_file,
                    "val": self.val_file,
                    "test": self.test_file,
                    "predict": self.predict_file,
                }[key]
                assert location is not None
                table = read_path(
                    location,
                    file_format=self.file_format,
                    id_column=self.id_column,
                    sequence_column=self.sequence_column,
                    header_pattern=self._pattern,
                    max_rows=self.max_rows,
                    exclude=(self.label_table,) if self.label_table else (),
                )
            self._tables[key] = table
        return self._tables[key]

    def _pool_key(self) -> str | None:
        if self.hf_dataset is not None:
            return "hf:train"
        return "pool" if (self.path or self.train_file) else None

    def _carves_val(self) -> bool:
        return bool(self.val_fraction or self.n_folds or self.fold_column)

    def _pool_split(self) -> dict[str, list[int]]:
        """Split the pool's rows into train, val and test (seeded), checking none is empty."""
        if self._pool_indices is not None:
            return self._pool_indices
        key = self._pool_key()
        assert key is not None
        table = self._table(key)
        n = len(table)
        plain_val = self.val_fraction if not (self.n_folds or self.fold_column) else 0.0
        parts = random_split(n, plain_val, self.test_fraction, self.seed)
        if self.test_fold is not None:
            parts = self._test_fold_split(table)
        for split, option in (("test", "test_fraction"), ("val", "val_fraction")):
            value = getattr(self, option)
            if value and not parts[split]:
                raise ValueError(
                    f"The {split} split is empty: {option}={value} of the {n} rows of "
                    f"{table.source} gives no row. Raise {option}, or give {split}_file."
                )
        if self.n_folds:
            parts["train"], parts["val"] = kfold_split(
                parts["train"], self.n_folds, self.fold, self.seed
            )
            if not parts["val"]:
                raise ValueError(
                    f"The val split is empty: fold {self.fold} of n_folds={self.n_folds} over the "
                    f"{n} rows of {table.source} holds no row. Use fewer folds."
                )
        elif self.fold_column:
            table.require_column(self.fold_column, "fold_column", "each row's fold")
            values = table.columns[self.fold_column]
            parts["train"], parts["val"] = column_fold_split(values, parts["train"], self.fold)
            if not parts["val"]:
                raise ValueError(
                    f"The val split is empty: no row of {table.source} has {self.fold_column!r} "
                    f"equal to fold={self.fold}; its values are "
                    f"{fold_values(values, range(n))}. Set fold to one of them."
                )
        if not parts["train"]:
            raise ValueError(
                f"The train split is empty: after the validation and test rows, none of the {n} "
                f"rows of {table.source} is left for training. Lower the fractions or give more "
                "data."
            )
        self._pool_indices = parts
        return parts

    def _test_fold_split(self, table: Table) -> dict[str, list[int]]:
        """Hold out the rows of fold ``test_fold`` for testing; the rest is the training pool."""
        rows = list(range(len(table)))
        if self.n_folds:
            rest, test = kfold_split(rows, self.n_folds, int(self.test_fold), self.seed)  # type: ignore[arg-type]
            return {"train": rest, "val": [], "test": test}
        table.require_column(self.fold_column, "fold_column", "each row's fold")  # type: ignore[arg-type]
        values = table.columns[self.fold_column]  # type: ignore[index]
        _, test = column_fold_split(values, rows, self.test_fold)  # type: ignore[arg-type]
        if not test:
            raise ValueError(
                f"The test split is empty: no row of {table.source} has {self.fold_column!r} "
                f"equal to test_fold={self.test_fold}; its values are "
                f"{fold_values(values, rows)}. Set test_fold to one of them."
            )
        held = set(test)
        return {"train": [i for i in rows if i not in held], "val": [], "test": test}

    def _source(self, split: str) -> tuple[str, list[int] | None] | None:
        """Return the input key and row indices (None: all rows) of a split, or None."""
        pool = self._pool_key()
        if split == "train":
            return None if pool is None else (pool, self._pool_split()["train"])
        if split == "val":
            if self.val_file:
                return "val", None
            if self._carves_val():
                return pool, self._pool_split()["val"]  # type: ignore[return-value]
            if self.hf_dataset is not None and (name := self._hf_split_name("val")):
                return f"hf:{name}", None
            return None
        if split == "test":
            if self.test_file:
                return "test", None
            if self.test_fraction or self.test_fold is not None:
                return pool, self._pool_split()["test"]  # type: ignore[return-value]
            if self.hf_dataset is not None and self._hf_split_name("test"):
                return "hf:test", None
            return None
        if split == "predict":
            if self.predict_file:
                return "predict", None
            if self.path:
                return "pool", None
            return self._source("test")
        raise ValueError(f"Unknown split {split!r}; choose train, val, test or predict.")

    def has_split(self, split: str) -> bool:
        """Whether the options give ``split`` any data (reads a Hugging Face dataset's names)."""
        if split == "train":
            return self._pool_key() is not None
        if split == "val":
            if self.val_file or self._carves_val():
                return True
        elif split == "test":
            if self.test_file or self.test_fraction or self.test_fold is not None:
                return True
        elif split == "predict":
            return bool(self.predict_file or self.path) or self.has_split("test")
        return self.hf_dataset is not None and self._hf_split_name(split) is not None

    # ----------------------------------------------------------------- ids and labels
    def _ids(self, table: Table) -> list[str]:
        column = self.id_column
        if table.has_column(column):
            ids = []
            for value, file, row in zip(
                table.columns[column], table.files, table.rows, strict=True
            ):
                if is_missing(value):
                    raise ValueError(
                        f"{file}, row {row}, column {column!r}: the id is empty; give every row "
                        "an id, or remove the id column to number rows instead."
                    )
                ids.append(str(value).strip())
            return ids
        if column != "id" or any(column in names for names in table.file_columns.values()):
            table.require_column(column, "id_column", "the ids")
        return [
            f"{Path(file).stem}-{row}" for file, row in zip(table.files, table.rows, strict=True)
        ]

    def _label_table(self) -> tuple[Table, dict[str, int]]:
        key = "label_table"
        if key not in self._tables:
            assert self.label_table is not None
            table = read_path(self.label_table, max_rows=None)
            table.require_column(self.id_column, "id_column", "the ids the labels belong to")
            for column in self.label_columns:
                table.require_column(column, "label_columns", "the labels")
            self._tables[key] = table
        table = self._tables[key]
        index: dict[str, int] = {}
        for position, value in enumerate(table.columns[self.id_column]):
            name = "" if is_missing(value) else str(value).strip()
            if name in index:
                first = index[name]
                raise ValueError(
                    f"{table.files[position]}, row {table.rows[position]}, column "
                    f"{self.id_column!r}: the id {name!r} already labels row {table.rows[first]}; "
                    "give each id one label row."
                )
            index[name] = position
        return table, index

    def _label_view(
        self, table: Table, indices: Sequence[int], required: bool
    ) -> _LabelView | None:
        """Return the raw labels of a table's rows, or None when they are not available.

        Args:
            table (Table): the data.
            indices (Sequence[int]): the rows that must have labels.
            required (bool): raise (rather than return None) when labels are missing.
        """
        if not self.labelled:
            return None
        if self.label_table is None:
            for column in self.label_columns:
                if not table.has_column(column):
                    if required:
                        table.require_column(column, "label_columns", "the labels")
                    return None
            return _LabelView(
                {c: table.columns[c] for c in self.label_columns}, table.files, table.rows
            )
        labels, index = self._label_table()
        ids = self._ids(table)
        missing = [ids[i] for i in indices if ids[i] not in index]
        if missing:
            if not required:
                return None
            shown = ", ".join(repr(m) for m in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise ValueError(
                f"{labels.source} has no label for {len(missing)} of the {len(indices)} ids of "
                f"{table.source}: {shown}{more}. Add rows for them to the label table (matched "
                f"on {self.id_column!r})."
            )
        positions = [index.get(name, -1) for name in ids]
        return _LabelView(
            {
                c: [labels.columns[c][p] if p >= 0 else None for p in positions]
                for c in self.label_columns
            },
            [labels.files[p] if p >= 0 else "" for p in positions],
            [labels.rows[p] if p >= 0 else 0 for p in positions],
        )

    def _resolve_class_names(self, table: Table, view: _LabelView, indices: Sequence[int]) -> None:
        """Read class names from the training data (or, without one, from this split)."""
        if self._class_names_known or self.label_type != "class":
            return
        column = self.label_columns[0]
        pool = self._pool_key()
        values: list[Any] = []
        if pool is not None:
            pool_table = self._table(pool)
            pool_view = (
                view
                if pool_table is table
                else self._label_view(pool_table, range(len(pool_table)), required=False)
            )
            if pool_view is not None:
                values = pool_view.values[column]
        if not values:
            values = [view.values[column][i] for i in indices]
        self.class_names = infer_class_names(values)
        self._class_names_known = True

    # ----------------------------------------------------------------- building splits
    def _build(self, split: str) -> SequenceDataset:
        source = self._source(split)
        if source is None:
            raise ValueError(f"SequenceData has no {split} split: {_SPLIT_HINTS[split]}.")
        key, chosen = source
        table = self._table(key)
        indices = list(range(len(table))) if chosen is None else chosen
        column = self.sequence_column
        table.require_column(column, "sequence_column", "the sequences")
        all_ids = self._ids(table)
        view = self._label_view(table, indices, required=split != "predict")
        parser: LabelParser | None = None
        if view is not None:
            self._resolve_class_names(table, view, indices)
            parser = LabelParser(self.label_type, self.label_columns, self.class_names)
        sequences, ids, files, rows = [], [], [], []
        labels: list[Any] | None = [] if parser is not None else None
        label_files: list[str] = []
        label_rows: list[int] = []
        width: tuple[int, str, int] | None = None  # labels per row, and the row that set it
        for i in indices:
            file, row = table.files[i], table.rows[i]
            raw = table.columns[column][i]
            if is_missing(raw) or not isinstance(raw, str):
                what = "empty" if is_missing(raw) else f"not text ({raw!r})"
                raise ValueError(f"{file}, row {row}, column {column!r}: the sequence is {what}.")
            sequence = "".join(raw.split())
            sequences.append(sequence)
            ids.append(all_ids[i])
            files.append(file)
            rows.append(row)
            if parser is None or view is None or labels is None:
                continue
            label_file, label_row = view.files[i], view.rows[i]
            label, problem = parser.parse([view.values[c][i] for c in self.label_columns], sequence)
            if problem is not None:
                raise ValueError(f"{label_file}, row {label_row}, {problem}")
            if self.label_type in ("multilabel", "regression") and isinstance(label, list):
                if width is None:
                    width = (len(label), label_file, label_row)
                elif len(label) != width[0]:
                    raise ValueError(
                        f"{label_file}, row {label_row}, {parser.columns_text()}: {len(label)} "
                        f"labels, but {width[1]}, row {width[2]} has {width[0]}; every row needs "
                        "the same number."
                    )
            labels.append(label)
            label_files.append(label_file)
            label_rows.append(label_row)
        if not sequences:
            raise ValueError(f"The {split} split of {table.source} is empty.")
        return SequenceDataset(
            sequences,
            ids,
            labels,
            files,
            rows,
            label_files if labels is not None else None,
            label_rows if labels is not None else None,
            parser.columns_text() if parser is not None else "",
        )

    def dataset(self, split: Split) -> SequenceDataset:
        """Return (building once) the samples of ``split``.

        Args:
            split (Split): ``"train"``, ``"val"``, ``"test"`` or ``"predict"``.

        Raises:
            ValueError: the split is not configured, or its data fails a check.
        """
        if split not in self._sets:
            self._sets[split] = self._build(split)
        return self._sets[split]

    def stage_splits(self, stage: str | None) -> list[str]:
        """Return the splits a Lightning stage reads (``fit``: train, and val when configured).

        Raises:
            ValueError: the stage's split is not configured.
        """
        if stage is None:
            return [s for s in ("train", "val", "test", "predict") if self.has_split(s)]
        wanted = {
            "fit": ["train", "val"],
            "validate": ["val"],
            "test": ["test"],
            "predict": ["predict"],
        }.get(stage)
        if wanted is None:
            raise ValueError(f"Unknown stage {stage!r}; choose fit, validate, test or predict.")
        splits = []
        for split in wanted:
            if self.has_split(split):
                splits.append(split)
            elif not (stage == "fit" and split == "val"):
                raise ValueError(
                    f"SequenceData has no {split} split for {stage}: {_SPLIT_HINTS[split]}."
                )
        return splits

    # ----------------------------------------------------------------- DataInterface
    def setup(self, stage: str | None = None) -> None:
        """Read, split and check the data of ``stage`` (once)."""
        for split in self.stage_splits(stage):
            self.datasets[split] = self.dataset(split)  # type: ignore[arg-type]

    def provided_columns(self, stage: str) -> set[str]:
        """Return ``{"sequences", "ids"}``, plus ``"labels"`` when all the stage's splits have them.

        Reads the stage's data (once) to know whether its label columns are present.

        Args:
            stage (str): ``"fit"``, ``"validate"``, ``"test"`` or ``"predict"``.
        """
        splits = self.stage_splits(stage)
        columns = {"sequences", "ids"}
        if splits and all(self.dataset(s).labels is not None for s in splits):  # type: ignore[arg-type]
            columns.add("labels")
        return columns

    def check_labels(self, stage: str, problem: LabelCheck) -> None:
        """Run a task's label check on every label of the stage's splits.

        Args:
            stage (str): the Lightning stage about to run.
            problem (LabelCheck): returns what is wrong with a label, or None if it is fine.

        Raises:
            ValueError: naming the file, row and column of the first bad label.
        """
        for split in self.stage_splits(stage):
            data = self.dataset(split)  # type: ignore[arg-type]
            if data.labels is None:
                continue
            for index, label in enumerate(data.labels):
                message = problem(label)
                if message:
                    raise ValueError(
                        f"{data.label_files[index]}, row {data.label_rows[index]}, "
                        f"{data.label_columns_text}: {message}"
                    )

    def batch_sampler(self, split: str) -> Sampler[list[int]] | None:
        """Group similar lengths when ``group_by_length`` is set (never for predict)."""
        if not self.group_by_length or split == "predict" or split not in self.datasets:
            return None
        data = self.datasets[split]
        return LengthGroupedBatchSampler(
            range(len(data)),  # type: ignore[arg-type]
            self.batch_size,
            False,
            lengths=data.lengths,  # type: ignore[attr-defined]
            shuffle=split == "train",
            seed=self.seed,
        )

    def state_dict(self) -> dict[str, Any]:
        """Save the class names read from the data, so a checkpoint predicts with the same ones."""
        return {"class_names": self.class_names} if self._class_names_known else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore class names read from the training data, unless the options give them.

        Lightning sets the data up before it restores a checkpoint, so splits already read
        with other names are read again.
        """
        if "class_names" not in state_dict or self._class_names_given:
            return
        names = state_dict["class_names"]
        if self._class_names_known and names == self.class_names:
            return
        self.class_names = list(names) if names is not None else None
        self._class_names_known = True
        self._sets.clear()
        for split in list(self.datasets):
            self.datasets[split] = self.dataset(split)  # type: ignore[arg-type]
