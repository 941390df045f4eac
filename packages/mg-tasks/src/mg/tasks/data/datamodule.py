"""`SequenceData`: the generic data module over sequence files and Hugging Face datasets.

It composes three parts: readers (`mg.tasks.data.readers`) turn files into tables, a
`SplitPlan` says which rows each split takes, and `LabelColumns` reads labels the way the
task says. What is left here is options, ids and sequences, and the Lightning hooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, get_args

from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch.utils.data import Sampler

from mg.core.alphabets import RESIDUES, AlphabetCheck
from mg.core.data import SPLITS_OF_STAGE, DataInterface, LabelCheck, LabelKind, stage_name
from mg.core.label_values import LabelFormatError, infer_class_names, is_missing, preview
from mg.core.labels import label_handler
from mg.tasks.data.dataset import SequenceDataset
from mg.tasks.data.label_columns import LabelColumns, ParsedLabels, RawLabels
from mg.tasks.data.plan import SPLIT_HINTS, SPLITS, Split, SplitPlan
from mg.tasks.data.readers import (
    DEFAULT_CHUNK_ROWS,
    FileFormat,
    Table,
    compile_header_pattern,
    hf_split_table,
    iter_path_chunks,
    load_hf_dataset,
    path_files,
    read_path,
)
from mg.tasks.data.samplers import TOKEN_ALLOWANCE, EpochBatchSampler, LengthGroupedBatchSampler
from mg.tasks.data.store import StoredSequenceDataset, StoreWriter

InferenceOrder = Literal["sorted", "file"]
"""How evaluation and prediction batches are ordered (see `SequenceData`)."""

Storage = Literal["auto", "memory", "disk"]

DISK_THRESHOLD_BYTES = 100_000_000
"""With ``storage="auto"``, an input whose files total more bytes than this is kept on disk."""

CHUNK_ROWS = DEFAULT_CHUNK_ROWS
"""Rows read at a time when a split is streamed into its disk store."""


class SequenceData(DataInterface):
    r"""Sequences and labels from CSV, TSV, Parquet, JSON Lines or FASTA files, or a HF dataset.

    Give the data either as one ``path`` (a file or a folder of files; training rows, plus
    validation and test rows split off at random or by fold) or as separate
    ``train_file``/``val_file``/``test_file``/``predict_file`` (each a file or a folder), or
    as ``hf_dataset``. Prediction reads ``predict_file``, else the test split, in file
    order: never the training rows unless you point ``predict_file`` at them.

    Labels are read the way the task says (its ``label_kind``: class, multilabel,
    regression, token, pairs), so a config states it once, on the task.

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
        label_type (str | None): a `LabelKind` value; None (the default) reads labels as
            the task says. Set it only to use SequenceData without a task, or to state
            the kind explicitly (a task reading another kind then stops with an error before any
            weights load). ``class`` an index or a class name; ``multilabel`` 0/1
            per column (or a list in one column); ``regression`` a number per column (or a
            list); ``token`` one class per residue (``"0110"``, ``"0 1 1 0"`` or a JSON
            list); ``pairs`` a JSON list of ``[i, j]`` 0-based pairs or a dot-bracket
            string; ``none`` ignores ``label_columns``.
        class_names (list[str] | None): class names in index order; without, names are
            read from the training data and sorted (a column of whole numbers is read as
            class indices; a column mixing numbers and names is an error).
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
        group_by_length (bool): training: batch sequences of similar length together, in a
            new shuffled order every epoch.
        max_tokens (int | None): a token budget per batch (as fairseq's ``max_tokens``): a
            batch holds at most this many padded tokens, counted as items x (longest
            sequence's residues + 2 for the special tokens most backbones add);
            ``batch_size`` still caps the items. Training batches are then length-grouped,
            shuffled per epoch (seed + epoch) and dealt equally to DDP processes; a single
            sequence over the budget gets a batch of its own. None: ``batch_size`` alone.
        inference_order (InferenceOrder): how validation, test and predict batch their items:
            ``"sorted"`` (longest first within windows of ``sort_window`` items; less
            padding, and predictions are still written in file order) or ``"file"``.
        sort_window (int): items per length-sorted inference window; the prediction writer
            holds at most about one window of rows while it restores file order.
        max_rows (int | None): read at most this many rows of each input, for quick runs.
        storage (Storage): where a split's parsed samples live. ``memory``: Python lists
            (fast, about 1-3 KB a row). ``disk``: a store in a temporary folder (under
            ``TMPDIR``), read by index, so memory stays flat however many rows there are;
            it holds splits given as whole inputs (``train_file``, ``val_file``,
            ``test_file``, ``predict_file``, or ``path`` without fractions or folds).
            ``auto`` (the default) keeps such an input on disk when its files total more
            than 100 MB, in memory otherwise. Hugging Face datasets stay in memory.
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
        label_type: str | None = None,
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
        max_tokens: int | None = None,
        inference_order: InferenceOrder = "sorted",
        sort_window: int = 4096,
        max_rows: int | None = None,
        storage: Storage = "auto",
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        self.storage = storage
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
        self.label_table = label_table
        self.header_pattern = header_pattern
        self.seed = seed
        self.group_by_length = group_by_length
        self.max_tokens = max_tokens
        self.inference_order = inference_order
        self.sort_window = sort_window
        _check_batching(max_tokens, inference_order, sort_window)
        self._budget_warned: set[str] = set()
        self.max_rows = max_rows
        self._check_options(class_names)
        pool = "hf:train" if hf_dataset else ("pool" if path or train_file else None)
        self.plan = SplitPlan(
            pool=pool,
            val_file=val_file,
            test_file=test_file,
            predict_file=predict_file,
            hf_splits=(lambda: list(self._hf())) if hf_dataset else None,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            n_folds=n_folds,
            fold=fold,
            fold_column=fold_column,
            test_fold=test_fold,
            seed=seed,
        )
        self._given_class_names = list(class_names) if class_names else None
        self._pattern = compile_header_pattern(header_pattern) if header_pattern else None
        self._kind: str | None = label_type
        self._labels: LabelColumns | None = None
        self._tables: dict[str, Table] = {}
        self._sets: dict[str, SequenceDataset | StoredSequenceDataset] = {}
        self._pending_stage: str | None = None
        self._told = False  # whether the checks entry point said the task's label kind
        self._hf_loaded: Any = None

    # ----------------------------------------------------------------- options
    @property
    def labelled(self) -> bool:
        """Whether label columns are configured and the labels are read (kind not none)."""
        return bool(self.label_columns) and self._kind != "none"

    @property
    def class_names(self) -> list[str] | None:
        """The class names, given or read from the training data (None: class indices)."""
        if self._labels is not None:
            return self._labels.class_names
        return self._given_class_names

    def _check_options(self, class_names: list[str] | None) -> None:
        pools = [n for n in ("path", "train_file", "hf_dataset") if getattr(self, n) is not None]
        if len(pools) > 1:
            raise ValueError(f"Give only one of {' / '.join(pools)}: each holds the training data.")
        if not pools and not any((self.val_file, self.test_file, self.predict_file)):
            raise ValueError(
                "SequenceData has no data: give path (a file or folder), train_file / val_file / "
                "test_file / predict_file, or hf_dataset."
            )
        if self.label_type is not None:
            label_handler(self.label_type)  # a kind it knows, or a ValueError naming them
        if (
            self.label_type not in (None, LabelKind.NONE)
            and label_handler(self.label_type).columns == "one"
            and len(self.label_columns) > 1
        ):
            raise ValueError(
                f"label_type={self.label_type!r} reads one label column, but label_columns is "
                f"{self.label_columns}; use 'multilabel' or 'regression' for several columns."
            )
        if class_names is not None:
            if self.label_type not in (None, "class"):
                raise ValueError(
                    f"class_names applies to class labels, not label_type={self.label_type!r}."
                )
            if len(set(class_names)) != len(class_names):
                raise ValueError(f"class_names repeats a name: {class_names}.")
        if self.storage not in ("auto", "memory", "disk"):
            raise ValueError(f"storage must be auto, memory or disk, not {self.storage!r}.")
        if self.max_rows is not None and self.max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, not {self.max_rows}.")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}.")

    def use_label_kind(self, kind: LabelKind | str) -> None:
        """Read labels as the task says (see `DataInterface.use_label_kind`).

        Splits already read are read again when the kind changes (files are not re-read).

        Raises:
            ValueError: ``label_type`` was set to another kind than the task reads, or the
                task reads class labels but ``class_names`` were given for another kind.
        """
        kind = str(getattr(kind, "value", kind))
        declared = self.label_type
        if declared not in (None, "none", kind) and kind != "none":
            raise ValueError(
                f"label_type is {declared!r}, but the task reads {kind!r} labels: remove "
                f"label_type (the task decides how labels are read), or choose a task for "
                f"{declared} labels."
            )
        if declared == "none":
            kind = "none"
        if self._given_class_names is not None and kind not in ("class", "none"):
            raise ValueError(
                f"class_names applies to class labels, but the task reads {kind!r} labels: "
                "remove class_names."
            )
        self._told = True
        if kind != self._kind:
            self._kind = kind  # type: ignore[assignment]
            self._labels = None
            self._sets.clear()
            for split in list(self.datasets):
                self.datasets[split] = self.dataset(split)  # type: ignore[arg-type]
        stages = [self._pending_stage] if self._pending_stage else []
        self._pending_stage = None
        for stage in stages:
            self.setup(stage)

    # ----------------------------------------------------------------- reading
    def _hf(self) -> Any:
        if self._hf_loaded is None:
            assert self.hf_dataset is not None
            self._hf_loaded = load_hf_dataset(self.hf_dataset, self.hf_config)
        return self._hf_loaded

    def _table(self, key: str) -> Table:
        """Read (once) the input called ``key``: pool, val, test, predict or hf:<split>."""
        if key not in self._tables:
            if key.startswith("hf:"):
                assert self.hf_dataset is not None
                table = hf_split_table(self._hf(), self.hf_dataset, key[3:], max_rows=self.max_rows)
            else:
                table = read_path(self._location(key), **self._read_options())
            self._tables[key] = table
        return self._tables[key]

    def _location(self, key: str) -> str:
        """The file or folder of the input called ``key`` (pool, val, test or predict)."""
        location = {
            "pool": self.path or self.train_file,
            "val": self.val_file,
            "test": self.test_file,
            "predict": self.predict_file,
        }[key]
        assert location is not None
        return location

    def _read_options(self) -> dict[str, Any]:
        return {
            "file_format": self.file_format,
            "id_column": self.id_column,
            "sequence_column": self.sequence_column,
            "header_pattern": self._pattern,
            "max_rows": self.max_rows,
            "exclude": (self.label_table,) if self.label_table else (),
        }

    def _on_disk(self, split: str, key: str, part: str | None) -> bool:
        """Whether ``split`` is kept in a disk store (see ``storage``); says so in the log."""
        if key.startswith("hf:") or self.storage == "memory":
            return False
        location = self._location(key)
        files = path_files(location, self._read_options()["exclude"])
        size = sum(f.stat().st_size for f in files)
        plan = self.plan
        carved = part is not None and bool(
            plan.val_fraction
            or plan.test_fraction
            or plan.n_folds
            or plan.fold_column
            or plan.test_fold is not None
        )
        if carved:
            if self.storage == "disk":
                raise ValueError(
                    f"storage='disk' keeps whole inputs on disk, but the {split} split is carved "
                    f"from {location} by val_fraction/test_fraction/n_folds/fold_column. Give "
                    "each split its own file or folder (train_file, val_file, test_file), or "
                    "set storage: memory."
                )
            if size > DISK_THRESHOLD_BYTES:
                rank_zero_info(
                    f"The {split} split is carved from {location} ({size / 1e6:,.0f} MB), so it "
                    "is read into memory; give each split its own file or folder to keep it on "
                    "disk."
                )
            return False
        if self.storage == "disk":
            return True
        if size > DISK_THRESHOLD_BYTES:
            rank_zero_info(
                f"Keeping the {split} split on disk: {location} holds {size / 1e6:,.0f} MB, over "
                f"storage='auto''s {DISK_THRESHOLD_BYTES / 1e6:,.0f} MB (set storage: memory or "
                "disk to choose)."
            )
            return True
        return False

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

    # ----------------------------------------------------------------- labels
    def _label_columns(self) -> LabelColumns:
        if self._labels is None:
            table = None
            if self.label_table is not None:
                if "label_table" not in self._tables:
                    self._tables["label_table"] = read_path(self.label_table, max_rows=None)
                table = self._tables["label_table"]
            self._labels = LabelColumns(
                self.label_columns, self.id_column, table, self._given_class_names
            )
        return self._labels

    def _learn_class_names(self, split_raw: RawLabels | None, indices: list[int], key: str) -> None:
        """Read class names from the training rows (or, without any, from this split).

        Args:
            split_raw (RawLabels | None): this split's raw labels (None: a disk split).
            indices (list[int]): this split's rows of ``split_raw``.
            key (str): this split's input, streamed when the split is on disk.
        """
        labels = self._label_columns()
        source = self.plan.source("train")
        if source is not None and source.part is None and self._on_disk("train", source.key, None):
            self._learn_class_names_streaming(source.key)
            return
        if split_raw is None and source is None:
            self._learn_class_names_streaming(key)
            return
        if source is not None:
            pool = self._table(source.key)
            rows = self.plan.rows(source, pool)
            raw = labels.raw(pool, self._ids(pool), rows, required=False)
            if raw is not None:
                split_raw, indices = raw, rows
        if split_raw is None:  # training rows without labels: learn from this split's input
            self._learn_class_names_streaming(key)
            return
        try:
            labels.learn_class_names(split_raw, indices)
        except LabelFormatError as error:
            raise ValueError(str(error)) from None

    def _learn_class_names_streaming(self, key: str) -> None:
        """Read class names from an input in chunks, keeping each distinct value once."""
        labels = self._label_columns()
        column = labels.columns[0]
        seen: dict[Any, tuple[Any, str]] = {}  # value → (value, where it first appears)
        for chunk in iter_path_chunks(
            self._location(key), chunk_rows=CHUNK_ROWS, **self._read_options()
        ):
            raw = labels.raw(chunk, self._ids(chunk), range(len(chunk)), required=False)
            if raw is None:
                continue
            for i, value in enumerate(raw.values[column]):
                name = value if isinstance(value, str | int | float) else repr(value)
                if name not in seen:
                    seen[name] = (value, raw.origin(i))
        try:
            labels.class_names = infer_class_names(
                [v for v, _ in seen.values()], [o for _, o in seen.values()], column
            )
        except LabelFormatError as error:
            raise ValueError(str(error)) from None
        labels.class_names_known = True

    # ----------------------------------------------------------------- building splits
    def _build(self, split: str) -> SequenceDataset | StoredSequenceDataset:
        source = self.plan.source(split)
        if source is None:
            raise ValueError(f"SequenceData has no {split} split: {SPLIT_HINTS[split]}.")
        if self._on_disk(split, source.key, source.part):
            return self._build_on_disk(split, source.key)
        table = self._table(source.key)
        indices = self.plan.rows(source, table)
        table.require_column(self.sequence_column, "sequence_column", "the sequences")
        all_ids = self._ids(table)
        sequences, files, rows = self._sequences(table, indices)
        if not sequences:
            raise ValueError(f"The {split} split of {table.source} is empty.")
        ids = [all_ids[i] for i in indices]
        _check_unique_ids(split, ids, files, rows)
        dataset = SequenceDataset(sequences, ids, None, files, rows)
        parsed = self._parse_labels(split, source.key, table, all_ids, indices, sequences)
        if parsed is not None:
            dataset.labels = parsed.labels
            dataset.raw_labels = parsed.raw
            dataset.label_files = parsed.files
            dataset.label_rows = parsed.rows
            dataset.label_columns_text = parsed.columns_text
        return dataset

    def _sequences(
        self, table: Table, indices: list[int] | range
    ) -> tuple[list[str], list[str], list[int]]:
        """The cleaned sequences of ``indices`` (whitespace removed), with file and row.

        Raises:
            ValueError: a sequence is empty or not text (naming file, row and column).
        """
        column = self.sequence_column
        values = table.columns[column]
        sequences, files, rows = [], [], []
        for i in indices:
            raw = values[i]
            if is_missing(raw) or not isinstance(raw, str):
                what = "empty" if is_missing(raw) else f"not text ({preview(raw)})"
                raise ValueError(
                    f"{table.files[i]}, row {table.rows[i]}, column {column!r}: the sequence is "
                    f"{what}."
                )
            sequences.append("".join(raw.split()))
            files.append(table.files[i])
            rows.append(table.rows[i])
        return sequences, files, rows

    def _parse_labels(
        self,
        split: str,
        key: str,
        table: Table,
        all_ids: list[str],
        indices: list[int] | range,
        sequences: list[str],
        streamed: bool = False,
    ) -> ParsedLabels | None:
        """Parse the labels of ``indices`` as the task says; None when there are none to read.

        ``streamed``: ``table`` is one chunk of the input ``key`` (class names, when they
        must be learned, then come from a streaming pass rather than this chunk).
        """
        if not self.labelled:
            return None
        if self._kind is None:
            raise ValueError(
                f"SequenceData does not know how to read the labels in {self.label_columns}: "
                "give it to a task (the task says), or set label_type."
            )
        labels = self._label_columns()
        raw = labels.raw(table, all_ids, indices, required=split != "predict")
        if raw is None:
            return None
        if self._kind == "class" and not labels.class_names_known:
            self._learn_class_names(None if streamed else raw, list(indices), key)
        return labels.parse(label_handler(self._kind), raw, indices, sequences)

    def _build_on_disk(self, split: str, key: str) -> StoredSequenceDataset:
        """Stream an input chunk by chunk into a disk store: same checks, same messages."""
        width: tuple[int, str] | None = None  # labels per row, and the row that set it
        columns_text = ""
        table_labels = (
            self._label_columns() if self.labelled and self.label_table is not None else None
        )
        missing_ids: list[str] = []
        missing_count = 0
        with StoreWriter() as writer:
            for chunk in iter_path_chunks(
                self._location(key), chunk_rows=CHUNK_ROWS, **self._read_options()
            ):
                chunk.require_column(self.sequence_column, "sequence_column", "the sequences")
                indices = range(len(chunk))
                ids = self._ids(chunk)
                sequences, files, rows = self._sequences(chunk, indices)
                parsed = None
                if table_labels is not None:
                    missing = table_labels.missing(ids)
                    if missing:  # said once the whole input is read, with the total count
                        missing_ids += missing[: 10 - len(missing_ids)]
                        missing_count += len(missing)
                        writer.drop_labels()
                if writer.labelled is not False:
                    parsed = self._parse_labels(split, key, chunk, ids, indices, sequences, True)
                    if parsed is None:
                        writer.drop_labels()  # a file without labels: the split has none
                if parsed is not None:
                    columns_text = parsed.columns_text
                    first = parsed.labels[0] if parsed.labels else None
                    if isinstance(first, list) and label_handler(self._kind).columns == "many":
                        here = f"{parsed.files[0]}, row {parsed.rows[0]}"
                        if width is None:
                            width = (len(first), here)
                        elif len(first) != width[0]:
                            raise ValueError(
                                f"{here}, {columns_text}: {len(first)} labels, but {width[1]} "
                                f"has {width[0]}; every row needs the same number."
                            )
                    writer.append(
                        sequences,
                        ids,
                        files,
                        rows,
                        parsed.labels,
                        parsed.raw,
                        parsed.files,
                        parsed.rows,
                    )
                else:
                    writer.append(sequences, ids, files, rows)
            if writer.size == 0:
                raise ValueError(f"The {split} split of {self._location(key)} is empty.")
            if missing_count and split != "predict":
                assert table_labels is not None
                raise table_labels.missing_error(
                    missing_ids, missing_count, writer.size, self._location(key)
                )
            store = writer.finish()
        try:
            repeats = [
                f"{name!r} ({store.file_names[store.file_index[a]]}, row {store.rows[a]} and "
                f"{store.file_names[store.file_index[b]]}, row {store.rows[b]})"
                for name, a, b in store.repeated_ids()
            ]
            _report_repeats(split, repeats)
        except BaseException:
            store.remove()
            raise
        return StoredSequenceDataset(store, columns_text if store.labelled else "")

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
            return [s for s in SPLITS if self.plan.has_split(s)]
        if stage not in SPLITS_OF_STAGE:
            raise ValueError(f"Unknown stage {stage!r}; choose fit, validate, test or predict.")
        splits = []
        for split in SPLITS_OF_STAGE[stage]:
            if self.plan.has_split(split):
                splits.append(split)
            elif not (stage == "fit" and split == "val"):
                raise ValueError(
                    f"SequenceData has no {split} split for {stage}: {SPLIT_HINTS[split]}."
                )
        return splits

    def has_split(self, split: str) -> bool:
        """Whether the options give ``split`` any data."""
        return self.plan.has_split(split)

    # ----------------------------------------------------------------- DataInterface
    def setup(self, stage: str | None = None) -> None:
        """Read, split and check the data of ``stage`` (once).

        When labels must be read but their kind is not known yet, reading waits until the
        checks entry point (`mg.core.checks.check_run`) says the task's kind
        (`use_label_kind`): Lightning sets the data up before the task.
        """
        # Under a trainer, labels wait for the task's kind even when label_type is set, so
        # that a label_type contradicting the task is said as such.
        waiting = self._kind is None or (self.trainer is not None and not self._told)
        if self.label_columns and waiting:
            self._pending_stage = stage
            return
        for split in self.stage_splits(stage):
            self.datasets[split] = self.dataset(split)  # type: ignore[arg-type]
        if stage == "predict" and not self.predict_file:
            data = self.datasets["predict"]
            rank_zero_info(f"Predicting the {len(data)} rows of the test split ({data.files[0]}).")

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

    def check_sequences(
        self, stage: str, alphabet: AlphabetCheck, reader: str, column: str = "sequences"
    ) -> None:
        """Check every sequence of a column of the stage's splits against an alphabet, at once.

        A split kept on disk is checked in chunks, so memory stays flat.

        Raises:
            ValueError: naming the file, row, id, column, character and 1-based position of
                the first character the backbone cannot read, and the fix.
        """
        for split in self.stage_splits(stage):
            data = self.dataset(split)  # type: ignore[arg-type]
            found = _first_invalid(self._sequence_blocks(data, column), alphabet)
            if found is None:
                continue
            index, position, char, sequence = found
            fits = [
                name
                for name, letters in RESIDUES.items()
                if not AlphabetCheck(letters + "NX").invalid_characters(sequence)
            ]
            hint = (
                f" The sequence reads as {' or '.join(fits)}: is {reader} the backbone for "
                "this data?"
                if fits
                else ""
            )
            where = "" if column == "sequences" else f", column {self._file_column(column)!r}"
            raise ValueError(
                f"{data.origin(index)}{where}, id {data.ids[index]!r}: the sequence holds "
                f"{char!r} at position {position + 1}, which is not in the {reader} alphabet "
                f"{alphabet.accepted!r}. Fix the row, or set unknown: map on the backbone to "
                f"read such characters as its unknown token.{hint}"
            )

    def _sequence_blocks(self, data: Any, column: str) -> Iterable[tuple[int, list[str]]]:
        """Yield ``(first index, sequences)`` blocks of a split's sequence column."""
        if column != "sequences":
            raise ValueError(f"SequenceData has no sequence column {column!r}.")
        if isinstance(data, StoredSequenceDataset):
            return data.sequences.chunks()
        return [(0, data.sequences)]

    def _file_column(self, column: str) -> str:
        """The file column a sample key comes from."""
        return self.sequence_column if column == "sequences" else column

    def check_labels(self, stage: str, problem: LabelCheck) -> None:
        """Run a task's label check on every label of the stage's splits.

        Args:
            stage (str): the Lightning stage about to run.
            problem (LabelCheck): returns what is wrong with a label, or None if it is fine.

        Raises:
            ValueError: naming the file, row, column and value as written of the first
                bad label.
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
                        f"{data.label_columns_text} = {preview(data.raw_labels[index])}: {message}"
                    )

    def batch_sampler(self, split: str) -> Sampler[list[int]] | None:
        """A seeded batch order for training; a length-sorted (or file) order for inference.

        The training order depends on ``seed`` and the epoch alone, so a resumed fit draws the
        interrupted epoch's batches again and skips those already trained on. Validation,
        test and predict batches are sorted by length within windows (``inference_order``),
        each item once, a contiguous block of the split per process under DDP (see
        `LengthGroupedBatchSampler`); the prediction writer puts rows back in file order.
        """
        if split not in self.datasets:
            return None
        data = self.datasets[split]
        train = split == "train"
        epoch, skip = 0, 0
        resume = getattr(self, "_resume_position", None)
        if train and resume is not None:
            epoch, skip = resume
            self._resume_position = None  # only the first loader after a restore continues
        sort = not train and self.inference_order == "sorted"
        if not (self.max_tokens or sort or (train and self.group_by_length)):
            return EpochBatchSampler(
                range(len(data)),  # type: ignore[arg-type]
                self.batch_size,
                False,
                shuffle=train,
                seed=self.seed,
                epoch=epoch,
                skip_batches=skip,
            )
        lengths = data.lengths  # type: ignore[attr-defined]
        if self.max_tokens is not None:
            self._warn_over_budget(split, lengths)
        return LengthGroupedBatchSampler(
            range(len(data)),  # type: ignore[arg-type]
            self.batch_size,
            False,
            lengths=lengths,
            shuffle=train,
            seed=self.seed,
            epoch=epoch,
            skip_batches=skip,
            max_tokens=self.max_tokens,
            sort_window=self.sort_window if sort else None,
        )

    def _warn_over_budget(self, split: str, lengths: list[int]) -> None:
        """Say once per split how many sequences exceed the token budget on their own."""
        assert self.max_tokens is not None
        over = [i for i, n in enumerate(lengths) if n + TOKEN_ALLOWANCE > self.max_tokens]
        if not over or split in self._budget_warned:
            return
        self._budget_warned.add(split)
        data = self.datasets[split]
        longest = max(over, key=lambda i: lengths[i])
        rank_zero_warn(
            f"{len(over)} {split} sequence(s) exceed max_tokens={self.max_tokens} on their own "
            f"(the longest: {data.ids[longest]!r}, {lengths[longest]} residues); each gets a "
            "batch of its own. Raise max_tokens, or lower the backbone's max_length to "
            "truncate them."
        )

    def _train_position(self) -> dict[str, int] | None:
        """The epoch and batch a fit resumed from this moment would continue at."""
        trainer = getattr(self, "trainer", None)
        if trainer is None or stage_name(trainer.state.fn) != "fit":
            return None
        done = int(trainer.fit_loop.epoch_loop.batch_progress.current.completed)
        epoch = int(trainer.current_epoch)
        total = trainer.num_training_batches
        if isinstance(total, int | float) and done >= total:
            epoch, done = epoch + 1, 0  # saved at the end of an epoch: the next one starts
        return {"epoch": epoch, "batches_done": done}

    def state_dict(self) -> dict[str, Any]:
        """Save the class names read from the data, and where the training order stands.

        Class names make a checkpoint predict with the same ones; the training position lets
        a resumed fit continue the same batch order.
        """
        state: dict[str, Any] = {}
        if self._labels is not None and self._given_class_names is None:
            state["class_names"] = self._labels.class_names
        position = self._train_position()
        if position is not None:
            state["train_position"] = position
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore class names read from the training data, unless the options give them.

        Lightning sets the data up before it restores a checkpoint, so splits already read
        with other names are read again. A saved training position makes the next training
        loader continue that epoch's order.
        """
        position = state_dict.get("train_position")
        if position is not None:
            self._resume_position = (int(position["epoch"]), int(position["batches_done"]))
        if "class_names" not in state_dict or self._given_class_names is not None:
            return
        names = state_dict["class_names"]
        labels = self._label_columns()
        if labels.class_names_known and names == labels.class_names:
            return
        labels.class_names = list(names) if names is not None else None
        labels.class_names_known = True
        self._sets.clear()
        for split in list(self.datasets):
            self.datasets[split] = self.dataset(split)  # type: ignore[arg-type]


def _first_invalid(
    blocks: Iterable[tuple[int, list[str]]], alphabet: AlphabetCheck
) -> tuple[int, int, str, str] | None:
    """(index, position, character, sequence) of the first character off the alphabet."""
    for start, sequences in blocks:
        found = alphabet.find_invalid(sequences)
        if found is not None:
            offset, position, char = found
            return start + offset, position, char, sequences[offset]
    return None


def _check_unique_ids(split: str, ids: list[str], files: list[str], rows: list[int]) -> None:
    """Refuse repeated ids in predictions (they are keyed by id); warn about them elsewhere.

    Raises:
        ValueError: a predict split repeats an id (naming the first ones and their rows).
    """
    first_row: dict[str, int] = {}
    repeats: list[str] = []
    for position, name in enumerate(ids):
        if name in first_row:
            first = first_row[name]
            repeats.append(
                f"{name!r} ({files[first]}, row {rows[first]} and {files[position]}, row "
                f"{rows[position]})"
            )
        else:
            first_row[name] = position
    _report_repeats(split, repeats)


def _report_repeats(split: str, repeats: list[str]) -> None:
    """Raise (predict) or warn (other splits) about repeated ids, each said as "'id' (where)".

    Raises:
        ValueError: a predict split repeats an id (naming the first ones and their rows).
    """
    if not repeats:
        return
    shown = "; ".join(repeats[:3]) + (f"; and {len(repeats) - 3} more" if len(repeats) > 3 else "")
    if split == "predict":
        raise ValueError(
            f"The predict split repeats ids, and predictions are keyed by id: {shown}. Give "
            "every row its own id (or drop the id column to number rows)."
        )
    rank_zero_warn(f"The {split} split repeats {len(repeats)} id(s): {shown}.")


def _check_batching(max_tokens: int | None, inference_order: str, sort_window: int) -> None:
    """Refuse batching options that cannot work, naming the option and the fix."""
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(
            f"max_tokens must be at least 1 (or None for no budget), not {max_tokens}."
        )
    if inference_order not in get_args(InferenceOrder):
        raise ValueError(
            f"inference_order must be one of {get_args(InferenceOrder)}, not {inference_order!r}."
        )
    if sort_window < 1:
        raise ValueError(f"sort_window must be at least 1, not {sort_window}.")
