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
import re
from collections.abc import Iterator
from pathlib import Path

from mg.core.registry import Plugin, plugins
from mg.tasks.data.formats import (
    compile_header_pattern,
    read_csv_chunks,
    read_fasta,
    read_fasta_chunks,
    read_jsonl_chunks,
    read_parquet_chunks,
    read_tsv_chunks,
)
from mg.tasks.data.hf import HF_VAL_SPLITS, hf_split_table, load_hf_dataset, read_hf_dataset
from mg.tasks.data.table import (
    FileFormat,
    FormatReader,
    ReadOptions,
    Table,
    concat_tables,
    one_table,
)

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "HF_VAL_SPLITS",
    "FileFormat",
    "FormatReader",
    "ReadOptions",
    "Table",
    "compile_header_pattern",
    "concat_tables",
    "data_files",
    "detect_format",
    "format_readers",
    "hf_split_table",
    "iter_file_chunks",
    "iter_path_chunks",
    "load_hf_dataset",
    "path_files",
    "read_csv_chunks",
    "read_fasta",
    "read_fasta_chunks",
    "read_file",
    "read_hf_dataset",
    "read_jsonl_chunks",
    "read_parquet_chunks",
    "read_path",
    "read_tsv_chunks",
]


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


DEFAULT_CHUNK_ROWS = 50_000
"""Rows per chunk when files are streamed (`iter_path_chunks`): a few MB of text per chunk."""


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
    return one_table(Path(path), chunks)


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
    return one_table(Path(path), chunks)


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
