"""`Table`: columns read from files with each row's origin, and what a format reader is.

Every reader returns a `Table`: columns of plain Python values plus, for each row, the file
it came from and its 1-based data row (the header line is not counted; in FASTA files the
row is the record number, in JSON Lines files the line number). Error messages everywhere
in `mg.tasks.data` name that file and row.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FileFormat = str
"""A registered format's name (the suffix it is registered by, e.g. ``"csv"``), or ``"auto"``."""


@dataclass(frozen=True)
class ReadOptions:
    """What a format reader is asked for; a reader uses the options that apply to it.

    Attributes:
        id_column (str): the name to give an id read from the file's records (FASTA).
        sequence_column (str): the name to give a sequence read from records (FASTA).
        header_pattern (re.Pattern[str] | None): FASTA: named groups read from headers.
        max_rows (int | None): read at most this many data rows.
        chunk_rows (int | None): rows per yielded table; None yields the file as one table.
    """

    id_column: str = "id"
    sequence_column: str = "sequence"
    header_pattern: re.Pattern[str] | None = None
    max_rows: int | None = None
    chunk_rows: int | None = None


@dataclass
class Table:
    """Columns read from one or more files, with each row's origin.

    Attributes:
        source (str): what the user pointed at (a file, a folder or a dataset name).
        columns (dict[str, list[Any]]): column name → one value per row; a column that some
            files lack holds None in their rows.
        files (list[str]): the file each row came from.
        rows (list[int]): each row's 1-based data row within its file.
        file_columns (dict[str, list[str]]): each file's own columns, in file order.
    """

    source: str
    columns: dict[str, list[Any]]
    files: list[str]
    rows: list[int]
    file_columns: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def has_column(self, column: str) -> bool:
        """Whether every file of the table holds ``column``."""
        return bool(self.file_columns) and all(
            column in names for names in self.file_columns.values()
        )

    def require_column(self, column: str, option: str, what: str) -> None:
        """Raise a ValueError naming the first file without ``column``.

        Args:
            column (str): the column needed.
            option (str): the data-module option that names the column.
            what (str): what the column should hold, for the message.
        """
        for file, names in self.file_columns.items():
            if column not in names:
                raise ValueError(
                    f"{file} has no column {column!r}; its columns are {names}. Set {option} "
                    f"to the column that holds {what}."
                )


FormatReader = Callable[[Path, ReadOptions], Iterator[Table]]
"""A format: reads one file into tables of at most ``options.chunk_rows`` rows, numbering
rows 1-based as in the whole file, and raises a ValueError naming the file and row of
anything it cannot read."""


def open_text(path: Path) -> Any:
    """Open a text file (gzip-compressed when its name ends in ``.gz``) as UTF-8."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def empty_file_error(path: Path) -> ValueError:
    """The error for a file without data rows."""
    return ValueError(f"{path} is empty: it holds no data rows. Remove it or fill it.")


def from_records(path: Path, columns: dict[str, list[Any]], first_row: int = 1) -> Table:
    """A table of one file's columns, rows numbered from ``first_row``."""
    n = len(next(iter(columns.values()))) if columns else 0
    return Table(
        source=str(path),
        columns=columns,
        files=[str(path)] * n,
        rows=list(range(first_row, first_row + n)),
        file_columns={str(path): list(columns)},
    )


def one_table(path: Path, chunks: Iterator[Table]) -> Table:
    """Stack a file's chunks into one table (a file read whole is a single chunk)."""
    tables = list(chunks)
    return tables[0] if len(tables) == 1 else concat_tables(tables, str(path))


def concat_tables(tables: list[Table], source: str) -> Table:
    """Stack tables row-wise; a column some tables lack holds None in their rows."""
    names: dict[str, None] = {}
    for table in tables:
        names.update(dict.fromkeys(table.columns))
    columns: dict[str, list[Any]] = {name: [] for name in names}
    files: list[str] = []
    rows: list[int] = []
    file_columns: dict[str, list[str]] = {}
    for table in tables:
        n = len(table)
        for name in names:
            columns[name].extend(table.columns.get(name, [None] * n))
        files += table.files
        rows += table.rows
        for file, names_of_file in table.file_columns.items():
            known = file_columns.setdefault(file, [])
            known += [name for name in names_of_file if name not in known]
    return Table(source, columns, files, rows, file_columns)
