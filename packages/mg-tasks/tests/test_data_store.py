"""Chunked reading and the disk store: the same samples and the same errors as in memory."""

from __future__ import annotations

import gc
import json
import pickle
import random
import tempfile
from pathlib import Path

import pytest
from data_helpers import rows, write_jsonl, write_table
from torch.utils.data import DataLoader

from mg.core.alphabets import AlphabetCheck
from mg.tasks.data import SequenceData, builder, source
from mg.tasks.data.readers import iter_file_chunks, iter_path_chunks, read_file, read_path
from mg.tasks.data.store import StoredSequenceDataset


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make disk stores in a folder of the test's own, to see what is left behind."""
    folder = tmp_path / "stores"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setattr(source, "CHUNK_ROWS", 97)  # files span several chunks
    return folder


def write_fasta(path: Path, n: int) -> Path:
    lines = []
    for i in range(n):
        lines += [f">f{i} label={i % 3}", "ACGT" * (1 + i % 4), "GG"]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_parquet(path: Path, n: int) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {"id": [f"q{i}" for i in range(n)], "sequence": ["ACGU" * (i % 5 + 1) for i in range(n)]}
    )
    pq.write_table(table, path, row_group_size=4)
    return path


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl", "fasta", "parquet"])
def test_chunks_number_rows_as_the_whole_file_does(tmp_path, kind):
    n = 23
    if kind == "fasta":
        path = write_fasta(tmp_path / "d.fasta", n)
    elif kind == "parquet":
        path = write_parquet(tmp_path / "d.parquet", n)
    elif kind == "jsonl":
        path = tmp_path / "d.jsonl"
        # blank lines are skipped: a record's row is its line number
        path.write_text("".join(json.dumps(r) + "\n\n" for r in rows(n)))
    else:
        path = write_table(tmp_path / f"d.{kind}", rows(n), "\t" if kind == "tsv" else ",")
    whole = read_file(path, header_pattern=r"label=(?P<label>\d)")
    chunks = list(iter_file_chunks(path, header_pattern=r"label=(?P<label>\d)", chunk_rows=5))
    assert [len(c) for c in chunks] == [5, 5, 5, 5, 3]
    assert [r for c in chunks for r in c.rows] == whole.rows
    for name, values in whole.columns.items():
        assert [v for c in chunks for v in c.columns[name]] == values
    if kind == "jsonl":
        assert whole.rows[:3] == [1, 3, 5]
    limited = list(
        iter_file_chunks(path, header_pattern=r"label=(?P<label>\d)", max_rows=7, chunk_rows=5)
    )
    assert [len(c) for c in limited] == [5, 2]


def test_folder_chunks_never_span_two_files(tmp_path):
    write_table(tmp_path / "a.csv", rows(7))
    write_table(tmp_path / "b.csv", rows(4))
    chunks = list(iter_path_chunks(tmp_path, chunk_rows=5))
    assert [(Path(c.source).name, c.rows) for c in chunks] == [
        ("a.csv", [1, 2, 3, 4, 5]),
        ("a.csv", [6, 7]),
        ("b.csv", [1, 2, 3, 4]),
    ]
    assert len(read_path(tmp_path)) == 11


def _both(**options) -> tuple[SequenceData, SequenceData]:
    return SequenceData(storage="memory", **options), SequenceData(storage="disk", **options)


def test_disk_store_gives_the_samples_of_memory(tmp_path, store_dir):
    folder = tmp_path / "shards"
    write_table(folder / "a.csv", rows(250, y=lambda i: "abc"[i % 3]))
    write_jsonl(folder / "b.jsonl", [{**r, "id": f"j{i}"} for i, r in enumerate(rows(130, y="c"))])
    memory, disk = _both(train_file=str(folder), label_columns="y", label_type="class")
    expected = memory.dataset("train")
    stored = disk.dataset("train")
    assert isinstance(stored, StoredSequenceDataset)
    assert disk.class_names == memory.class_names == ["a", "b", "c"]
    assert len(stored) == len(expected) == 380
    assert [stored[i] for i in range(len(stored))] == [expected[i] for i in range(len(expected))]
    assert list(stored.lengths) == expected.lengths
    assert [stored.origin(i) for i in (0, 249, 250, 379)] == [
        expected.origin(i) for i in (0, 249, 250, 379)
    ]
    order = random.Random(0).sample(range(380), 64)
    assert stored.__getitems__(order) == [expected[i] for i in order]
    with pytest.raises(IndexError):
        stored[380]


def test_errors_on_the_last_row_of_a_long_file_name_the_same_row(tmp_path, store_dir):
    n = 3000
    good = rows(n, y=lambda i: str(i % 2))
    empty = write_table(tmp_path / "empty_seq.csv", [*good[:-1], {**good[-1], "sequence": ""}])
    messages = []
    for data in _both(train_file=str(empty), label_columns="y", label_type="class"):
        with pytest.raises(ValueError) as error:
            data.dataset("train")
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert f"{empty}, row {n}, column 'sequence': the sequence is empty" in messages[0]

    bad_label = write_table(tmp_path / "label.csv", [*good[:-1], {**good[-1], "y": "1.5"}])
    messages = []
    for data in _both(train_file=str(bad_label), label_columns="y", label_type="class"):
        with pytest.raises(ValueError) as error:
            data.dataset("train")
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert f"{bad_label}, row {n}" in messages[0] and "'1.5'" in messages[0]

    bad_char = write_table(tmp_path / "char.csv", [*good[:-1], {**good[-1], "sequence": "ACGJT"}])
    messages = []
    for data in _both(predict_file=str(bad_char)):
        data.setup("predict")
        with pytest.raises(ValueError) as error:
            data.check_sequences("predict", AlphabetCheck("ACGT"), "ToyDNA")
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert f"{bad_char}, row {n}, id 'seq{n - 1}'" in messages[0]
    assert "'J' at position 4" in messages[0]

    messages = []
    for data in _both(predict_file=str(write_table(tmp_path / "ok.csv", good)), label_columns="y"):
        data.use_label_kind("class")
        data.setup("predict")
        with pytest.raises(ValueError) as error:
            data.check_labels("predict", lambda y: "too big" if y > 0 else None)
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert "ok.csv, row 2, column 'y' = '1': too big" in messages[0]
    del data, error  # the last data module (and its store) is dropped here
    gc.collect()
    assert not list(store_dir.iterdir()), "a failed or dropped store left its folder behind"


def test_empty_file_missing_column_and_repeated_ids_read_alike(tmp_path, store_dir):
    header_only = tmp_path / "header.csv"
    header_only.write_text("id,sequence\n")
    no_column = write_table(tmp_path / "nocol.csv", rows(300))
    repeated = write_table(tmp_path / "rep.csv", [*rows(300), {"id": "seq7", "sequence": "AC"}])
    cases = [
        ({"predict_file": str(header_only)}, "has a header"),
        ({"predict_file": str(no_column), "sequence_column": "dna"}, "has no column 'dna'"),
        ({"predict_file": str(repeated)}, "repeats ids"),
    ]
    for options, expected in cases:
        messages = []
        for data in _both(**options):
            with pytest.raises(ValueError) as error:
                data.dataset("predict")
            messages.append(str(error.value))
        assert messages[0] == messages[1]
        assert expected in messages[0]
    assert f"'seq7' ({repeated}, row 8 and {repeated}, row 301)" in messages[0]
    gc.collect()
    assert not list(store_dir.iterdir())


def test_dataloader_workers_read_the_disk_store(tmp_path, store_dir):
    path = write_table(tmp_path / "d.csv", rows(500, y=lambda i: str(i % 2)))
    data = SequenceData(train_file=str(path), label_columns="y", label_type="class", storage="disk")
    dataset = data.dataset("train")
    assert pickle.loads(pickle.dumps(dataset))[499] == dataset[499]
    loader = DataLoader(
        dataset, batch_size=32, shuffle=True, num_workers=2, collate_fn=lambda samples: samples
    )
    seen = [s["ids"] for batch in loader for s in batch]
    assert sorted(seen) == sorted(f"seq{i}" for i in range(500))
    folder = dataset.store.folder
    assert folder.exists()  # workers that ended did not remove their parent's store
    del dataset, data, loader
    gc.collect()
    assert not folder.exists()


def test_storage_options_are_checked(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(10))
    with pytest.raises(ValueError, match="storage must be auto, memory or disk"):
        SequenceData(train_file=str(path), storage="cloud")  # type: ignore[arg-type]
    carved = SequenceData(path=str(path), val_fraction=0.2, storage="disk")
    with pytest.raises(ValueError) as error:
        carved.dataset("train")
    assert "carved from" in str(error.value) and "train_file, val_file, test_file" in str(
        error.value
    )


def test_auto_storage_keeps_large_inputs_on_disk(tmp_path, monkeypatch, store_dir):
    path = write_table(tmp_path / "d.csv", rows(40))
    size = path.stat().st_size
    monkeypatch.setattr(builder, "DISK_THRESHOLD_BYTES", size)  # not over: memory
    assert not isinstance(
        SequenceData(predict_file=str(path)).dataset("predict"), StoredSequenceDataset
    )
    monkeypatch.setattr(builder, "DISK_THRESHOLD_BYTES", size - 1)
    assert isinstance(
        SequenceData(predict_file=str(path)).dataset("predict"), StoredSequenceDataset
    )
