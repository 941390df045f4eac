"""`SequenceDataset`: the parsed samples of one split, and `MemoryWriter`, which fills one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torch.utils.data import Dataset

from mg.core.data import Sample

if TYPE_CHECKING:
    from mg.tasks.data.label_columns import ParsedLabels


class SequenceDataset(Dataset):
    """Parsed samples of one split, with the file and row each came from.

    Attributes:
        sequences (list[str]): the sequences (whitespace removed).
        ids (list[str]): one id per sequence.
        labels (list[Any] | None): schema labels, or None when the split is unlabelled.
        files (list[str]): the file of each sample.
        rows (list[int]): the 1-based data row of each sample in its file.
        label_files (list[str]): the file each label came from (a label table, or ``files``).
        label_rows (list[int]): the row each label came from.
        label_columns_text (str): the label column(s), for messages.
        raw_labels (list[Any] | None): each label as written in its file, for messages.
    """

    def __init__(
        self,
        sequences: list[str],
        ids: list[str],
        labels: list[Any] | None,
        files: list[str],
        rows: list[int],
        label_files: list[str] | None = None,
        label_rows: list[int] | None = None,
        label_columns_text: str = "",
        raw_labels: list[Any] | None = None,
    ) -> None:
        self.sequences = sequences
        self.ids = ids
        self.labels = labels
        self.files = files
        self.rows = rows
        self.label_files = label_files if label_files is not None else files
        self.label_rows = label_rows if label_rows is not None else rows
        self.label_columns_text = label_columns_text
        self.raw_labels = raw_labels if raw_labels is not None else labels

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> Sample:
        sample: Sample = {"sequences": self.sequences[index], "ids": self.ids[index]}
        if self.labels is not None:
            sample["labels"] = self.labels[index]
        return sample

    @property
    def lengths(self) -> list[int]:
        """The length of every sequence."""
        return [len(s) for s in self.sequences]

    def origin(self, index: int) -> str:
        """Say where sample ``index`` came from: ``"file, row N"``."""
        return f"{self.files[index]}, row {self.rows[index]}"


class MemoryWriter:
    """Collect a split's samples chunk by chunk in memory: `StoreWriter`'s in-memory twin.

    Both writers take the same `append` calls, so one split builder fills either.
    """

    def __init__(self) -> None:
        self.sequences: list[str] = []
        self.ids: list[str] = []
        self.files: list[str] = []
        self.rows: list[int] = []
        self.labels: list[Any] = []
        self.raw_labels: list[Any] = []
        self.label_files: list[str] = []
        self.label_rows: list[int] = []
        self.labelled: bool | None = None

    def __enter__(self) -> MemoryWriter:
        return self

    def __exit__(self, *_: Any) -> None:
        return None

    @property
    def size(self) -> int:
        """How many samples were appended."""
        return len(self.sequences)

    def append(
        self,
        sequences: Sequence[str],
        ids: Sequence[str],
        files: Sequence[str],
        rows: Sequence[int],
        labels: ParsedLabels | None = None,
    ) -> None:
        """Append one chunk of samples (labels: all chunks have them, or none does)."""
        self.sequences += sequences
        self.ids += ids
        self.files += files
        self.rows += rows
        self.labelled = labels is not None if self.labelled is None else self.labelled
        if labels is not None:
            self.labels += labels.labels
            self.raw_labels += labels.raw
            self.label_files += labels.files
            self.label_rows += labels.rows

    def drop_labels(self) -> None:
        """Forget the labels appended so far (a later chunk of the split has none)."""
        self.labelled = False

    def finish(self, label_columns_text: str) -> SequenceDataset:
        """Return the collected samples as a `SequenceDataset`."""
        if not self.labelled:
            return SequenceDataset(self.sequences, self.ids, None, self.files, self.rows)
        return SequenceDataset(
            self.sequences,
            self.ids,
            self.labels,
            self.files,
            self.rows,
            self.label_files,
            self.label_rows,
            label_columns_text,
            self.raw_labels,
        )
