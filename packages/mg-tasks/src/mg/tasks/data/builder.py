"""`SplitBuilder`: one way to turn a split's rows into samples, in memory or on disk.

A split is read as chunks of ``(table, rows)``: a whole input read once, or an input
streamed `CHUNK_ROWS` at a time. Each chunk's ids, sequences and labels are checked and
parsed the same way and appended to a writer: a `MemoryWriter`, or a `StoreWriter` whose
samples stay in a temporary folder (see ``storage``). Both end with the same checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

from lightning.pytorch.utilities import rank_zero_info

from mg.core.data import LabelKind
from mg.core.labels import label_handler
from mg.tasks.data.dataset import MemoryWriter, SequenceDataset
from mg.tasks.data.label_columns import LabelColumns, ParsedLabels, RawLabels
from mg.tasks.data.plan import SPLIT_HINTS, SplitPlan, SplitSource
from mg.tasks.data.readers import Table
from mg.tasks.data.rows import clean_sequences, read_ids, repeated_ids, report_repeats
from mg.tasks.data.source import DataSource
from mg.tasks.data.store import StoredSequenceDataset
from mg.tasks.data.store_writer import StoreWriter

Storage = Literal["auto", "memory", "disk"]

DISK_THRESHOLD_BYTES = 100_000_000
"""With ``storage="auto"``, an input whose files total more bytes than this is kept on disk."""


class SplitBuilder:
    """Builds each split's samples and reads its labels as the task's kind says.

    Args:
        source (DataSource): the inputs.
        plan (SplitPlan): which rows each split takes.
        storage (Storage): where whole inputs are kept (see `SequenceData`).
        label_columns (list[str]): the label column(s).
        label_type (str | None): the label kind stated in the options, None: the task's.
        class_names (list[str] | None): class names given by the user.

    Raises:
        ValueError: an unknown label kind or storage, a one-column kind given several
            columns, or class names for a kind other than class.
    """

    def __init__(
        self,
        source: DataSource,
        plan: SplitPlan,
        storage: Storage,
        label_columns: list[str],
        label_type: str | None,
        class_names: list[str] | None,
    ) -> None:
        if label_type is not None:
            label_handler(label_type)  # a kind it knows, or a ValueError naming them
        if (
            label_type not in (None, LabelKind.NONE)
            and label_handler(label_type).columns == "one"
            and len(label_columns) > 1
        ):
            raise ValueError(
                f"label_type={label_type!r} reads one label column, but label_columns is "
                f"{label_columns}; use 'multilabel' or 'regression' for several columns."
            )
        if class_names is not None:
            if label_type not in (None, "class"):
                raise ValueError(
                    f"class_names applies to class labels, not label_type={label_type!r}."
                )
            if len(set(class_names)) != len(class_names):
                raise ValueError(f"class_names repeats a name: {class_names}.")
        if storage not in ("auto", "memory", "disk"):
            raise ValueError(f"storage must be auto, memory or disk, not {storage!r}.")
        self.source = source
        self.plan = plan
        self.storage = storage
        self.label_columns = label_columns
        self.label_type = label_type
        self.given_class_names = list(class_names) if class_names else None
        self.kind: str | None = label_type
        self._labels: LabelColumns | None = None

    # ----------------------------------------------------------------- labels
    @property
    def labelled(self) -> bool:
        """Whether label columns are configured and the labels are read (kind not none)."""
        return bool(self.label_columns) and self.kind != "none"

    @property
    def class_names(self) -> list[str] | None:
        """The class names, given or read from the training data (None: class indices)."""
        return self._labels.class_names if self._labels is not None else self.given_class_names

    @property
    def class_names_learned(self) -> bool:
        """Whether `class_names` come from the data (not the options): a checkpoint keeps them."""
        return self._labels is not None and self.given_class_names is None

    def restore_class_names(self, names: list[str] | None) -> bool:
        """Use class names saved with a checkpoint, unless the options give them.

        Returns:
            bool: whether they differ from the names in use (built splits must be rebuilt).
        """
        if self.given_class_names is not None:
            return False
        labels = self.labels()
        if labels.class_names_known and names == labels.class_names:
            return False
        labels.class_names = list(names) if names is not None else None
        labels.class_names_known = True
        return True

    def use_kind(self, kind: str) -> bool:
        """Read labels as ``kind`` from now on; return whether built splits must be rebuilt.

        Raises:
            ValueError: ``label_type`` states another kind, or class names were given for
                a kind other than class.
        """
        declared = self.label_type
        if declared not in (None, "none", kind) and kind != "none":
            raise ValueError(
                f"label_type is {declared!r}, but the task reads {kind!r} labels: remove "
                f"label_type (the task decides how labels are read), or choose a task for "
                f"{declared} labels."
            )
        if declared == "none":
            kind = "none"
        if self.given_class_names is not None and kind not in ("class", "none"):
            raise ValueError(
                f"class_names applies to class labels, but the task reads {kind!r} labels: "
                "remove class_names."
            )
        if kind == self.kind:
            return False
        self.kind, self._labels = kind, None
        return True

    def labels(self) -> LabelColumns:
        """The label columns (made once, with the label table when there is one)."""
        if self._labels is None:
            self._labels = LabelColumns(
                self.label_columns,
                self.source.id_column,
                self.source.label_table(),
                self.given_class_names,
            )
        return self._labels

    def _learn_class_names(self, split_raw: RawLabels | None, rows: list[int], key: str) -> None:
        """Read class names from the training rows (or, without any, from this split).

        Args:
            split_raw (RawLabels | None): this split's raw labels (None: streamed on disk).
            rows (list[int]): this split's rows of ``split_raw``.
            key (str): this split's input, streamed when its labels are not at hand.
        """
        labels = self.labels()
        train = self.plan.source("train")
        if train is not None:
            pool = self.source.table(train.key)
            train_rows = self.plan.rows(train, pool)
            raw = labels.raw(pool, read_ids(pool, self.source.id_column), train_rows, False)
            if raw is not None:
                split_raw, rows = raw, train_rows
        # Training rows without labels (or none at all): learn from this split's input.
        parts = [(split_raw, rows)] if split_raw is not None else self._streamed_labels(key)
        labels.learn_class_names(parts)

    def _streamed_labels(self, key: str) -> Iterator[tuple[RawLabels, Sequence[int]]]:
        labels = self.labels()
        for chunk in self.source.chunks(key):
            ids = read_ids(chunk, self.source.id_column)
            raw = labels.raw(chunk, ids, range(len(chunk)), required=False)
            if raw is not None:
                yield raw, range(len(chunk))

    def _parse_labels(
        self,
        split: str,
        key: str,
        table: Table,
        ids: list[str],
        rows: list[int],
        sequences: list[str],
        streamed: bool,
    ) -> ParsedLabels | None:
        """Parse the labels of ``rows`` as the task says; None when there are none to read."""
        if not self.labelled:
            return None
        if self.kind is None:
            raise ValueError(
                f"SequenceData does not know how to read the labels in {self.label_columns}: "
                "give it to a task (the task says), or set label_type."
            )
        labels = self.labels()
        raw = labels.raw(table, ids, rows, required=split != "predict")
        if raw is None:
            return None
        if self.kind == "class" and not labels.class_names_known:
            self._learn_class_names(None if streamed else raw, rows, key)
        return labels.parse(label_handler(self.kind), raw, rows, sequences)

    # ----------------------------------------------------------------- storage
    def keep_on_disk(self, split: str, source: SplitSource) -> bool:
        """Whether ``split`` is kept in a disk store (see ``storage``); says so in the log.

        Raises:
            ValueError: ``storage="disk"`` for a split carved from the pool.
        """
        if self.storage == "memory":
            return False
        location = self.source.location(source.key)
        size = self.source.size(source.key)
        if self.plan.is_carved(source):
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

    # ----------------------------------------------------------------- building
    def build(self, split: str) -> SequenceDataset | StoredSequenceDataset:
        """Read, check and parse the samples of ``split``.

        Raises:
            ValueError: the split is not configured, or its data fails a check (naming
                the file, row and column).
        """
        source = self.plan.source(split)
        if source is None:
            raise ValueError(f"SequenceData has no {split} split: {SPLIT_HINTS[split]}.")
        on_disk = self.keep_on_disk(split, source)
        if on_disk:
            where = self.source.location(source.key)
            chunks: Iterable[tuple[Table, list[int]]] = (
                (chunk, list(range(len(chunk)))) for chunk in self.source.chunks(source.key)
            )
            writer: MemoryWriter | StoreWriter = StoreWriter()
        else:
            table = self.source.table(source.key)
            where = table.source
            chunks = [(table, self.plan.rows(source, table))]
            writer = MemoryWriter()
        with writer:
            columns_text = self._write(split, source.key, chunks, writer, where, on_disk)
            if isinstance(writer, MemoryWriter):
                data = writer.finish(columns_text)
                report_repeats(split, _said(repeated_ids(data.ids, data.files, data.rows), data))
                return data
            store = writer.finish()
        dataset = StoredSequenceDataset(store, columns_text if store.labelled else "")
        try:
            report_repeats(split, _said(store.repeated_ids(), dataset))
        except BaseException:
            store.remove()
            raise
        return dataset

    def _write(
        self,
        split: str,
        key: str,
        chunks: Iterable[tuple[Table, list[int]]],
        writer: MemoryWriter | StoreWriter,
        where: str,
        streamed: bool,
    ) -> str:
        """Check and parse every chunk into ``writer``; return the label columns' text."""
        column = self.source.sequence_column
        width: tuple[int, str] | None = None  # labels per row, and the row that set it
        columns_text = ""
        table_labels = (
            self.labels() if self.labelled and self.source.label_table_path is not None else None
        )
        missing_ids: list[str] = []
        missing_count = 0
        for table, rows in chunks:
            table.require_column(column, "sequence_column", "the sequences")
            all_ids = read_ids(table, self.source.id_column)
            sequences, files, file_rows = clean_sequences(table, column, rows)
            if not sequences:
                continue
            ids = [all_ids[i] for i in rows]
            if table_labels is not None:
                missing = table_labels.missing(ids)
                if missing:  # said once the whole input is read, with the total count
                    missing_ids += missing[: 10 - len(missing_ids)]
                    missing_count += len(missing)
                    writer.drop_labels()
            parsed = None
            if writer.labelled is not False:
                parsed = self._parse_labels(split, key, table, all_ids, rows, sequences, streamed)
                if parsed is None:
                    writer.drop_labels()  # a file without labels: the split has none
            if parsed is None:
                writer.append(sequences, ids, files, file_rows)
                continue
            columns_text = parsed.columns_text
            first = parsed.labels[0] if parsed.labels else None
            if isinstance(first, list) and label_handler(self.kind).columns == "many":  # type: ignore[arg-type]
                here = f"{parsed.files[0]}, row {parsed.rows[0]}"
                if width is None:
                    width = (len(first), here)
                elif len(first) != width[0]:
                    raise ValueError(
                        f"{here}, {columns_text}: {len(first)} labels, but {width[1]} "
                        f"has {width[0]}; every row needs the same number."
                    )
            writer.append(sequences, ids, files, file_rows, parsed)
        if writer.size == 0:
            raise ValueError(f"The {split} split of {where} is empty.")
        if missing_count and split != "predict":
            assert table_labels is not None
            raise table_labels.missing_error(missing_ids, missing_count, writer.size, where)
        return columns_text


def _said(
    repeats: list[tuple[str, int, int]], data: SequenceDataset | StoredSequenceDataset
) -> list[str]:
    """Say each repeated id as "'id' (file, row N and file, row M)"."""
    return [
        f"{name!r} ({data.files[a]}, row {int(data.rows[a])} and {data.files[b]}, row "
        f"{int(data.rows[b])})"
        for name, a, b in repeats
    ]
