"""The prediction writer formats a batch column by column into the same text as row dicts."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import torch

from mg.cli.writer import _columns, _write_delimited

CLASSES = ["background", "promoter", "enhancer"]


def _row_by_row(prediction: dict[str, Any], class_names: list[str] | None) -> list[dict]:
    """One dict per item, one cell at a time: how predicted batches were once written."""
    rows: list[dict[str, Any]] = []
    for item in range(len(prediction["ids"])):
        row: dict[str, Any] = {}
        for key, value in prediction.items():
            if value is None:
                continue
            cell = value[item]
            if isinstance(value, torch.Tensor) and value.ndim == 2:
                named = class_names is not None and value.shape[1] == len(class_names)
                for index in range(value.shape[1]):
                    suffix = class_names[index] if named and class_names else index
                    row[f"{key}_{suffix}"] = value[item, index].item()
            elif isinstance(cell, torch.Tensor) and cell.ndim == 0:
                is_class = not value.is_floating_point() and not value.is_complex()
                if class_names is not None and key == "predictions" and is_class:
                    row[key] = class_names[int(cell)]
                else:
                    row[key] = cell.item()
            elif isinstance(cell, torch.Tensor):
                row[key] = json.dumps(cell.tolist())
            else:
                row[key] = cell
        rows.append(row)
    return rows


def _dict_writer_text(rows: list[dict[str, Any]], delimiter: str) -> str:
    handle = io.StringIO(newline="")
    csv.DictWriter(handle, list(rows[0]), delimiter=delimiter).writerows(rows)
    return handle.getvalue()


def _columns_text(prediction: dict[str, Any], names: list[str] | None, delimiter: str) -> str:
    columns = _columns(prediction, names)
    handle = io.StringIO(newline="")
    _write_delimited(handle, columns, list(columns), delimiter)
    return handle.getvalue()


def _predictions() -> list[tuple[dict[str, Any], list[str] | None]]:
    generator = torch.Generator().manual_seed(0)
    ids = ["seq,1", 'say "hi"', "tab\there", "plain", "é-unicode"]
    logits = torch.randn(5, 3, generator=generator)
    lengths = [3, 1, 4, 2, 5]
    return [
        # classification: class names, one probability column per class
        (
            {"ids": ids, "predictions": logits.argmax(1), "probabilities": logits.softmax(1)},
            CLASSES,
        ),
        # the same without names: index columns
        ({"ids": ids, "predictions": logits.argmax(1), "probabilities": logits.softmax(1)}, None),
        # pooled embeddings, with a None output left out
        ({"ids": ids, "predictions": torch.randn(5, 7, generator=generator), "extra": None}, None),
        # regression: one number per item, in float64 and bfloat16
        (
            {"ids": ids, "predictions": torch.randn(5, dtype=torch.float64, generator=generator)},
            None,
        ),
        ({"ids": ids, "predictions": torch.randn(5, generator=generator).bfloat16()}, None),
        # multi-label flags and per-item integers
        ({"ids": ids, "predictions": torch.rand(5, generator=generator) > 0.5}, CLASSES),
        # per residue: one tensor per item of its own length, and a padded (B, L, C) block
        (
            {
                "ids": ids,
                "predictions": [torch.randn(n, 2, generator=generator) for n in lengths],
                "labels": [torch.arange(n) for n in lengths],
            },
            None,
        ),
        ({"ids": ids, "predictions": torch.randn(5, 4, 2, generator=generator)}, None),
    ]


@pytest.mark.parametrize("delimiter", ["\t", ","])
@pytest.mark.parametrize("case", range(8))
def test_column_formatting_writes_what_row_dicts_wrote(case: int, delimiter: str) -> None:
    prediction, names = _predictions()[case]
    expected = _dict_writer_text(_row_by_row(prediction, names), delimiter)
    assert _columns_text(prediction, names, delimiter) == expected
    assert len(expected.split("\r\n")) == 6  # five rows
    assert ('"seq,1"' if delimiter == "," else '"tab\there"') in expected  # quoted as needed


def test_columns_follow_the_header_and_refuse_a_new_one() -> None:
    handle = io.StringIO(newline="")
    _write_delimited(handle, {"ids": ["a", "b"], "score": [1.5, 2.0]}, ["ids", "x", "score"], ",")
    assert handle.getvalue() == "a,,1.5\r\nb,,2.0\r\n"
    with pytest.raises(ValueError, match=r"columns \['new'\], which the first batch"):
        _write_delimited(handle, {"ids": ["a"], "new": [1]}, ["ids"], ",")
