import gzip
import sys

import pytest
from data_helpers import assert_names, rows, write_jsonl, write_table

from mg.tasks.data import SequenceData, read_fasta, read_file, read_path
from mg.tasks.data.readers import detect_format, read_hf_dataset

FASTA = """>a1 label=1 organism=x
ACGTACGTAC
GTAC
;a comment line
>b2 label=0
TTTT

GGGG
>c3 label=1
C
"""


def test_csv_and_tsv_read_text_values_with_rows(tmp_path):
    data = rows(3, label=lambda i: i)
    for name, delimiter in (("t.csv", ","), ("t.tsv", "\t")):
        table = read_file(write_table(tmp_path / name, data, delimiter))
        assert table.columns["sequence"] == [r["sequence"] for r in data]
        assert table.columns["label"] == ["0", "1", "2"]
        assert table.rows == [1, 2, 3]
        assert table.files == [str(tmp_path / name)] * 3


def test_jsonl_keeps_json_types_and_line_numbers(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"sequence": "ACG", "pairs": [[0, 2]], "y": 1.5}\n\n{"sequence": "GG", "y": 2}\n'
    )
    table = read_file(path)
    assert table.columns["pairs"] == [[[0, 2]], None]
    assert table.columns["y"] == [1.5, 2]
    assert table.rows == [1, 3]


def test_jsonl_bad_line_names_file_and_row(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"sequence": "ACG"}\n{"sequence": \n')
    with pytest.raises(ValueError) as error:
        read_file(path)
    assert_names(error, path, "row 2")


def test_parquet_reads_lists_as_lists(tmp_path):
    import pandas as pd

    path = tmp_path / "t.parquet"
    pd.DataFrame({"sequence": ["ACG", "GGTA"], "tokens": [[0, 1, 0], [1, 1, 0, 0]]}).to_parquet(
        path
    )
    table = read_file(path, max_rows=1)
    assert table.columns == {"sequence": ["ACG"], "tokens": [[0, 1, 0]]}


def test_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError) as error:
        read_file(path)
    assert_names(error, path, "mg-tasks[parquet]")


def test_fasta_multiline_bodies_ids_and_descriptions(tmp_path):
    path = tmp_path / "s.fasta"
    path.write_text(FASTA)
    table = read_fasta(path)
    assert table.columns["id"] == ["a1", "b2", "c3"]
    assert table.columns["sequence"] == ["ACGTACGTACGTAC", "TTTTGGGG", "C"]
    assert table.columns["description"][0] == "a1 label=1 organism=x"
    assert table.rows == [1, 2, 3]


def test_gzipped_fasta(tmp_path):
    path = tmp_path / "s.fa.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(FASTA)
    assert detect_format(path) == "fa"  # the registered suffix that reads it
    assert read_file(path).columns["sequence"][1] == "TTTTGGGG"


def test_fasta_header_pattern_makes_columns_and_names_bad_headers(tmp_path):
    path = tmp_path / "s.fasta"
    path.write_text(FASTA)
    table = read_fasta(path, header_pattern=r"label=(?P<label>\d+)")
    assert table.columns["label"] == ["1", "0", "1"]
    with pytest.raises(ValueError) as error:
        read_fasta(path, header_pattern=r"organism=(?P<org>\w+)")
    assert_names(error, path, "row 2", "header", "organism=")
    with pytest.raises(ValueError, match="no named group"):
        read_fasta(path, header_pattern=r"label=\d")


def test_fasta_text_before_header_is_an_error(tmp_path):
    path = tmp_path / "s.fasta"
    path.write_text("ACGT\n>a\nAC\n")
    with pytest.raises(ValueError) as error:
        read_fasta(path)
    assert_names(error, path, "line 1", "header")


def test_folder_reads_every_supported_file_in_name_order(tmp_path):
    write_table(tmp_path / "b.csv", rows(2))
    write_table(tmp_path / "a.tsv", rows(3), "\t")
    write_jsonl(tmp_path / "c.jsonl", rows(1))
    (tmp_path / "notes.md").write_text("ignored")
    table = read_path(tmp_path)
    assert len(table) == 6
    assert [file.rsplit("/", 1)[-1] for file in table.files] == ["a.tsv"] * 3 + ["b.csv"] * 2 + [
        "c.jsonl"
    ]
    assert table.rows == [1, 2, 3, 1, 2, 1]
    assert len(read_path(tmp_path, max_rows=4)) == 4


def test_folder_without_data_files_lists_its_contents(tmp_path):
    (tmp_path / "notes.md").write_text("x")
    with pytest.raises(ValueError, match=r"notes\.md"):
        read_path(tmp_path)


def test_unknown_suffix_suggests_file_format(tmp_path):
    with pytest.raises(ValueError, match="file_format"):
        detect_format(tmp_path / "data.xlsx")


def test_hugging_face_without_datasets_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match=r"pip install 'mg-tasks\[hf\]'"):
        read_hf_dataset("some/dataset", "train")
    data = SequenceData(label_type="class", hf_dataset="some/dataset", label_columns="label")
    with pytest.raises(ImportError, match="datasets"):
        data.setup("fit")
