"""Predictions come out in file order, with their ids, however inference batches are ordered.

Inference batches are sorted by length (or cut by a token budget), so the prediction writer
must put rows back; these tests compare every output format against plain file-order
batching on sequences of very different lengths.
"""

from __future__ import annotations

import csv
import random
from functools import partial
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from mg.backbones import BertDNATiny
from mg.cli.writer import PredictionWriter
from mg.tasks import Embed
from mg.tasks.data import SequenceData

N = 45
BACKBONE = partial(BertDNATiny, max_length=1024, hidden_size=16, num_layers=1, num_heads=2)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sequences of 50 to 1000 residues, in no particular order of length."""
    rng = random.Random(7)
    path = tmp_path_factory.mktemp("order") / "mixed.csv"
    lines = ["id,sequence"]
    for i in range(N):
        length = rng.randrange(50, 1001)
        lines.append(f"q{i},{''.join(rng.choice('ACGT') for _ in range(length))}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _predict(data_file: Path, output: Path, **options: Any) -> PredictionWriter:
    data = SequenceData(predict_file=str(data_file), batch_size=6, **options)
    writer = PredictionWriter(str(output))
    trainer = pl.Trainer(
        accelerator="cpu",
        logger=False,
        callbacks=[writer],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.predict(Embed(BACKBONE, pooling="mean"), datamodule=data, return_predictions=False)
    return writer


def _table(path: Path) -> tuple[list[str], torch.Tensor]:
    with path.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    columns = [c for c in rows[0] if c.startswith("predictions_")]
    values = torch.tensor([[float(row[c]) for c in columns] for row in rows])
    return [row["ids"] for row in rows], values


@pytest.fixture(scope="module")
def file_order(data_file: Path) -> torch.Tensor:
    """The embeddings of plain file-order batching: what every other order must reproduce."""
    output = data_file.parent / "file.tsv"
    _predict(data_file, output, inference_order="file")
    ids, values = _table(output)
    assert ids == [f"q{i}" for i in range(N)]
    return values


@pytest.mark.parametrize(
    "options",
    [{}, {"sort_window": 16}, {"max_tokens": 2500, "sort_window": 20}, {"max_tokens": 3000}],
    ids=["sorted", "small-windows", "budget", "budget-one-window"],
)
def test_sorted_and_budget_batches_write_the_file_order_rows(
    data_file: Path, file_order: torch.Tensor, tmp_path: Path, options: dict[str, Any]
) -> None:
    output = tmp_path / "out.tsv"
    writer = _predict(data_file, output, **options)
    assert writer._next == N and not writer._pending  # every row written in turn
    ids, values = _table(output)
    assert ids == [f"q{i}" for i in range(N)]
    torch.testing.assert_close(values, file_order, atol=1e-5, rtol=1e-5)


def test_array_torch_and_parquet_outputs_keep_ids_aligned(
    data_file: Path, file_order: torch.Tensor, tmp_path: Path
) -> None:
    ids = [f"q{i}" for i in range(N)]
    _predict(data_file, tmp_path / "e.npy", sort_window=16)
    array = torch.from_numpy(np.load(tmp_path / "e.npy"))
    assert (tmp_path / "e.ids.txt").read_text().split() == ids
    torch.testing.assert_close(array, file_order, atol=1e-5, rtol=1e-5)

    _predict(data_file, tmp_path / "e.pt", sort_window=16)
    parts = [torch.load(f, weights_only=True) for f in sorted((tmp_path / "e.pt").iterdir())]
    assert [i for part in parts for i in part["ids"]] == ids
    stacked = torch.cat([part["predictions"] for part in parts])
    torch.testing.assert_close(stacked, file_order, atol=1e-5, rtol=1e-5)

    import pyarrow.parquet as pq

    _predict(data_file, tmp_path / "e.parquet", max_tokens=2500)
    table = pq.read_table(tmp_path / "e.parquet").to_pylist()
    assert [row["ids"] for row in table] == ids
    columns = [c for c in table[0] if c.startswith("predictions_")]
    values = torch.tensor([[row[c] for c in columns] for row in table])
    torch.testing.assert_close(values, file_order, atol=1e-5, rtol=1e-5)


def test_saved_test_outputs_pair_each_id_with_its_label_in_file_order(
    data_file: Path, tmp_path: Path
) -> None:
    from mg.cli.outputs import SaveTestOutputs, load_test_outputs
    from mg.tasks import SequenceRegression

    with data_file.open() as handle:
        rows = list(csv.DictReader(handle))
    labelled = tmp_path / "labelled.csv"
    with labelled.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["id", "sequence", "length"])
        writer.writeheader()
        writer.writerows({**row, "length": len(row["sequence"])} for row in rows)
    data = SequenceData(
        test_file=str(labelled), label_columns="length", batch_size=6, sort_window=16
    )
    trainer = pl.Trainer(
        accelerator="cpu",
        logger=False,
        default_root_dir=str(tmp_path),
        callbacks=[SaveTestOutputs()],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.test(SequenceRegression(BACKBONE), datamodule=data, verbose=False)
    saved = load_test_outputs(tmp_path)
    assert saved is not None
    assert saved["ids"] == [row["id"] for row in rows]  # file order, though batches were sorted
    expected = torch.tensor([float(len(row["sequence"])) for row in rows])
    torch.testing.assert_close(saved["labels"].reshape(-1).float(), expected)
    assert saved["scores"].shape[0] == len(rows)


def test_written_batches_leave_no_indices_behind(data_file: Path, tmp_path: Path) -> None:
    # Lightning's batch sampler wrapper keeps every batch's indices for the whole epoch
    # (~40 bytes a row); the writer drops each batch's entry once it is written.
    class Watch(pl.Callback):
        held: list[int] = []

        def on_predict_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
            loader = trainer.predict_dataloaders
            seen = loader.batch_sampler.seen_batch_indices  # type: ignore[union-attr]
            Watch.held.append(sum(len(indices) for indices in seen))

    data = SequenceData(predict_file=str(data_file), batch_size=6)
    trainer = pl.Trainer(
        accelerator="cpu",
        logger=False,
        callbacks=[PredictionWriter(str(tmp_path / "out.tsv")), Watch()],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.predict(Embed(BACKBONE, pooling="mean"), datamodule=data, return_predictions=False)
    assert len(Watch.held) == -(-N // 6)
    assert max(Watch.held) <= 2 * 6  # the batch being written and the one fetched ahead
