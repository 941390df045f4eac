"""Write predictions to TSV, CSV, Parquet or torch files, batch by batch, with their ids."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch import Tensor

Format = Literal["auto", "tsv", "csv", "parquet", "pt"]
MAX_SPREAD = 64
"""Vectors up to this size become one column per element; longer ones a JSON list."""


def _cell(value: Any) -> Any:
    if isinstance(value, Tensor):
        value = value.detach().cpu()
        return value.item() if value.ndim == 0 else json.dumps(value.tolist())
    return value


def _rows(prediction: dict[str, Any]) -> list[dict[str, Any]]:
    """Turn one predicted batch into one flat row per item."""
    columns: dict[str, list[Any]] = {}
    for key, value in prediction.items():
        if value is None:
            continue
        if isinstance(value, Tensor):
            value = value.detach().cpu()
            if value.ndim == 2 and value.shape[1] <= MAX_SPREAD:
                for index in range(value.shape[1]):
                    columns[f"{key}_{index}"] = value[:, index].tolist()
                continue
        columns[key] = [_cell(item) for item in value]
    size = min((len(values) for values in columns.values()), default=0)
    return [{key: values[i] for key, values in columns.items()} for i in range(size)]


class PredictionWriter(BasePredictionWriter):
    """Write each predicted batch as it comes, so memory stays flat on large inputs.

    Every process writes its own part; the main process merges them into ``output``
    at the end. A failed run removes its parts and leaves no half-written file.

    Args:
        output (str): the file to write; the format follows its suffix unless set.
        format (Format): ``"tsv"``, ``"csv"``, ``"parquet"`` (needs pyarrow), ``"pt"``
            (a folder of torch files, one per batch and process) or ``"auto"``.
    """

    def __init__(self, output: str = "predictions.tsv", format: Format = "auto") -> None:
        super().__init__(write_interval="batch")
        self.output = Path(output)
        self.format = self._resolve_format(self.output, format)
        self._columns: list[str] | None = None
        self._parquet: Any = None
        self._rank = 0

    @staticmethod
    def _resolve_format(output: Path, format: Format) -> str:
        if format != "auto":
            return format
        suffix = output.suffix.lower().lstrip(".")
        known = {"tsv": "tsv", "txt": "tsv", "csv": "csv", "parquet": "parquet", "pt": "pt"}
        if suffix not in known:
            raise ValueError(
                f"Cannot tell the prediction format of {str(output)!r}: end it in .tsv, .csv, "
                ".parquet or .pt, or set the writer's format option."
            )
        return known[suffix]

    def _part(self, rank: int) -> Path:
        return self.output.with_name(f".{self.output.name}.part{rank}")

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Prepare this process's part file; fail now if the output folder is unwritable."""
        self._rank = trainer.global_rank
        self._columns = None
        self.output.parent.mkdir(parents=True, exist_ok=True)
        if self.format == "parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError as error:
                raise ImportError(
                    "Writing Parquet needs pyarrow: pip install 'mg-cli[parquet]', or give the "
                    "prediction writer an output ending in .tsv or .csv."
                ) from error
        part = self._part(self._rank)
        if part.exists():
            shutil.rmtree(part) if part.is_dir() else part.unlink()
        if self.format == "pt":
            part.mkdir(parents=True)

    def write_on_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        prediction: Any,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Append one predicted batch to this process's part."""
        part = self._part(self._rank)
        if self.format == "pt":
            cpu = {
                k: v.detach().cpu() if isinstance(v, Tensor) else v for k, v in prediction.items()
            }
            torch.save(cpu, part / f"batch{batch_idx:06d}.pt")
            return
        rows = _rows(prediction)
        if not rows:
            return
        if self._columns is None:
            self._columns = list(rows[0])
        if self.format == "parquet":
            self._write_parquet(part, rows)
        else:
            delimiter = "\t" if self.format == "tsv" else ","
            with part.open("a", newline="") as handle:
                writer = csv.DictWriter(handle, self._columns, delimiter=delimiter)
                writer.writerows(rows)

    def _write_parquet(self, part: Path, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(rows)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(part, table.schema)
        self._parquet.write_table(table.cast(self._parquet.schema))

    def on_predict_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Close this process's part, then merge every part on the main process."""
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        trainer.strategy.barrier()
        if trainer.is_global_zero:
            self._merge(trainer.world_size)
        trainer.strategy.barrier()

    def _merge(self, world_size: int) -> None:
        parts = [p for p in (self._part(r) for r in range(world_size)) if p.exists()]
        if self.output.exists():
            shutil.rmtree(self.output) if self.output.is_dir() else self.output.unlink()
        if self.format == "pt":
            self.output.mkdir(parents=True)
            for rank, part in enumerate(parts):
                for file in sorted(part.iterdir()):
                    file.rename(self.output / f"rank{rank}_{file.name}")
                part.rmdir()
        elif self.format == "parquet":
            self._merge_parquet(parts)
        else:
            delimiter = "\t" if self.format == "tsv" else ","
            with self.output.open("w", newline="") as handle:
                csv.writer(handle, delimiter=delimiter).writerow(self._columns or ["ids"])
                for part in parts:
                    with part.open() as source:
                        shutil.copyfileobj(source, handle)
                    part.unlink()

    def _merge_parquet(self, parts: list[Path]) -> None:
        import pyarrow.parquet as pq

        writer = None
        for part in parts:
            source = pq.ParquetFile(part)
            writer = writer or pq.ParquetWriter(self.output, source.schema_arrow)
            for group in range(source.num_row_groups):
                writer.write_table(source.read_row_group(group))
            part.unlink()
        if writer is not None:
            writer.close()

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        """Remove this process's part so a failed run leaves no half-written output."""
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        part = self._part(self._rank)
        if part.exists():
            shutil.rmtree(part) if part.is_dir() else part.unlink()
