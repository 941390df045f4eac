"""Per-row reading shared by every split: ids, cleaned sequences, and repeated ids."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lightning.pytorch.utilities import rank_zero_warn

from mg.core.label_values import is_missing, preview
from mg.tasks.data.readers import Table


def read_ids(table: Table, column: str) -> list[str]:
    """Return the id of every row of ``table``: its ``column``, or ``"<file stem>-<row>"``.

    Without the default ``"id"`` column, ids are made from the file name and row.

    Raises:
        ValueError: an id is empty, or a non-default ``column`` is missing (naming the
            file, row and column).
    """
    if table.has_column(column):
        ids = []
        for value, file, row in zip(table.columns[column], table.files, table.rows, strict=True):
            if is_missing(value):
                raise ValueError(
                    f"{file}, row {row}, column {column!r}: the id is empty; give every row "
                    "an id, or remove the id column to number rows instead."
                )
            ids.append(str(value).strip())
        return ids
    if column != "id" or any(column in names for names in table.file_columns.values()):
        table.require_column(column, "id_column", "the ids")
    return [f"{Path(file).stem}-{row}" for file, row in zip(table.files, table.rows, strict=True)]


def clean_sequences(
    table: Table, column: str, indices: Sequence[int]
) -> tuple[list[str], list[str], list[int]]:
    """The sequences of ``indices`` with whitespace removed, with each one's file and row.

    Raises:
        ValueError: a sequence is empty or not text (naming file, row and column).
    """
    values = table.columns[column]
    sequences, files, rows = [], [], []
    for i in indices:
        raw = values[i]
        if is_missing(raw) or not isinstance(raw, str):
            what = "empty" if is_missing(raw) else f"not text ({preview(raw)})"
            raise ValueError(
                f"{table.files[i]}, row {table.rows[i]}, column {column!r}: the sequence is {what}."
            )
        sequences.append("".join(raw.split()))
        files.append(table.files[i])
        rows.append(table.rows[i])
    return sequences, files, rows


def repeated_ids(
    ids: Sequence[str], files: Sequence[str], rows: Sequence[int]
) -> list[tuple[str, int, int]]:
    """Return ``(id, first position, repeating position)`` for every repeat, in order."""
    first: dict[str, int] = {}
    repeats = []
    for position, name in enumerate(ids):
        if name in first:
            repeats.append((name, first[name], position))
        else:
            first[name] = position
    return repeats


def report_repeats(split: str, repeats: list[str]) -> None:
    """Raise (predict) or warn (other splits) about repeated ids, each said as "'id' (where)".

    Raises:
        ValueError: a predict split repeats an id (naming the first ones and their rows).
    """
    if not repeats:
        return
    shown = "; ".join(repeats[:3]) + (f"; and {len(repeats) - 3} more" if len(repeats) > 3 else "")
    if split == "predict":
        raise ValueError(
            f"The predict split repeats ids, and predictions are keyed by id: {shown}. Give "
            "every row its own id (or drop the id column to number rows)."
        )
    rank_zero_warn(f"The {split} split repeats {len(repeats)} id(s): {shown}.")
