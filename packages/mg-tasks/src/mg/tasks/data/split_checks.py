"""Checks run over a built split before any weights load: sequences against an alphabet, labels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mg.core.alphabets import RESIDUES, AlphabetCheck
from mg.core.data import LabelCheck
from mg.core.label_values import preview
from mg.tasks.data.store import StoredSequenceDataset


def check_sequence_blocks(
    data: Any,
    blocks: Iterable[tuple[int, list[str]]],
    alphabet: AlphabetCheck,
    reader: str,
    where: str = "",
) -> None:
    """Check blocks of a split's sequences against an alphabet, stopping at the first bad one.

    Args:
        data (Any): the split's dataset (``origin`` and ``ids``, for the message).
        blocks (Iterable[tuple[int, list[str]]]): ``(first index, sequences)`` blocks.
        alphabet (AlphabetCheck): what the backbone reads.
        reader (str): the backbone, for the message.
        where (str): ``", column 'x'"`` for a column other than the main sequences.

    Raises:
        ValueError: naming the file, row, id, column, character and 1-based position of
            the first character the backbone cannot read, and the fix.
    """
    for start, sequences in blocks:
        found = alphabet.find_invalid(sequences)
        if found is None:
            continue
        offset, position, char = found
        index, sequence = start + offset, sequences[offset]
        fits = [
            name
            for name, letters in RESIDUES.items()
            if not AlphabetCheck(letters + "NX").invalid_characters(sequence)
        ]
        hint = (
            f" The sequence reads as {' or '.join(fits)}: is {reader} the backbone for this data?"
            if fits
            else ""
        )
        raise ValueError(
            f"{data.origin(index)}{where}, id {data.ids[index]!r}: the sequence holds "
            f"{char!r} at position {position + 1}, which is not in the {reader} alphabet "
            f"{alphabet.accepted!r}. Fix the row, or set unknown: map on the backbone to "
            f"read such characters as its unknown token.{hint}"
        )


def check_split_labels(data: Any, problem: LabelCheck) -> None:
    """Run a task's label check on every label of a split (none: nothing to check).

    Raises:
        ValueError: naming the file, row, column and value as written of the first bad label.
    """
    if data.labels is None:
        return
    for index, label in enumerate(data.labels):
        message = problem(label)
        if message:
            raise ValueError(
                f"{data.label_files[index]}, row {data.label_rows[index]}, "
                f"{data.label_columns_text} = {preview(data.raw_labels[index])}: {message}"
            )


class SplitCheckHooks:
    """The data checks of `DataInterface`, run over the splits a stage reads.

    Mixed into `SequenceData`, which supplies ``stage_splits``, ``dataset`` and
    ``sequence_column``; `MultiColumnData` adds its sequence columns.
    """

    sequence_column: str

    def stage_splits(self, stage: str | None) -> list[str]:
        """The splits ``stage`` reads (given by the data module)."""
        raise NotImplementedError

    def dataset(self, split: Any) -> Any:
        """The built samples of ``split`` (given by the data module)."""
        raise NotImplementedError

    def provided_columns(self, stage: str) -> set[str]:
        """Return ``{"sequences", "ids"}``, plus ``"labels"`` when all the stage's splits have them.

        Reads the stage's data (once) to know whether its label columns are present.
        """
        splits = self.stage_splits(stage)
        columns = {"sequences", "ids"}
        if splits and all(self.dataset(s).labels is not None for s in splits):  # type: ignore[arg-type]
            columns.add("labels")
        return columns

    def check_sequences(
        self, stage: str, alphabet: AlphabetCheck, reader: str, column: str = "sequences"
    ) -> None:
        """Check every sequence of a column of the stage's splits against an alphabet, at once.

        A split kept on disk is checked in chunks, so memory stays flat.

        Raises:
            ValueError: naming the file, row, id, column, character and 1-based position of
                the first character the backbone cannot read, and the fix.
        """
        where = "" if column == "sequences" else f", column {self._file_column(column)!r}"
        for split in self.stage_splits(stage):
            data = self.dataset(split)  # type: ignore[arg-type]
            check_sequence_blocks(
                data, self._sequence_blocks(data, column), alphabet, reader, where
            )

    def _sequence_blocks(self, data: Any, column: str) -> Iterable[tuple[int, list[str]]]:
        """Yield ``(first index, sequences)`` blocks of a split's sequence column."""
        if column != "sequences":
            raise ValueError(f"SequenceData has no sequence column {column!r}.")
        if isinstance(data, StoredSequenceDataset):
            return data.sequences.chunks()
        return [(0, data.sequences)]

    def _file_column(self, column: str) -> str:
        """The file column a sample key comes from."""
        return self.sequence_column if column == "sequences" else column

    def check_labels(self, stage: str, problem: LabelCheck) -> None:
        """Run a task's label check on every label of the stage's splits.

        Raises:
            ValueError: naming the file, row, column and value as written of the first
                bad label.
        """
        for split in self.stage_splits(stage):
            check_split_labels(self.dataset(split), problem)  # type: ignore[arg-type]
