"""Hugging Face datasets read as tables (needs the ``datasets`` package)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mg.tasks.data.table import Table

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


def hf_split(loaded: Any, name: str, split: str, *, max_rows: int | None = None) -> Any:
    """Return one split of a loaded ``DatasetDict``, still an Arrow-backed ``Dataset``.

    A dataset loaded from disk stays memory-mapped: nothing is copied here (``max_rows``
    selects rows through an index, not a copy).

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
    if len(dataset) == 0:
        raise ValueError(f"{name}[{split}] is empty: it holds no rows.")
    return dataset


def iter_hf_chunks(dataset: Any, source: str, chunk_rows: int) -> Iterator[Table]:
    """Read an Arrow-backed ``Dataset`` as tables of at most ``chunk_rows`` rows.

    Only one chunk's rows become Python values at a time (``Dataset.iter``); rows are
    numbered from 1 within the split, and every row's file is ``source``.

    Args:
        dataset (Any): a ``datasets.Dataset``.
        source (str): what the rows are named by in messages, ``"name[split]"``.
        chunk_rows (int): rows per table.
    """
    first = 1
    for batch in dataset.with_format(None).iter(batch_size=chunk_rows):
        columns = {str(k): list(v) for k, v in batch.items()}
        n = len(next(iter(columns.values()))) if columns else 0
        rows = list(range(first, first + n))
        yield Table(source, columns, [source] * n, rows, {source: list(columns)})
        first += n


def hf_split_table(loaded: Any, name: str, split: str, *, max_rows: int | None = None) -> Table:
    """Turn one split of a loaded Hugging Face ``DatasetDict`` into one `Table` in memory.

    Rows are numbered from 1 within the split; the table's file is ``"name[split]"``.

    Raises:
        ValueError: the dataset has no such split, or the split is empty.
    """
    dataset = hf_split(loaded, name, split, max_rows=max_rows)
    source = f"{name}[{split}]"
    return next(iter_hf_chunks(dataset, source, len(dataset)))


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
