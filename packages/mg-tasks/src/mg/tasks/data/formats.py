"""The formats mg-tasks registers (``mg.formats``): CSV, TSV, Parquet, JSON Lines and FASTA.

Each is one reader function, ``reader(path, options) -> Iterator[Table]`` (see
`FormatReader`), registered by file suffix in mg-tasks' ``pyproject.toml``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mg.tasks.data.table import (
    ReadOptions,
    Table,
    empty_file_error,
    from_records,
    one_table,
    open_text,
)


def _delimited_chunks(
    path: Path, sep: str, max_rows: int | None, chunk_rows: int | None
) -> Iterator[Table]:
    import pandas as pd  # here, not at import: it is a slow import few commands need

    kind = "TSV" if sep == "\t" else "CSV"
    options: dict[str, Any] = {
        "sep": sep,
        "dtype": str,
        "keep_default_na": False,
        "na_filter": False,
        "nrows": max_rows,
    }
    try:
        if chunk_rows is None:
            frames: Any = [pd.read_csv(path, **options)]
        else:
            frames = pd.read_csv(path, chunksize=chunk_rows, **options)
        first_row = 1
        for frame in frames:
            if frame.empty:
                continue
            columns = {str(name): frame[name].tolist() for name in frame.columns}
            yield from_records(path, columns, first_row)
            first_row += len(frame)
    except pd.errors.EmptyDataError as error:
        raise empty_file_error(path) from error
    except pd.errors.ParserError as error:
        raise ValueError(f"{path} is not a valid {kind} file: {error}") from error
    if first_row == 1:
        header = list(pd.read_csv(path, sep=sep, dtype=str, nrows=0).columns)
        raise ValueError(f"{path} has a header ({header}) but no data rows. Remove it or fill it.")


def read_csv_chunks(path: Path, options: ReadOptions) -> Iterator[Table]:
    """CSV with a header line; every value is read as text (parsed later, with its row)."""
    return _delimited_chunks(path, ",", options.max_rows, options.chunk_rows)


def read_tsv_chunks(path: Path, options: ReadOptions) -> Iterator[Table]:
    """TSV with a header line; every value is read as text (parsed later, with its row)."""
    return _delimited_chunks(path, "\t", options.max_rows, options.chunk_rows)


def read_parquet_chunks(path: Path, options: ReadOptions) -> Iterator[Table]:
    """Parquet; list columns come back as Python lists (needs ``pyarrow``)."""
    return _parquet_chunks(path, options.max_rows, options.chunk_rows)


def read_jsonl_chunks(path: Path, options: ReadOptions) -> Iterator[Table]:
    """JSON Lines: one JSON object per line (blank lines skipped); a row is its line number."""
    return _jsonl_chunks(path, options.max_rows, options.chunk_rows)


def read_fasta_chunks(path: Path, options: ReadOptions) -> Iterator[Table]:
    """FASTA: the id is the header's first word, ``description`` the whole header."""
    return _fasta_chunks(
        path,
        options.id_column,
        options.sequence_column,
        options.header_pattern,
        options.max_rows,
        options.chunk_rows,
    )


def _parquet_chunks(path: Path, max_rows: int | None, chunk_rows: int | None) -> Iterator[Table]:
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise ImportError(
            f"Reading the Parquet file {path} needs pyarrow, which is not installed: "
            "pip install 'mg-tasks[parquet]'."
        ) from error
    handle = pq.ParquetFile(path)
    total = handle.metadata.num_rows
    if max_rows is not None:
        total = min(total, max_rows)
    if total == 0:
        raise empty_file_error(path)
    first_row = 1
    for batch in handle.iter_batches(batch_size=chunk_rows or max(total, 1)):
        if first_row > total:
            break
        batch = batch.slice(0, total - first_row + 1)
        yield from_records(path, {str(k): v for k, v in batch.to_pydict().items()}, first_row)
        first_row += batch.num_rows


def _jsonl_chunks(path: Path, max_rows: int | None, chunk_rows: int | None) -> Iterator[Table]:
    records: list[dict[str, Any]] = []
    rows: list[int] = []
    # Names seen so far in the file: a chunk carries every one (None where a record lacks it).
    names: dict[str, None] = {}
    count = 0

    def table() -> Table:
        columns = {name: [record.get(name) for record in records] for name in names}
        return Table(str(path), columns, [str(path)] * len(rows), rows, {str(path): list(names)})

    with open_text(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if max_rows is not None and count >= max_rows:
                break
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}, row {line_number}: not valid JSON ({error}).") from error
            if not isinstance(record, dict):
                raise ValueError(
                    f"{path}, row {line_number}: expected a JSON object with named fields, got "
                    f"{type(record).__name__}."
                )
            records.append(record)
            rows.append(line_number)
            names.update(dict.fromkeys(record))
            count += 1
            if chunk_rows is not None and len(records) >= chunk_rows:
                yield table()
                records, rows = [], []
    if records:
        yield table()
    if count == 0:
        raise empty_file_error(path)


def _fasta_records(path: Path) -> Iterator[tuple[str, str, int]]:
    """Yield (header, sequence, line of the header) for each record."""
    header: str | None = None
    header_line = 0
    body: list[str] = []
    with open_text(path) as handle:
        for line_number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if line.startswith(">"):
                if header is not None:
                    yield header, "".join(body), header_line
                header, header_line, body = line[1:].strip(), line_number, []
            elif not line or line.startswith(";"):
                continue
            elif header is None:
                raise ValueError(
                    f"{path}, line {line_number}: sequence text before the first '>' header; is "
                    "this a FASTA file?"
                )
            else:
                body.append("".join(line.split()))
    if header is not None:
        yield header, "".join(body), header_line


def compile_header_pattern(pattern: str) -> re.Pattern[str]:
    r"""Compile a FASTA header pattern and check it names at least one group.

    Args:
        pattern (str): a regular expression such as ``r"label=(?P<label>\S+)"``.

    Raises:
        ValueError: the pattern is invalid or has no named group.
    """
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ValueError(
            f"header_pattern {pattern!r} is not a valid regular expression: {error}"
        ) from error
    if not compiled.groupindex:
        raise ValueError(
            f"header_pattern {pattern!r} has no named group: name the part of the header that "
            r"holds a column, e.g. 'label=(?P<label>\S+)'."
        )
    return compiled


def _fasta_chunks(
    path: Path,
    id_column: str,
    sequence_column: str,
    header_pattern: str | re.Pattern[str] | None,
    max_rows: int | None,
    chunk_rows: int | None,
) -> Iterator[Table]:
    pattern = (
        compile_header_pattern(header_pattern)
        if isinstance(header_pattern, str)
        else header_pattern
    )
    names = [id_column, sequence_column, "description"]
    if pattern is not None:
        names += [name for name in pattern.groupindex if name not in names]
    columns: dict[str, list[Any]] = {name: [] for name in names}
    first_row = 1
    record = 0
    for record, (header, sequence, line) in enumerate(_fasta_records(path), start=1):
        if max_rows is not None and record > max_rows:
            record -= 1
            break
        columns[id_column].append(header.split()[0] if header else "")
        columns[sequence_column].append(sequence)
        columns["description"].append(header)
        if pattern is not None:
            match = pattern.search(header)
            if match is None:
                raise ValueError(
                    f"{path}, row {record} (line {line}), column 'header': the header {header!r} "
                    f"does not match header_pattern {pattern.pattern!r}."
                )
            for name in pattern.groupindex:
                if name not in (id_column, sequence_column, "description"):
                    columns[name].append(match.group(name))
        if chunk_rows is not None and record - first_row + 1 >= chunk_rows:
            yield from_records(path, columns, first_row)
            columns = {name: [] for name in names}
            first_row = record + 1
    if record == 0:
        raise empty_file_error(path)
    if record >= first_row:
        yield from_records(path, columns, first_row)


def read_fasta(
    path: str | Path,
    *,
    id_column: str = "id",
    sequence_column: str = "sequence",
    header_pattern: str | re.Pattern[str] | None = None,
    max_rows: int | None = None,
) -> Table:
    """Read a FASTA file; sequences may span several lines.

    The id is the header's first word; the whole header is the ``description`` column. With
    ``header_pattern``, each named group of the pattern becomes a column, read from the
    header (for labels such as ``>seq1 label=3``).

    Args:
        path (str | Path): the file.
        id_column (str): the name to give the id column.
        sequence_column (str): the name to give the sequence column.
        header_pattern (str | re.Pattern[str] | None): a regular expression with named groups.
        max_rows (int | None): read at most this many records.

    Raises:
        ValueError: a header does not match ``header_pattern``.
    """
    path = Path(path)
    chunks = _fasta_chunks(path, id_column, sequence_column, header_pattern, max_rows, None)
    return one_table(path, chunks)
