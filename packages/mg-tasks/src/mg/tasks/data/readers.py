"""Readers that turn sequence files into column tables, remembering where each row came from.

Every reader returns a `Table`: columns of plain Python values plus, for each row, the file
it came from and its 1-based data row (the header line is not counted; in FASTA files the
row is the record number, in JSON Lines files the line number). Error messages everywhere
in `mg.tasks.data` name that file and row.

Supported inputs: every format registered in the ``mg.formats`` entry-point group (`mg list
formats`): mg-tasks registers CSV, TSV, Parquet (needs ``pyarrow``: ``pip install
'mg-tasks[parquet]'``), JSON Lines and FASTA, optionally gzip-compressed (``.csv.gz``...);
a folder of such files; and Hugging Face datasets (needs the ``datasets`` package).

A format is one reader function, ``reader(path, options) -> Iterator[Table]``, registered
by file suffix (see `FormatReader` and docs/adding-data-formats.md).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mg.core.registry import Plugin, plugins

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


def format_readers() -> dict[str, Plugin]:
    """Return the registered formats, by the suffix (without its dot) they read."""
    return plugins("formats")


def detect_format(path: str | Path) -> str:
    """Return the registered format that reads a file, told from its name.

    The longest registered suffix wins (a plugin for ``a3m.gz`` before ``a3m``); a trailing
    ``.gz`` is otherwise read through by the format of the suffix before it.

    Raises:
        ValueError: no registered format reads the suffix.
    """
    suffixes = [s.lower().lstrip(".") for s in Path(path).suffixes]
    registered = format_readers()
    for start in range(len(suffixes)):
        name = ".".join(suffixes[start:])
        if name in registered:
            return name
        if suffixes[-1] == "gz" and ".".join(suffixes[start:-1]) in registered:
            return ".".join(suffixes[start:-1])
    raise ValueError(
        f"Cannot tell the format of {path} from its name: mg reads "
        f"{', '.join('.' + n for n in registered)} files (optionally .gz). Rename the file, set "
        "file_format, or install a package that registers the format (`mg list formats`)."
    )


def _open_text(path: Path) -> Any:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _empty_file_error(path: Path) -> ValueError:
    return ValueError(f"{path} is empty: it holds no data rows. Remove it or fill it.")


DEFAULT_CHUNK_ROWS = 50_000
"""Rows per chunk when files are streamed (`iter_path_chunks`): a few MB of text per chunk."""


def _from_records(path: Path, columns: dict[str, list[Any]], first_row: int = 1) -> Table:
    n = len(next(iter(columns.values()))) if columns else 0
    return Table(
        source=str(path),
        columns=columns,
        files=[str(path)] * n,
        rows=list(range(first_row, first_row + n)),
        file_columns={str(path): list(columns)},
    )


def _one_table(path: Path, chunks: Iterator[Table]) -> Table:
    """Stack a file's chunks into one table (a file read whole is a single chunk)."""
    tables = list(chunks)
    return tables[0] if len(tables) == 1 else concat_tables(tables, str(path))


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
            yield _from_records(path, columns, first_row)
            first_row += len(frame)
    except pd.errors.EmptyDataError as error:
        raise _empty_file_error(path) from error
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
        raise _empty_file_error(path)
    first_row = 1
    for batch in handle.iter_batches(batch_size=chunk_rows or max(total, 1)):
        if first_row > total:
            break
        batch = batch.slice(0, total - first_row + 1)
        yield _from_records(path, {str(k): v for k, v in batch.to_pydict().items()}, first_row)
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

    with _open_text(path) as handle:
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
        raise _empty_file_error(path)


def _fasta_records(path: Path) -> Iterator[tuple[str, str, int]]:
    """Yield (header, sequence, line of the header) for each record."""
    header: str | None = None
    header_line = 0
    body: list[str] = []
    with _open_text(path) as handle:
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
            yield _from_records(path, columns, first_row)
            columns = {name: [] for name in names}
            first_row = record + 1
    if record == 0:
        raise _empty_file_error(path)
    if record >= first_row:
        yield _from_records(path, columns, first_row)


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
    return _one_table(path, chunks)


def read_file(
    path: str | Path,
    *,
    file_format: FileFormat = "auto",
    id_column: str = "id",
    sequence_column: str = "sequence",
    header_pattern: str | re.Pattern[str] | None = None,
    max_rows: int | None = None,
) -> Table:
    """Read one file of any supported format.

    Args:
        path (str | Path): the file.
        file_format (FileFormat): the format, or ``"auto"`` to tell it from the name.
        id_column (str): FASTA only: the name of the id column.
        sequence_column (str): FASTA only: the name of the sequence column.
        header_pattern (str | re.Pattern[str] | None): FASTA only: see `read_fasta`.
        max_rows (int | None): read at most this many data rows.
    """
    chunks = iter_file_chunks(
        path,
        file_format=file_format,
        id_column=id_column,
        sequence_column=sequence_column,
        header_pattern=header_pattern,
        max_rows=max_rows,
        chunk_rows=None,
    )
    return _one_table(Path(path), chunks)


def iter_file_chunks(
    path: str | Path,
    *,
    file_format: FileFormat = "auto",
    id_column: str = "id",
    sequence_column: str = "sequence",
    header_pattern: str | re.Pattern[str] | None = None,
    max_rows: int | None = None,
    chunk_rows: int | None = DEFAULT_CHUNK_ROWS,
) -> Iterator[Table]:
    """Read one file as tables of at most ``chunk_rows`` rows each, in file order.

    Each chunk numbers its rows as the whole file does (1-based data rows), so a message
    about a row of any chunk names the same row as reading the file whole would. The
    file-level errors (missing or empty file, bad format) are raised as by `read_file`.

    Args:
        path (str | Path): the file.
        file_format (FileFormat): the format, or ``"auto"`` to tell it from the name.
        id_column (str): FASTA only: the name of the id column.
        sequence_column (str): FASTA only: the name of the sequence column.
        header_pattern (str | re.Pattern[str] | None): FASTA only: see `read_fasta`.
        max_rows (int | None): read at most this many data rows.
        chunk_rows (int | None): rows per chunk; None reads the file as one chunk.

    Yields:
        Table: the next rows of the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such file: {path}")
    fmt = detect_format(path) if file_format == "auto" else file_format
    registered = format_readers()
    if fmt not in registered:
        raise ValueError(
            f"Unknown file_format {fmt!r}; the registered formats are {sorted(registered)} "
            "(`mg list formats`)."
        )
    if chunk_rows is not None and chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}.")
    pattern = header_pattern
    if isinstance(pattern, str):
        pattern = compile_header_pattern(pattern)
    options = ReadOptions(id_column, sequence_column, pattern, max_rows, chunk_rows)
    reader: FormatReader = registered[fmt].load()  # type: ignore[assignment]
    try:
        yield from reader(path, options)
    except UnicodeDecodeError:
        raise _not_utf8_error(path) from None


def _not_utf8_error(path: Path) -> ValueError:
    """Name the first line of a text file that is not UTF-8, with the bytes at fault."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as error:
                bad = line[error.start : error.end + 8]
                return ValueError(
                    f"{path}, line {number}: the bytes {bad!r} are not UTF-8 text. Save the "
                    "file as UTF-8 (for example `iconv -f latin1 -t utf-8 in.csv > out.csv`)."
                )
    return ValueError(f"{path} is not UTF-8 text; save it as UTF-8.")


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


def data_files(folder: str | Path, exclude: tuple[str | Path, ...] = ()) -> list[Path]:
    """List the files of a folder that mg reads, sorted by name (not recursive).

    Args:
        folder (str | Path): the folder.
        exclude (tuple[str | Path, ...]): files to leave out (a label table kept beside the data).

    Raises:
        ValueError: the folder holds no readable file.
    """
    folder = Path(folder)
    skip = {Path(p).resolve() for p in exclude}
    found = []
    for child in sorted(folder.iterdir()):
        if not child.is_file() or child.name.startswith(".") or child.resolve() in skip:
            continue
        try:
            detect_format(child)
        except ValueError:
            continue
        found.append(child)
    if not found:
        looked_for = ", ".join("." + name for name in format_readers())
        held = sorted(p.name for p in folder.iterdir())
        raise ValueError(
            f"The folder {folder} holds no file mg reads (looked for {looked_for}); it holds "
            f"{held}."
        )
    return found


def read_path(
    path: str | Path,
    *,
    file_format: FileFormat = "auto",
    id_column: str = "id",
    sequence_column: str = "sequence",
    header_pattern: str | re.Pattern[str] | None = None,
    max_rows: int | None = None,
    exclude: tuple[str | Path, ...] = (),
) -> Table:
    """Read a file, or every readable file of a folder (in name order), into one table.

    Args:
        path (str | Path): a file or a folder.
        file_format (FileFormat): the format of every file, or ``"auto"`` (from each name).
        id_column (str): FASTA only: the name of the id column.
        sequence_column (str): FASTA only: the name of the sequence column.
        header_pattern (str | re.Pattern[str] | None): FASTA only: see `read_fasta`.
        max_rows (int | None): read at most this many data rows in all.
        exclude (tuple[str | Path, ...]): files of a folder to leave out.
    """
    chunks = iter_path_chunks(
        path,
        file_format=file_format,
        id_column=id_column,
        sequence_column=sequence_column,
        header_pattern=header_pattern,
        max_rows=max_rows,
        exclude=exclude,
        chunk_rows=None,
    )
    return _one_table(Path(path), chunks)


def path_files(path: str | Path, exclude: tuple[str | Path, ...] = ()) -> list[Path]:
    """The files a path stands for: the file itself, or the readable files of a folder.

    Raises:
        FileNotFoundError: nothing exists at ``path``.
        ValueError: the folder holds no readable file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file or folder: {path}")
    return [path] if path.is_file() else data_files(path, exclude)


def iter_path_chunks(
    path: str | Path,
    *,
    file_format: FileFormat = "auto",
    id_column: str = "id",
    sequence_column: str = "sequence",
    header_pattern: str | re.Pattern[str] | None = None,
    max_rows: int | None = None,
    exclude: tuple[str | Path, ...] = (),
    chunk_rows: int | None = DEFAULT_CHUNK_ROWS,
) -> Iterator[Table]:
    """Stream a file, or every readable file of a folder (in name order), in chunks.

    Memory stays bounded by ``chunk_rows`` whatever the size of the input: this is how
    data larger than memory is read (see `mg.tasks.data.store`). A chunk never spans two
    files, and its rows are numbered as in `read_path`.

    Args:
        path (str | Path): a file or a folder.
        file_format (FileFormat): the format of every file, or ``"auto"`` (from each name).
        id_column (str): FASTA only: the name of the id column.
        sequence_column (str): FASTA only: the name of the sequence column.
        header_pattern (str | re.Pattern[str] | None): FASTA only: see `read_fasta`.
        max_rows (int | None): read at most this many data rows in all.
        exclude (tuple[str | Path, ...]): files of a folder to leave out.
        chunk_rows (int | None): rows per chunk; None reads each file as one chunk.

    Yields:
        Table: the next rows.
    """
    total = 0
    for file in path_files(path, exclude):
        budget = None if max_rows is None else max_rows - total
        if budget is not None and budget <= 0:
            break
        for chunk in iter_file_chunks(
            file,
            file_format=file_format,
            id_column=id_column,
            sequence_column=sequence_column,
            header_pattern=header_pattern,
            max_rows=budget,
            chunk_rows=chunk_rows,
        ):
            total += len(chunk)
            yield chunk


HF_VAL_SPLITS = ("validation", "valid", "val", "dev")
"""Split names of a Hugging Face dataset read as the validation split, first found wins."""


def _import_datasets() -> Any:
    try:
        import datasets
    except ImportError as error:
        raise ImportError(
            "Reading a Hugging Face dataset needs the `datasets` package, which is not "
            "installed: pip install 'mg-tasks[hf]' (or read the data from CSV, TSV, Parquet, JSON "
            "Lines or FASTA files instead)."
        ) from error
    return datasets


def load_hf_dataset(name: str, config: str | None = None) -> Any:
    """Load a Hugging Face dataset (a hub name, or a folder saved with ``save_to_disk``).

    Args:
        name (str): a hub dataset name or a local folder.
        config (str | None): the dataset configuration, for hub datasets that have several.

    Returns:
        Any: a ``datasets.DatasetDict`` (a single saved ``Dataset`` becomes its ``train`` split).

    Raises:
        ImportError: ``datasets`` is not installed.
    """
    datasets = _import_datasets()
    if Path(name).exists():
        loaded = datasets.load_from_disk(name)
    else:
        loaded = datasets.load_dataset(name, config)
    if isinstance(loaded, datasets.Dataset):
        loaded = datasets.DatasetDict({"train": loaded})
    return loaded


def hf_split_table(loaded: Any, name: str, split: str, *, max_rows: int | None = None) -> Table:
    """Turn one split of a loaded Hugging Face ``DatasetDict`` into a `Table`.

    Rows are numbered from 1 within the split; the table's file is ``"name[split]"``.

    Raises:
        ValueError: the dataset has no such split, or the split is empty.
    """
    if split not in loaded:
        raise ValueError(
            f"The Hugging Face dataset {name!r} has no split {split!r}; it has {list(loaded)}."
        )
    dataset = loaded[split]
    if max_rows is not None:
        dataset = dataset.select(range(min(max_rows, len(dataset))))
    source = f"{name}[{split}]"
    if len(dataset) == 0:
        raise ValueError(f"{source} is empty: it holds no rows.")
    columns = {str(k): list(v) for k, v in dataset.to_dict().items()}
    n = len(dataset)
    return Table(source, columns, [source] * n, list(range(1, n + 1)), {source: list(columns)})


def read_hf_dataset(
    name: str, split: str, *, config: str | None = None, max_rows: int | None = None
) -> Table:
    """Read one split of a Hugging Face dataset: a hub name, or a folder saved by ``save_to_disk``.

    Rows are numbered from 1 within the split; the table's file is ``"name[split]"``.

    Args:
        name (str): a hub dataset name or a local folder.
        split (str): the split, e.g. ``"train"``.
        config (str | None): the dataset configuration, for hub datasets that have several.
        max_rows (int | None): read at most this many rows.

    Raises:
        ImportError: ``datasets`` is not installed.
        ValueError: the dataset has no such split, or the split is empty.
    """
    return hf_split_table(load_hf_dataset(name, config), name, split, max_rows=max_rows)
