"""Data modules, file readers, label parsing, splits and synthetic example data for mg tasks."""

from mg.tasks.data.cell_data import CellData
from mg.tasks.data.cell_writer import CellEmbeddingWriter
from mg.tasks.data.columns import MultiColumnData
from mg.tasks.data.datamodule import SequenceData
from mg.tasks.data.dataset import SequenceDataset
from mg.tasks.data.examples import example_names, example_path, write_examples
from mg.tasks.data.readers import (
    FormatReader,
    ReadOptions,
    Table,
    iter_file_chunks,
    iter_path_chunks,
    read_fasta,
    read_file,
    read_hf_dataset,
    read_path,
)
from mg.tasks.data.samplers import LengthGroupedBatchSampler
from mg.tasks.data.store import StoredSequenceDataset

__all__ = [
    "CellData",
    "CellEmbeddingWriter",
    "FormatReader",
    "LengthGroupedBatchSampler",
    "MultiColumnData",
    "ReadOptions",
    "SequenceData",
    "SequenceDataset",
    "StoredSequenceDataset",
    "Table",
    "example_names",
    "example_path",
    "iter_file_chunks",
    "iter_path_chunks",
    "read_fasta",
    "read_file",
    "read_hf_dataset",
    "read_path",
    "write_examples",
]
