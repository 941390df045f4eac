"""Label columns of a table: where each row's raw labels are, and reading them as a task says.

Labels sit in the data's own columns or in a separate label table joined on id.
`LabelColumns` finds each row's raw values (with the file and row they came from), reads
class names from the training data, and parses every row with the label handler
of the task's kind (`mg.core.labels`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mg.core.label_values import LabelFormatError, infer_class_names, is_missing
from mg.core.labels import LabelHandler, columns_text, parse_row
from mg.tasks.data.readers import Table


@dataclass
class RawLabels:
    """Raw label values for the rows of a table, and where each came from.

    Attributes:
        values (dict[str, list[Any]]): label column → one raw value per table row.
        files (list[str]): the file each row's label came from.
        rows (list[int]): the 1-based row each label came from.
    """

    values: dict[str, list[Any]]
    files: list[str]
    rows: list[int]

    def origin(self, index: int) -> str:
        """Say where row ``index``'s label came from: ``"file, row N"``."""
        return f"{self.files[index]}, row {self.rows[index]}"


@dataclass
class ParsedLabels:
    """Labels of one split, parsed, with their origins and raw values for messages."""

    labels: list[Any]
    raw: list[Any]
    files: list[str]
    rows: list[int]
    columns_text: str


class LabelColumns:
    """Reads the label columns of tables, in place or joined from a label table.

    Args:
        columns (Sequence[str]): the label column(s).
        id_column (str): the id column (to join a label table).
        label_table (Table | None): a table of ids and labels, already read.
        class_names (Sequence[str] | None): class names given by the user.

    Raises:
        ValueError: the label table repeats an id.
    """

    def __init__(
        self,
        columns: Sequence[str],
        id_column: str,
        label_table: Table | None = None,
        class_names: Sequence[str] | None = None,
    ) -> None:
        self.columns = list(columns)
        self.id_column = id_column
        self.label_table = label_table
        self.class_names: list[str] | None = list(class_names) if class_names else None
        self.class_names_known = self.class_names is not None
        self._index = self._index_label_table() if label_table is not None else {}

    def _index_label_table(self) -> dict[str, int]:
        table = self.label_table
        assert table is not None
        table.require_column(self.id_column, "id_column", "the ids the labels belong to")
        for column in self.columns:
            table.require_column(column, "label_columns", "the labels")
        index: dict[str, int] = {}
        for position, value in enumerate(table.columns[self.id_column]):
            name = "" if is_missing(value) else str(value).strip()
            if name in index:
                raise ValueError(
                    f"{table.files[position]}, row {table.rows[position]}, column "
                    f"{self.id_column!r}: the id {name!r} already labels row "
                    f"{table.rows[index[name]]}; give each id one label row."
                )
            index[name] = position
        return index

    def raw(
        self, table: Table, ids: Sequence[str], indices: Sequence[int], required: bool
    ) -> RawLabels | None:
        """Return the raw labels of a table's rows, or None when they are not there.

        Args:
            table (Table): the data.
            ids (Sequence[str]): the id of every row of ``table``.
            indices (Sequence[int]): the rows that must have labels.
            required (bool): raise (rather than return None) when labels are missing.
        """
        if self.label_table is None:
            for column in self.columns:
                if not table.has_column(column):
                    if required:
                        table.require_column(column, "label_columns", "the labels")
                    return None
            return RawLabels({c: table.columns[c] for c in self.columns}, table.files, table.rows)
        labels = self.label_table
        missing = self.missing([ids[i] for i in indices])
        if missing:
            if not required:
                return None
            raise self.missing_error(missing, len(missing), len(indices), table.source)
        positions = [self._index.get(name, -1) for name in ids]
        return RawLabels(
            {
                c: [labels.columns[c][p] if p >= 0 else None for p in positions]
                for c in self.columns
            },
            [labels.files[p] if p >= 0 else "" for p in positions],
            [labels.rows[p] if p >= 0 else 0 for p in positions],
        )

    def missing(self, ids: Sequence[str]) -> list[str]:
        """Return the ids the label table has no row for (none without a label table)."""
        if self.label_table is None:
            return []
        return [name for name in ids if name not in self._index]

    def missing_error(self, shown: list[str], count: int, total: int, source: str) -> ValueError:
        """The error for ``count`` of ``total`` ids of ``source`` without a label row.

        Args:
            shown (list[str]): the first missing ids (ten are named).
            count (int): how many ids are missing.
            total (int): how many ids the split has.
            source (str): the data the ids come from.
        """
        assert self.label_table is not None
        names = ", ".join(repr(m) for m in shown[:10])
        more = f" and {count - 10} more" if count > 10 else ""
        return ValueError(
            f"{self.label_table.source} has no label for {count} of the {total} ids of "
            f"{source}: {names}{more}. Add rows for them to the label table (matched on "
            f"{self.id_column!r})."
        )

    def learn_class_names(self, parts: Iterable[tuple[RawLabels, Sequence[int]]]) -> None:
        """Read class names from raw class labels, unless the user gave them.

        One pass over any number of parts (a split's rows, or an input streamed in chunks),
        keeping each distinct value once, with where it first appears.

        Args:
            parts (Iterable[tuple[RawLabels, Sequence[int]]]): raw labels of the training
                data (or of the one split there is), and the rows of each to read.

        Raises:
            ValueError: a class label is a fraction, or the column mixes indices and names.
        """
        if self.class_names_known:
            return
        column = self.columns[0]
        seen: dict[Any, tuple[Any, str]] = {}  # value → (value, where it first appears)
        for raw, indices in parts:
            values = raw.values[column]
            for i in indices:
                value = values[i]
                name = value if isinstance(value, str | int | float) else repr(value)
                if name not in seen:
                    seen[name] = (value, raw.origin(i))
        try:
            self.class_names = infer_class_names(
                [v for v, _ in seen.values()], [o for _, o in seen.values()], column
            )
        except LabelFormatError as error:
            raise ValueError(str(error)) from None
        self.class_names_known = True

    def parse(
        self,
        handler: LabelHandler,
        raw: RawLabels,
        indices: Sequence[int],
        sequences: Sequence[str],
    ) -> ParsedLabels:
        """Parse the labels of ``indices`` with the task's label handler.

        Args:
            handler (LabelHandler): the handler of the task's label kind.
            raw (RawLabels): the raw labels of the table.
            indices (Sequence[int]): the table rows of the split, in order.
            sequences (Sequence[str]): the sequence of each of those rows.

        Raises:
            ValueError: naming the file, row, column and value of the first bad label, or
                a row whose number of labels differs from the others.
        """
        named = columns_text(self.columns)
        labels, raws, files, rows = [], [], [], []
        width: tuple[int, str] | None = None  # labels per row, and the row that set it
        for i, sequence in zip(indices, sequences, strict=True):
            values = [raw.values[c][i] for c in self.columns]
            label, problem = parse_row(handler, values, sequence, self.columns, self.class_names)
            if problem is not None:
                raise ValueError(f"{raw.origin(i)}, {problem}")
            if handler.columns == "many" and isinstance(label, list):
                if width is None:
                    width = (len(label), raw.origin(i))
                elif len(label) != width[0]:
                    raise ValueError(
                        f"{raw.origin(i)}, {named}: {len(label)} labels, but "
                        f"{width[1]} has {width[0]}; every row needs the same number."
                    )
            labels.append(label)
            raws.append(values[0] if len(values) == 1 else values)
            files.append(raw.files[i])
            rows.append(raw.rows[i])
        return ParsedLabels(labels, raws, files, rows, named)
