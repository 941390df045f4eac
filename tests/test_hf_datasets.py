"""Hugging Face datasets saved with ``save_to_disk``: read from Arrow a chunk at a time.

Here, where the sessions install the ``hf`` extra (datasets), so these always run.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import datasets
import pytest

from mg.core.testing import ToyBackbone
from mg.core.testing.contracts import fast_trainer
from mg.tasks import SequenceData, SequenceRegression
from mg.tasks.data import source
from mg.tasks.data.store import StoredSequenceDataset

tiny_backbone = partial(ToyBackbone, max_length=40)


def _split(n: int, first: int, bad_row: int | None = None) -> object:
    ids = [f"r{first + i}" for i in range(n)]
    sequences = ["ACGT" * (1 + i % 3) + "G" * (i % 4) for i in range(n)]
    if bad_row is not None:
        sequences[bad_row - 1] = "ACGZT"
    scores = [s.count("G") / len(s) for s in sequences]
    return datasets.Dataset.from_dict({"id": ids, "sequence": sequences, "score": scores})


def _save(folder: Path, bad_row: int | None = None) -> str:
    splits = {"train": _split(40, 0, bad_row), "validation": _split(12, 1000)}
    datasets.DatasetDict(splits).save_to_disk(str(folder))
    return str(folder)


def _data(folder: str, storage: str) -> SequenceData:
    return SequenceData(
        hf_dataset=folder,
        label_columns="score",
        label_type="regression",
        storage=storage,
        batch_size=8,
    )


def test_a_saved_dataset_is_streamed_in_chunks_with_rows_numbered_as_the_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source, "CHUNK_ROWS", 7)
    folder = _save(tmp_path / "hf")
    data = _data(folder, "disk")
    chunks = list(data.source.chunks("hf:train"))
    assert [len(chunk) for chunk in chunks] == [7, 7, 7, 7, 7, 5]
    assert [row for chunk in chunks for row in chunk.rows] == list(range(1, 41))
    streamed = [s for chunk in chunks for s in chunk.columns["sequence"]]
    assert streamed == datasets.load_from_disk(folder)["train"]["sequence"]
    assert data.source.size("hf:train") > 0


def test_a_saved_dataset_trains_from_a_disk_store_never_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source, "CHUNK_ROWS", 7)
    folder = _save(tmp_path / "hf")
    disk, memory = _data(folder, "disk"), _data(folder, "memory")
    task = SequenceRegression(tiny_backbone)
    fast_trainer(max_steps=2).fit(task, datamodule=disk)
    stored = disk.datasets["train"]
    assert isinstance(stored, StoredSequenceDataset)
    # The store was written chunk by chunk: no split was turned into one whole table.
    assert not [key for key in disk.source._tables if key.startswith("hf:")]
    expected = memory.dataset("train")
    assert [stored[i] for i in range(len(stored))] == [expected[i] for i in range(40)]
    assert stored.origin(39) == f"{folder}[train], row 40"


@pytest.mark.parametrize("storage", ["memory", "disk"])
def test_a_bad_residue_in_a_saved_dataset_names_its_split_and_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, storage: str
) -> None:
    monkeypatch.setattr(source, "CHUNK_ROWS", 7)
    folder = _save(tmp_path / "hf", bad_row=30)
    task = SequenceRegression(tiny_backbone)
    with pytest.raises(ValueError, match=rf"{folder}\[train\], row 30.*'Z'"):
        fast_trainer(max_steps=1).fit(task, datamodule=_data(folder, storage))
    assert task.backbone is None
