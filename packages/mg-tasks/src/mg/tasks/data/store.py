"""A disk-backed store of one split's samples, for data larger than memory.

`StoreWriter` (`mg.tasks.data.store_writer`) appends parsed chunks (sequences, ids,
labels, where each came from) to a few files in a private temporary folder;
`StoredSequenceDataset` reads samples back by index.
Only fixed-size numpy arrays stay in memory (offsets, lengths, file index and row: 28
bytes a row, 52 with labels), so a split of 10 million proteins needs a few hundred MB
however long the sequences are; while the split is written even those go to files.

Samples are read with ``os.pread`` on file descriptors opened lazily in each process, not
through ``mmap``: pages of a mapping count in the resident memory of every process that
touched them, which is what the store exists to avoid. A dataset pickles without its open
files, so DataLoader workers and DDP ranks reopen the same folder.

The folder is removed when its store is garbage-collected or the process exits, and at
once when building fails; only the process that made it removes it (a forked DataLoader
worker holds a copy of the object and must not).
"""

from __future__ import annotations

import itertools
import os
import pickle
import shutil
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from mg.core.data import Sample

READ_ROWS = 20_000
"""Rows read at once when a whole column is streamed (checks, iteration)."""

COLUMNS = ("sequences", "ids", "labels", "raw_labels")


def _remove(folder: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(eq=False, repr=False, kw_only=True)
class SampleStore:
    """Read access to the files of a `StoreWriter`, by row index.

    Attributes:
        folder (Path): the store's folder.
        size (int): the number of samples.
        offsets (dict[str, np.ndarray]): column → ``size + 1`` byte offsets into its file.
        file_names (list[str]): the distinct input files.
        file_index (np.ndarray): each sample's index into ``file_names``.
        rows (np.ndarray): each sample's 1-based row in its file.
        lengths (np.ndarray): each sequence's length in characters.
        repeated_hashes (set[int]): the id hashes that occur more than once (ids that may
            repeat, settled by `repeated_ids`).
        label_file_index (np.ndarray | None): each label's file, into ``file_names``.
        label_rows (np.ndarray | None): each label's row.
    """

    folder: Path
    size: int
    offsets: dict[str, np.ndarray]
    file_names: list[str]
    file_index: np.ndarray
    rows: np.ndarray
    lengths: np.ndarray
    repeated_hashes: set[int]
    label_file_index: np.ndarray | None
    label_rows: np.ndarray | None
    _descriptors: dict[str, int] = field(init=False, default_factory=dict)
    _pid: int = field(init=False, default_factory=os.getpid)

    def __post_init__(self) -> None:
        # Only the process that built the store removes its folder.
        self._finalizer = weakref.finalize(self, _remove, str(self.folder), self._pid)

    @property
    def labelled(self) -> bool:
        """Whether the store holds labels."""
        return "labels" in self.offsets

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_descriptors"] = {}
        state.pop("_finalizer")  # only the process that built the store removes it
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def close(self) -> None:
        """Close this process's open files."""
        for descriptor in self._descriptors.values():
            os.close(descriptor)
        self._descriptors = {}

    def remove(self) -> None:
        """Close the files and remove the folder now (in the process that made it)."""
        self.close()
        finalizer = self.__dict__.get("_finalizer")
        if finalizer is not None:
            finalizer()

    def _descriptor(self, column: str) -> int:
        if self._pid != os.getpid():  # a forked worker: do not share the parent's offsets
            self._descriptors, self._pid = {}, os.getpid()
        if column not in self._descriptors:
            path = self.folder / f"{column}.bin"
            if not path.exists():
                raise FileNotFoundError(
                    f"The disk store {self.folder} is gone (removed when the process that "
                    "built it ended, or by hand); set the data up again."
                )
            self._descriptors[column] = os.open(path, os.O_RDONLY)
        return self._descriptors[column]

    def read(self, column: str, index: int) -> bytes:
        """Return the bytes of one value."""
        ends = self.offsets[column]
        start, stop = int(ends[index]), int(ends[index + 1])
        return os.pread(self._descriptor(column), stop - start, start)

    def read_range(self, column: str, start: int, stop: int) -> list[bytes]:
        """Return the values of rows ``start .. stop - 1`` with one read."""
        ends = self.offsets[column]
        first = int(ends[start])
        block = os.pread(self._descriptor(column), int(ends[stop]) - first, first)
        cuts = (ends[start : stop + 1] - first).tolist()
        return [block[a:b] for a, b in itertools.pairwise(cuts)]

    def read_many(self, column: str, indices: Sequence[int]) -> list[bytes]:
        """Return the values of ``indices`` (in that order), with one read when they are close."""
        if len(indices) == 0:
            return []
        ends = self.offsets[column]
        where = np.asarray(indices, dtype=np.int64)
        starts, stops = ends[where], ends[where + 1]
        low, high = int(starts.min()), int(stops.max())
        wanted = int((stops - starts).sum())
        if high - low > max(4 * wanted, 1 << 20):  # scattered: one read per value
            descriptor = self._descriptor(column)
            return [
                os.pread(descriptor, int(b) - int(a), int(a))
                for a, b in zip(starts, stops, strict=True)
            ]
        block = os.pread(self._descriptor(column), high - low, low)
        return [
            block[a:b] for a, b in zip((starts - low).tolist(), (stops - low).tolist(), strict=True)
        ]

    def repeated_ids(self) -> list[tuple[str, int, int]]:
        """Return (id, first index, repeat index) for every repeat of an id, by repeat index.

        Only when two id hashes agree (`repeated_hashes`) are the ids read again, a block
        at a time, to name the rows.
        """
        if not self.repeated_hashes:
            return []
        first: dict[str, int] = {}
        repeats = []
        # Equal hashes almost always mean equal ids; the names settle it.
        for start, names in StoredColumn(self, "ids", _decode_text).chunks():
            for index, name in enumerate(names, start):
                if hash(name) not in self.repeated_hashes:
                    continue
                if name in first:
                    repeats.append((name, first[name], index))
                else:
                    first[name] = index
        return repeats


def _decode_text(blob: bytes) -> str:
    return blob.decode()


class StoredColumn(Sequence[Any]):
    """One column of a `SampleStore`, read lazily: index, slice or iterate it in chunks."""

    def __init__(self, store: SampleStore, column: str, decode: Callable[[bytes], Any]) -> None:
        self.store = store
        self.column = column
        self.decode = decode

    def __len__(self) -> int:
        return self.store.size

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            values = [self.decode(b) for b in self.store.read_range(self.column, start, stop)]
            return values[::step]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} rows")
        return self.decode(self.store.read(self.column, index))

    def chunks(self, size: int = READ_ROWS) -> Iterator[tuple[int, list[Any]]]:
        """Yield (first index, values) for consecutive blocks of at most ``size`` rows."""
        for start in range(0, len(self), size):
            yield start, self[start : min(start + size, len(self))]

    def __iter__(self) -> Iterator[Any]:
        for _, values in self.chunks():
            yield from values

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]


class _ArrayNames(Sequence[str]):
    """File names of rows, from an index array into the distinct names."""

    def __init__(self, names: list[str], index: np.ndarray) -> None:
        self.names = names
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self.names[i] for i in self.index[index].tolist()]
        return self.names[int(self.index[index])]


class StoredSequenceDataset(Dataset):
    """The samples of one split, kept on disk (see `SampleStore`); a `SequenceDataset` twin.

    It has the same surface: ``len``, samples by index (and ``__getitems__`` for a batch at
    once), `lengths`, `origin`, and lazily read columns ``sequences``, ``ids``, ``labels``,
    ``raw_labels``, ``files``, ``rows``, ``label_files``, ``label_rows``.

    Args:
        store (SampleStore): the written samples.
        label_columns_text (str): the label column(s), for messages.
    """

    def __init__(self, store: SampleStore, label_columns_text: str = "") -> None:
        self.store = store
        self.label_columns_text = label_columns_text
        self.sequences = StoredColumn(store, "sequences", _decode_text)
        self.ids = StoredColumn(store, "ids", _decode_text)
        self.files: Sequence[str] = _ArrayNames(store.file_names, store.file_index)
        self.rows: np.ndarray = store.rows
        self.labels: StoredColumn | None = None
        self.raw_labels: StoredColumn | None = None
        self.label_files: Sequence[str] = self.files
        self.label_rows: np.ndarray = store.rows
        if store.labelled:
            assert store.label_file_index is not None and store.label_rows is not None
            self.labels = StoredColumn(store, "labels", pickle.loads)
            self.raw_labels = StoredColumn(store, "raw_labels", pickle.loads)
            self.label_files = _ArrayNames(store.file_names, store.label_file_index)
            self.label_rows = store.label_rows

    def __len__(self) -> int:
        return self.store.size

    def __getitem__(self, index: int) -> Sample:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} samples")
        sample: Sample = {
            "sequences": self.store.read("sequences", index).decode(),
            "ids": self.store.read("ids", index).decode(),
        }
        if self.labels is not None:
            sample["labels"] = pickle.loads(self.store.read("labels", index))
        return sample

    def __getitems__(self, indices: Sequence[int]) -> list[Sample]:
        """Read a batch of samples with a few reads (the DataLoader calls this per batch)."""
        sequences = self.store.read_many("sequences", indices)
        ids = self.store.read_many("ids", indices)
        samples: list[Sample] = [
            {"sequences": s.decode(), "ids": name.decode()}
            for s, name in zip(sequences, ids, strict=True)
        ]
        if self.labels is not None:
            for sample, blob in zip(samples, self.store.read_many("labels", indices), strict=True):
                sample["labels"] = pickle.loads(blob)
        return samples

    @property
    def lengths(self) -> np.ndarray:
        """The length of every sequence (a numpy array)."""
        return self.store.lengths

    def origin(self, index: int) -> str:
        """Say where sample ``index`` came from: ``"file, row N"``."""
        return f"{self.files[index]}, row {int(self.rows[index])}"
