"""`MultiColumnData`: `SequenceData` that also carries named extra columns in every sample.

Tasks that read more than a sequence and a label take their data from here: the
zero-shot variant tasks read a mutation column next to the reference sequence, and
fusion reads one sequence column per backbone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch.utils.data import Dataset

from mg.core.data import Sample
from mg.core.label_values import is_missing
from mg.tasks.data.datamodule import SequenceData
from mg.tasks.data.dataset import SequenceDataset

RESERVED_KEYS = frozenset({"sequences", "ids", "labels"})
"""Sample keys `SequenceData` fills itself; extra columns may not take them."""


class ColumnsDataset(Dataset):
    """A `SequenceDataset` whose samples also carry extra columns.

    Every attribute of the wrapped dataset (``labels``, ``lengths``, ``origin``...) reads
    through, so label checks and length grouping work unchanged.

    Args:
        base (SequenceDataset): the parsed sequences, ids and labels.
        extra (dict[str, list[Any]]): sample key → one value per sample.
    """

    def __init__(self, base: SequenceDataset, extra: dict[str, list[Any]]) -> None:
        self.base = base
        self.extra = extra

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> Sample:
        sample = self.base[index]
        sample.update({key: values[index] for key, values in self.extra.items()})
        return sample

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes not found here: read them from the wrapped dataset.
        if name in ("base", "extra"):
            raise AttributeError(name)
        return getattr(self.base, name)


class MultiColumnData(SequenceData):
    """`SequenceData` whose samples also carry named columns of the same rows.

    Each entry of ``columns`` maps a sample key to a column of the files: with
    ``columns={"mutations": "mutation"}`` every sample gets ``sample["mutations"]`` from
    the ``mutation`` column. Keys listed in ``sequence_keys`` hold sequences: their
    whitespace is removed, as for ``sequence_column``. An empty cell is an error naming
    the file, row and column, raised when the split is read (before any weights load).

    Args:
        columns (dict[str, str]): sample key → column name in the files.
        sequence_keys (list[str] | None): the keys whose values are sequences.
        **kwargs (Any): every `SequenceData` option (files, ``sequence_column``, labels...).

    Raises:
        ValueError: ``columns`` is empty, uses a reserved key (``sequences``, ``ids``,
            ``labels``), or ``sequence_keys`` names a key that is not in it.
    """

    def __init__(
        self,
        *,
        columns: dict[str, str],
        sequence_keys: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not columns:
            raise ValueError("columns is empty: map at least one sample key to a column.")
        taken = sorted(RESERVED_KEYS & set(columns))
        if taken:
            raise ValueError(
                f"columns may not use the keys {taken}: SequenceData fills them from "
                "sequence_column, id_column and label_columns."
            )
        unknown = sorted(set(sequence_keys or []) - set(columns))
        if unknown:
            raise ValueError(
                f"sequence_keys names {unknown}, which columns does not map; "
                f"columns has {sorted(columns)}."
            )
        self.columns = dict(columns)
        self.sequence_keys = list(sequence_keys or [])

    def _build(self, split: str) -> ColumnsDataset:  # type: ignore[override]
        base = super()._build(split)
        source = self.plan.source(split)
        assert source is not None  # the base build raised otherwise
        table = self.source.table(source.key)
        indices = self.plan.rows(source, table)
        extra: dict[str, list[Any]] = {}
        for name, column in self.columns.items():
            table.require_column(column, f"columns[{name!r}]", name)
            values = []
            for i in indices:
                value = table.columns[column][i]
                if is_missing(value):
                    raise ValueError(
                        f"{table.files[i]}, row {table.rows[i]}, column {column!r}: the {name} "
                        "value is empty; fill it in or drop the row."
                    )
                if name in self.sequence_keys:
                    if not isinstance(value, str):
                        raise ValueError(
                            f"{table.files[i]}, row {table.rows[i]}, column {column!r}: the "
                            f"sequence is not text ({value!r})."
                        )
                    value = "".join(value.split())
                values.append(value)
            extra[name] = values
        return ColumnsDataset(base, extra)

    def _sequence_blocks(self, data: Any, column: str) -> Iterable[tuple[int, list[str]]]:
        """A sequence key's values, read with the split; ``sequences`` as `SequenceData`."""
        if column in self.columns:
            return [(0, [str(value) for value in data.extra[column]])]
        return super()._sequence_blocks(data, column)

    def _file_column(self, column: str) -> str:
        return self.columns.get(column, super()._file_column(column))

    def provided_columns(self, stage: str) -> set[str]:
        """Return `SequenceData`'s columns plus every key of ``columns``."""
        return super().provided_columns(stage) | set(self.columns)
