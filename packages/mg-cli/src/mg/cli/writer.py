"""Write predictions to TSV, CSV, Parquet, torch or NumPy files, batch by batch, with ids."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch import Tensor

Format = Literal["auto", "tsv", "csv", "parquet", "pt", "npy"]
DEFAULT_NAME = "predictions.tsv"
"""The file written inside the run folder when no output is given."""


def _cell(value: Any) -> Any:
    if isinstance(value, Tensor):
        value = value.detach().cpu()
        return value.item() if value.ndim == 0 else json.dumps(value.tolist())
    return value


def _columns(prediction: dict[str, Any], class_names: Sequence[str] | None) -> dict[str, list[Any]]:
    """Turn one predicted batch into flat columns of equal length, one whole column at a time.

    A vector per item becomes one column per element (``probabilities_0``, ...; named by
    class when the classes have names); a predicted class index becomes its class name.
    Outputs of varying length (per residue) stay one JSON list per item. Tensors become
    Python values with one ``tolist`` per column, not one call per cell.
    """
    columns: dict[str, list[Any]] = {}
    for key, value in prediction.items():
        if value is None:
            continue
        if isinstance(value, Tensor):
            value = value.detach().cpu()
            if value.ndim == 2:
                named = class_names is not None and value.shape[1] == len(class_names)
                for index, column in enumerate(value.T.tolist()):
                    suffix = class_names[index] if named and class_names else index
                    columns[f"{key}_{suffix}"] = column
                continue
            if class_names is not None and key == "predictions" and _is_class_index(value):
                columns[key] = [class_names[i] for i in value.tolist()]
                continue
            if value.ndim == 1:
                columns[key] = value.tolist()
                continue
        columns[key] = [_cell(item) for item in value]
    size = min((len(values) for values in columns.values()), default=0)
    return {key: values[:size] for key, values in columns.items()}


def _rows(prediction: dict[str, Any], class_names: Sequence[str] | None) -> list[dict[str, Any]]:
    """Turn one predicted batch into one flat row per item (see `_columns`)."""
    columns = _columns(prediction, class_names)
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _ordered_rows(
    columns: dict[str, list[Any]], names: Sequence[str], blank: Any = ""
) -> list[tuple[Any, ...]]:
    """Zip columns into row tuples in the order of ``names`` (the header's).

    A column missing from this batch is filled with ``blank``; one the header lacks is an
    error. No dict is built per row.

    Raises:
        ValueError: the batch has a column the header lacks.
    """
    extra = [key for key in columns if key not in names]
    if extra:
        raise ValueError(
            f"This batch has the columns {extra}, which the first batch (the header) lacks."
        )
    size = min((len(values) for values in columns.values()), default=0)
    missing = [blank] * size
    return list(zip(*(columns.get(name, missing) for name in names), strict=True))


def _write_delimited(
    handle: Any, columns: dict[str, list[Any]], names: Sequence[str], delimiter: str
) -> None:
    """Write columns as delimited rows in the order of ``names`` (see `_ordered_rows`).

    The text is what `csv.DictWriter` writes for the same rows.
    """
    csv.writer(handle, delimiter=delimiter).writerows(_ordered_rows(columns, names))


def _is_class_index(value: Tensor) -> bool:
    return value.ndim == 1 and not value.is_floating_point() and not value.is_complex()


def class_names_of(trainer: pl.Trainer, pl_module: pl.LightningModule) -> list[str] | None:
    """The class names of a classification task, from the task or else its data module."""
    for owner in (pl_module, getattr(trainer, "datamodule", None)):
        names = getattr(owner, "class_names", None)
        if names:
            return [str(name) for name in names]
    return None


class PredictionWriter(BasePredictionWriter):
    """Write predictions in file order as batches come, so memory stays flat on large inputs.

    Inference batches may come in another order than the file's (sorted by length, see
    `SequenceData`'s ``inference_order``): when the batch sampler says which indices this
    process reads in file order (a ``file_order()`` method), rows wait in a buffer until
    every row before them is written, so the buffer holds at most about one sorting window.
    Without it, rows are written as they come. Every process writes its own part (under
    DDP a contiguous block of the file); the main process joins them in rank order into
    ``output`` at the end. A failed run removes its parts and leaves no half-written file.
    An existing output is never replaced unless ``overwrite`` says so.

    Args:
        output (str | None): the file to write; the format follows its suffix unless set.
            None writes ``predictions.tsv`` inside the run folder (``runs/mg/version_N``).
        format (Format): ``"tsv"``, ``"csv"``, ``"parquet"`` (needs pyarrow), ``"pt"``
            (a folder of torch files, each a run of consecutive rows of one process; in
            name order they are in file order), ``"npy"`` (the ``predictions`` output as
            one NumPy array, ids beside it in ``NAME.ids.txt``) or ``"auto"``.
        overwrite (bool): replace an existing output instead of stopping with an error.
    """

    def __init__(
        self, output: str | None = None, format: Format = "auto", overwrite: bool = False
    ) -> None:
        super().__init__(write_interval="batch")
        self.output: Path | None = Path(output) if output is not None else None
        self.format = self._resolve_format(self.output or Path(DEFAULT_NAME), format)
        self.overwrite = overwrite
        self._columns: list[str] | None = None
        self._parquet: Any = None
        self._target: Path | None = self.output
        self._rank = 0
        self._rows = 0
        self._class_names: list[str] | None = None
        self._names_read = False
        self._order: Sequence[int] | None = None
        self._index_tracker: Any = None  # Lightning's batch sampler wrapper, when there is one
        self._next = 0
        self._pending: dict[int, Any] = {}
        self._chunks = 0
        self._reserved: list[Path] = []

    def redirect(self, output: str | None, overwrite: bool) -> None:
        """Apply ``mg predict --output FILE --overwrite BOOL`` over the configured values.

        Args:
            output (str | None): the file to write instead; None keeps the configured one.
            overwrite (bool): replace an existing output (or keep the configured choice).
        """
        if output is not None:
            self.output = self._target = Path(output)
            self.format = self._resolve_format(self.output, "auto")
        self.overwrite = self.overwrite or overwrite

    @property
    def path(self) -> Path:
        """The output file; known once the run folder is (at setup) when no output was given."""
        if self._target is None:
            raise RuntimeError("The prediction writer's output is chosen at setup.")
        return self._target

    @staticmethod
    def _resolve_format(output: Path, format: Format) -> str:
        if format != "auto":
            return format
        suffix = output.suffix.lower().lstrip(".")
        known = {
            "tsv": "tsv",
            "txt": "tsv",
            "csv": "csv",
            "parquet": "parquet",
            "pt": "pt",
            "npy": "npy",
        }
        if suffix not in known:
            raise ValueError(
                f"Cannot tell the prediction format of {str(output)!r}: end it in .tsv, .csv, "
                ".parquet, .pt or .npy, or set the writer's format option."
            )
        return known[suffix]

    def _part(self, rank: int) -> Path:
        return self.path.with_name(f".{self.path.name}.part{rank}")

    def _ids_path(self) -> Path:
        return self.path.with_name(f"{self.path.stem}.ids.txt")

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Choose the output, and fail now if it exists or its folder is unwritable."""
        from mg.cli.callbacks import run_folder

        self._rank = trainer.global_rank
        self._columns = None
        self._rows = 0
        self._names_read = False
        self._target = self.output or run_folder(trainer) / DEFAULT_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if trainer.is_global_zero:
            self._reserve()
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
        if self.format in ("pt", "npy"):
            part.mkdir(parents=True)

    def _outputs(self) -> tuple[Path, ...]:
        # Only .npy writes an ids file beside its output.
        return (self.path, self._ids_path()) if self.format == "npy" else (self.path,)

    def _reserve(self) -> None:
        """Create the outputs now, exclusively: no other job's file is ever replaced.

        A check that the file is absent followed by a write at the end would replace a file
        that another job created in between; ``O_EXCL`` makes the check and the creation
        one step. The empty placeholders are filled at the end, or removed on failure.
        """
        self._reserved = []
        if self.overwrite:
            return
        for path in self._outputs():
            try:
                if self.format == "pt" and path == self.path:
                    path.mkdir()
                else:
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                self._unreserve()
                raise FileExistsError(
                    f"{path} already exists: pass --overwrite true to replace it, or "
                    "--output another path."
                ) from None
            self._reserved.append(path)

    def _unreserve(self) -> None:
        for path in getattr(self, "_reserved", []):
            with contextlib.suppress(OSError):
                path.rmdir() if path.is_dir() else path.unlink()
        self._reserved = []

    def on_predict_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Learn the file order of this process's indices from the batch sampler, if it says."""
        self._order, self._next, self._pending, self._chunks = None, 0, {}, 0
        self._index_tracker = None
        loaders = trainer.predict_dataloaders
        if isinstance(loaders, list | tuple):
            if len(loaders) != 1:
                return  # several loaders share batch indices: write rows as they come
            loaders = loaders[0]
        sampler = getattr(loaders, "batch_sampler", None)
        self._index_tracker = sampler if hasattr(sampler, "seen_batch_indices") else None
        sampler = getattr(sampler, "_batch_sampler", sampler)  # Lightning's index-tracking wrapper
        file_order = getattr(sampler, "file_order", None)
        if callable(file_order):
            self._order = file_order()

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
        """Hold one predicted batch's rows, and write every row whose turn has come."""
        if not self._names_read:
            self._class_names = class_names_of(trainer, pl_module)
            self._names_read = True
        self._release_indices(batch_idx)
        items = self._items(prediction)
        order = self._order
        if order is None or batch_indices is None or len(batch_indices) != len(items):
            self._emit(items)
            return
        self._pending.update(zip(batch_indices, items, strict=True))
        ready = []
        while self._next < len(order) and order[self._next] in self._pending:
            ready.append(self._pending.pop(order[self._next]))
            self._next += 1
        self._emit(ready)

    def _release_indices(self, batch_idx: int) -> None:
        """Drop Lightning's copy of a written batch's indices.

        Lightning's index-tracking batch sampler keeps every batch's index list until the
        epoch ends (about 40 bytes a row: 400 MB for 10M rows); once the batch is written
        nothing reads its entry again, so it is replaced by an empty one.
        """
        seen = getattr(self._index_tracker, "seen_batch_indices", None)
        if isinstance(seen, list) and 0 <= batch_idx < len(seen):
            seen[batch_idx] = []

    def _items(self, prediction: dict[str, Any]) -> list[Any]:
        """One record per predicted item, in the form this format writes."""
        if self.format == "pt":
            return _split(prediction)
        if self.format == "npy":
            values = prediction.get("predictions")
            if not isinstance(values, Tensor):
                raise ValueError(
                    "A .npy output holds one fixed-size vector per sequence; these predictions "
                    "vary in length per sequence: write them to a .pt or .parquet output instead."
                )
            array = values.detach().cpu().float().numpy()
            ids = [str(i) for i in prediction.get("ids", range(len(array)))]
            return list(zip(array, ids, strict=True))
        columns = _columns(prediction, self._class_names)
        if self._columns is None:
            self._columns = list(columns)
        return _ordered_rows(columns, self._columns, None if self.format == "parquet" else "")

    def _emit(self, items: list[Any]) -> None:
        """Append consecutive rows to this process's part."""
        if not items:
            return
        part = self._part(self._rank)
        self._rows += len(items)
        name = f"batch{self._chunks:06d}"
        self._chunks += 1
        if self.format == "pt":
            torch.save(_join(items), part / f"{name}.pt")
        elif self.format == "npy":
            import numpy as np

            np.save(part / f"{name}.npy", np.stack([vector for vector, _ in items]))
            with (part / f"{name}.ids.txt").open("w", newline="") as ids:
                ids.write("".join(f"{_one_line(i)}\n" for _, i in items))
        elif self.format == "parquet":
            assert self._columns is not None  # set with the first batch's rows
            values = [list(column) for column in zip(*items, strict=True)]
            self._write_parquet(part, dict(zip(self._columns, values, strict=True)))
        else:
            delimiter = "\t" if self.format == "tsv" else ","
            with part.open("a", newline="") as handle:
                csv.writer(handle, delimiter=delimiter, lineterminator="\n").writerows(items)

    def _write_parquet(self, part: Path, columns: dict[str, list[Any]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pydict(columns)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(part, table.schema)
        self._parquet.write_table(table.cast(self._parquet.schema))

    def on_predict_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Write rows still held (none when every index came), then merge the parts."""
        if self._pending:
            self._emit([self._pending.pop(i) for i in sorted(self._pending)])
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        trainer.strategy.barrier()
        rows = trainer.strategy.reduce(torch.tensor(self._rows), reduce_op="sum")
        if trainer.is_global_zero:
            self._merge(trainer.world_size)
            print(f"Wrote {int(rows)} predictions to {self.path}", flush=True)
        trainer.strategy.barrier()

    def _merge(self, world_size: int) -> None:
        parts = [p for p in (self._part(r) for r in range(world_size)) if p.exists()]
        if self.format == "pt":
            if self.path.exists() and self.path not in self._reserved:
                shutil.rmtree(self.path) if self.path.is_dir() else self.path.unlink()
            self.path.mkdir(parents=True, exist_ok=True)
            for rank, part in enumerate(parts):
                for file in sorted(part.iterdir()):
                    file.rename(self.path / f"rank{rank:04d}_{file.name}")  # name order: file order
                part.rmdir()
            self._reserved = []
            return
        # Written beside the output, then renamed over it (our placeholder or, with
        # --overwrite, the old file): readers never see a half-joined file.
        staged = {path: path.with_name(f".{path.name}.joining") for path in self._outputs()}
        if self.format == "npy":
            self._merge_npy(parts, staged[self.path], staged[self._ids_path()])
        elif self.format == "parquet":
            self._merge_parquet(parts, staged[self.path])
        else:
            delimiter = "\t" if self.format == "tsv" else ","
            with staged[self.path].open("w", newline="") as handle:
                csv.writer(handle, delimiter=delimiter, lineterminator="\n").writerow(
                    self._columns or ["ids"]
                )
                for part in parts:
                    with part.open(newline="") as source:
                        shutil.copyfileobj(source, handle)
                    part.unlink()
        for path, temporary in staged.items():
            if temporary.exists():
                os.replace(temporary, path)
        self._reserved = []

    def _merge_npy(self, parts: list[Path], array: Path, ids_file: Path) -> None:
        """Join the parts' arrays and ids, one batch file at a time, so memory stays flat."""
        import numpy as np

        files = [file for part in parts for file in sorted(part.glob("batch*.npy"))]
        with ids_file.open("w", newline="") as ids:
            with array.open("wb") as out:
                if files:
                    first = np.load(files[0], mmap_mode="r")  # reads the header only
                    rows = sum(np.load(file, mmap_mode="r").shape[0] for file in files)
                    header = {
                        "descr": np.lib.format.dtype_to_descr(first.dtype),
                        "fortran_order": False,
                        "shape": (rows, *first.shape[1:]),
                    }
                    np.lib.format.write_array_header_1_0(out, header)
                    for file in files:
                        out.write(np.ascontiguousarray(np.load(file)).tobytes())
                        with file.with_suffix(".ids.txt").open(newline="") as batch_ids:
                            shutil.copyfileobj(batch_ids, ids)
        for part in parts:
            shutil.rmtree(part)

    def _merge_parquet(self, parts: list[Path], target: Path) -> None:
        import pyarrow.parquet as pq

        writer = None
        for part in parts:
            source = pq.ParquetFile(part)
            writer = writer or pq.ParquetWriter(target, source.schema_arrow)
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
        self._unreserve()


def _one_line(identifier: str) -> str:
    r"""An id as one line of an ids file: backslash, CR and LF written as \\, \r and \n."""
    return identifier.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def _split(prediction: dict[str, Any]) -> list[dict[str, Any]]:
    """Cut a predicted batch into one dict per item (values not per item are kept whole)."""
    ids = prediction.get("ids")
    tensors = [v for v in prediction.values() if isinstance(v, Tensor) and v.ndim > 0]
    size = len(ids) if ids is not None else (len(tensors[0]) if tensors else 0)
    items: list[dict[str, Any]] = [{} for _ in range(size)]
    for key, value in prediction.items():
        if isinstance(value, Tensor):
            value = value.detach().cpu()
        batched = isinstance(value, list | tuple) or (isinstance(value, Tensor) and value.ndim > 0)
        per_item = batched and len(value) == size
        for index, item in enumerate(items):
            item[key] = value[index] if per_item else value
    return items


def _join(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Join per-item dicts into one batch dict: equal-shaped tensors stacked, others listed."""
    joined: dict[str, Any] = {}
    for key in items[0]:
        values = [item[key] for item in items]
        if all(isinstance(v, Tensor) for v in values) and len({v.shape for v in values}) == 1:
            joined[key] = torch.stack(values)
        else:
            joined[key] = values
    return joined
