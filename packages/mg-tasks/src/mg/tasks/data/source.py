"""`DataSource`: where a data module's inputs live, and reading them (files, folders, HF).

Inputs are named by key: ``"pool"`` (``path`` or ``train_file``), ``"val"``, ``"test"``,
``"predict"`` (the matching ``*_file``), and ``"hf:<split>"`` for a Hugging Face split.
A whole input is read once and kept; `chunks` streams one instead, for disk stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mg.tasks.data.hf import hf_split, iter_hf_chunks
from mg.tasks.data.readers import (
    DEFAULT_CHUNK_ROWS,
    FileFormat,
    Table,
    compile_header_pattern,
    iter_path_chunks,
    load_hf_dataset,
    path_files,
    read_path,
)

CHUNK_ROWS = DEFAULT_CHUNK_ROWS
"""Rows read at a time when an input is streamed (into a disk store, or for class names)."""


class DataSource:
    """The input options of `SequenceData`, checked, and the tables they hold.

    Args:
        path (str | None): a file or folder holding all the data.
        train_file (str | None): training data (file or folder).
        val_file (str | None): validation data.
        test_file (str | None): test data.
        predict_file (str | None): data to predict on.
        hf_dataset (str | None): a Hugging Face dataset name or saved folder.
        hf_config (str | None): the Hugging Face dataset configuration.
        file_format (FileFormat): every file's format, or ``"auto"``.
        sequence_column (str): the sequence column.
        id_column (str): the id column.
        label_table (str | None): a table of labels joined on id (left out of folders).
        header_pattern (str | None): FASTA: named groups read from headers.
        max_rows (int | None): read at most this many rows of each input.

    Raises:
        ValueError: no input, more than one training input, or ``max_rows`` below 1.
    """

    def __init__(
        self,
        *,
        path: str | None,
        train_file: str | None,
        val_file: str | None,
        test_file: str | None,
        predict_file: str | None,
        hf_dataset: str | None,
        hf_config: str | None,
        file_format: FileFormat,
        sequence_column: str,
        id_column: str,
        label_table: str | None,
        header_pattern: str | None,
        max_rows: int | None,
    ) -> None:
        given = {"path": path, "train_file": train_file, "hf_dataset": hf_dataset}
        pools = [name for name, value in given.items() if value is not None]
        if len(pools) > 1:
            raise ValueError(f"Give only one of {' / '.join(pools)}: each holds the training data.")
        if not pools and not any((val_file, test_file, predict_file)):
            raise ValueError(
                "SequenceData has no data: give path (a file or folder), train_file / val_file / "
                "test_file / predict_file, or hf_dataset."
            )
        if max_rows is not None and max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, not {max_rows}.")
        self.locations = {
            "pool": path or train_file,
            "val": val_file,
            "test": test_file,
            "predict": predict_file,
        }
        self.hf_dataset = hf_dataset
        self.hf_config = hf_config
        self.file_format = file_format
        self.sequence_column = sequence_column
        self.id_column = id_column
        self.label_table_path = label_table
        self.pattern = compile_header_pattern(header_pattern) if header_pattern else None
        self.max_rows = max_rows
        self._tables: dict[str, Table] = {}
        self._hf_loaded: Any = None

    @property
    def pool_key(self) -> str | None:
        """The key of the training input (``"pool"`` or ``"hf:train"``), None without one."""
        if self.hf_dataset:
            return "hf:train"
        return "pool" if self.locations["pool"] else None

    def hf_splits(self) -> list[str]:
        """The split names of the Hugging Face dataset (loading it once)."""
        if self._hf_loaded is None:
            assert self.hf_dataset is not None
            self._hf_loaded = load_hf_dataset(self.hf_dataset, self.hf_config)
        return list(self._hf_loaded)

    def location(self, key: str) -> str:
        """The file or folder of the input called ``key``; ``"name[split]"`` for hf:<split>."""
        if key.startswith("hf:"):
            return f"{self.hf_dataset}[{key[3:]}]"
        location = self.locations[key]
        assert location is not None
        return location

    def hf_split(self, key: str) -> Any:
        """The Arrow-backed ``Dataset`` of the input ``hf:<split>`` (memory-mapped from disk)."""
        assert self.hf_dataset is not None
        self.hf_splits()
        return hf_split(self._hf_loaded, self.hf_dataset, key[3:], max_rows=self.max_rows)

    def read_options(self) -> dict[str, Any]:
        """The keyword options of `read_path` and `iter_path_chunks` for every input."""
        return {
            "file_format": self.file_format,
            "id_column": self.id_column,
            "sequence_column": self.sequence_column,
            "header_pattern": self.pattern,
            "max_rows": self.max_rows,
            "exclude": (self.label_table_path,) if self.label_table_path else (),
        }

    def table(self, key: str) -> Table:
        """Read (once) the input called ``key``: pool, val, test, predict or hf:<split>."""
        if key not in self._tables:
            if key.startswith("hf:"):
                split = self.hf_split(key)
                self._tables[key] = next(iter_hf_chunks(split, self.location(key), len(split)))
            else:
                self._tables[key] = read_path(self.location(key), **self.read_options())
        return self._tables[key]

    def chunks(self, key: str) -> Iterator[Table]:
        """Stream the input called ``key`` in chunks of `CHUNK_ROWS` rows.

        A Hugging Face split is read from its Arrow table a chunk at a time, never whole.
        """
        if key.startswith("hf:"):
            return iter_hf_chunks(self.hf_split(key), self.location(key), CHUNK_ROWS)
        return iter_path_chunks(self.location(key), chunk_rows=CHUNK_ROWS, **self.read_options())

    def size(self, key: str) -> int:
        """The bytes of the input called ``key``: its files, or a split's Arrow table."""
        if key.startswith("hf:"):
            return int(self.hf_split(key).data.nbytes)
        files = path_files(self.location(key), self.read_options()["exclude"])
        return sum(f.stat().st_size for f in files)

    def label_table(self) -> Table | None:
        """Read (once) the label table, None without one."""
        if self.label_table_path is None:
            return None
        if "label_table" not in self._tables:
            self._tables["label_table"] = read_path(self.label_table_path, max_rows=None)
        return self._tables["label_table"]
