"""`StoreWriter`: writes one split's samples, chunk by chunk, into a disk store's folder.

Columns are spooled to files as they come, so memory stays flat while a split larger than
memory is written; `StoreWriter.finish` hands the folder to a `SampleStore` that reads it.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mg.tasks.data.store import COLUMNS, SampleStore

if TYPE_CHECKING:
    from mg.tasks.data.label_columns import ParsedLabels


class _ArrayFile:
    """A numeric column spooled to a file chunk by chunk and read back whole at the end.

    Kept in memory as a list of per-chunk arrays, a column would be joined by a copy at
    the end (twice its size at once), and the chunks, freed amid the reader's short-lived
    objects, leave the heap too fragmented to give back: about 40 bytes a row that peak
    memory never recovered (400 MB at 10M rows).
    """

    def __init__(self, path: Path, dtype: Any) -> None:
        self.path = path
        self.dtype = np.dtype(dtype)
        self.handle = path.open("wb")

    def extend(self, values: Any) -> None:
        np.asarray(values, dtype=self.dtype).tofile(self.handle)

    def close(self) -> None:
        self.handle.close()

    def load(self) -> np.ndarray:
        """Close the file and return its values (the file is removed)."""
        self.close()
        values = np.fromfile(self.path, dtype=self.dtype)
        self.path.unlink()
        return values


class _BlobFile:
    """Variable-length values appended to one file, located by an int64 offsets array."""

    def __init__(self, path: Path) -> None:
        self.handle = path.open("wb")
        self.ends = _ArrayFile(path.with_suffix(".ends"), np.int64)
        self.ends.extend([0])
        self.size = 0

    def extend(self, blobs: Sequence[bytes]) -> None:
        if not blobs:
            return
        ends = self.size + np.cumsum(np.fromiter(map(len, blobs), np.int64, len(blobs)))
        self.handle.write(b"".join(blobs))
        self.ends.extend(ends)
        self.size = int(ends[-1])

    def close(self) -> None:
        self.handle.close()
        self.ends.close()

    def offsets(self) -> np.ndarray:
        """Close the file and return its ``values + 1`` offsets."""
        self.handle.close()
        return self.ends.load()


_ARRAYS = {
    "file": np.int32,
    "row": np.int64,
    "length": np.int32,
    "hash": np.int64,
    "label_file": np.int32,
    "label_row": np.int64,
}


def _compact_rows(rows: np.ndarray) -> np.ndarray:
    """Row numbers as int32 (4 bytes a row) unless a file has more than 2**31 rows."""
    return rows.astype(np.int32) if rows.size and rows.max() < 2**31 else rows


def _repeated_values(hashes: np.ndarray) -> set[int]:
    """The values that occur more than once; ``hashes`` is sorted in place (no copy)."""
    hashes.sort()
    return set(np.unique(hashes[1:][hashes[1:] == hashes[:-1]]).tolist())


class StoreWriter:
    """Write a split's samples chunk by chunk into a new temporary folder.

    Args:
        directory (str | None): where to make the folder (None: the system's temporary
            folder, ``TMPDIR``).

    Use it as a context manager: on an error inside the block the folder is removed.
    """

    def __init__(self, directory: str | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="mg-store-", dir=directory))
        self._blobs = {name: _BlobFile(self.folder / f"{name}.bin") for name in COLUMNS}
        self._file_names: dict[str, int] = {}
        self._arrays = {
            name: _ArrayFile(self.folder / f"{name}.array", dtype)
            for name, dtype in _ARRAYS.items()
        }
        self.size = 0
        self.labelled: bool | None = None
        self.label_columns_text = ""

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        if kind is not None:
            self.discard()

    def discard(self) -> None:
        """Close the files and remove the folder (building failed)."""
        for spooled in (*self._blobs.values(), *self._arrays.values()):
            spooled.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _file_index(self, files: Sequence[str]) -> list[int]:
        return [self._file_names.setdefault(f, len(self._file_names)) for f in files]

    def append(
        self,
        sequences: Sequence[str],
        ids: Sequence[str],
        files: Sequence[str],
        rows: Sequence[int],
        labels: ParsedLabels | None = None,
    ) -> None:
        """Append one chunk of samples (labels: all chunks have them, or none does)."""
        self.size += len(sequences)
        self._blobs["sequences"].extend([s.encode() for s in sequences])
        self._blobs["ids"].extend([i.encode() for i in ids])
        self._arrays["file"].extend(self._file_index(files))
        self._arrays["row"].extend(rows)
        self._arrays["length"].extend(np.fromiter(map(len, sequences), np.int32, len(sequences)))
        # Python's str hash is fixed within a process: enough to find repeated ids.
        self._arrays["hash"].extend(np.fromiter(map(hash, ids), np.int64, len(ids)))
        self.labelled = labels is not None if self.labelled is None else self.labelled
        if labels is not None:
            self._blobs["labels"].extend([pickle.dumps(x, protocol=5) for x in labels.labels])
            self._blobs["raw_labels"].extend([pickle.dumps(x, protocol=5) for x in labels.raw])
            self._arrays["label_file"].extend(self._file_index(labels.files))
            self._arrays["label_row"].extend(labels.rows)

    def drop_labels(self) -> None:
        """Forget the labels written so far (a later file of the split has none)."""
        self.labelled = False

    def finish(self) -> SampleStore:
        """Close the files and return the store that reads them."""
        labelled = bool(self.labelled)
        offsets = {}
        for name, blob in self._blobs.items():
            if labelled or "labels" not in name:
                offsets[name] = blob.offsets()
            else:
                blob.close()
        arrays = self._arrays
        if not labelled:
            arrays["label_file"].close()
            arrays["label_row"].close()
        # The id hashes first, alone (sorted in place, then dropped), then the rows, whose
        # narrowing copies: each is best done while little else is loaded.
        repeated_hashes = _repeated_values(arrays["hash"].load())
        rows = _compact_rows(arrays["row"].load())
        return SampleStore(
            folder=self.folder,
            size=self.size,
            offsets=offsets,
            file_names=list(self._file_names),
            file_index=arrays["file"].load(),
            rows=rows,
            lengths=arrays["length"].load(),
            repeated_hashes=repeated_hashes,
            label_file_index=arrays["label_file"].load() if labelled else None,
            label_rows=_compact_rows(arrays["label_row"].load()) if labelled else None,
        )
