"""Helpers for the data-module tests: tiny files on disk and a toy task that checks labels."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from mg.core import BackboneInterface, LabelKind, SequenceAdapter, TaskInterface
from mg.core.testing import ToyBackbone


def write_table(path: Path, rows: list[dict[str, Any]], delimiter: str = ",") -> Path:
    """Write rows as CSV/TSV (every value as text) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def rows(n: int, **columns: Any) -> list[dict[str, Any]]:
    """Make n rows: ``seq{i}`` ids, growing sequences, and extra columns (a value or a callable)."""
    made = []
    for i in range(n):
        row: dict[str, Any] = {"id": f"seq{i}", "sequence": "ACGT" * (1 + i % 3) + "A" * (i % 5)}
        for name, value in columns.items():
            row[name] = value(i) if callable(value) else value
        made.append(row)
    return made


def assert_names(error: pytest.ExceptionInfo[BaseException], *parts: object) -> None:
    """Assert that an error message mentions every part (file, 'row N', column...)."""
    message = str(error.value)
    for part in parts:
        assert str(part) in message, f"{part!r} missing from: {message}"


class MeanPool(SequenceAdapter):
    def __init__(self, in_features: int, out_features: int, /) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        weights = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
        return self.linear((hidden_states * weights).sum(1) / weights.sum(1).clamp(min=1))


class ToyClassification(TaskInterface):
    """A minimal classification task whose label check rejects indices >= n_classes."""

    adapter_type = SequenceAdapter
    label_kind = LabelKind.CLASS

    def __init__(self, n_classes: int = 2) -> None:
        super().__init__(ToyBackbone, MeanPool)
        self.n_classes = n_classes

    def label_problem(self, label: Any) -> str | None:
        if not isinstance(label, int) or not 0 <= label < self.n_classes:
            return f"class index {label} is outside 0..{self.n_classes - 1} (n_classes)."
        return None

    def adapter_arguments(self, backbone: BackboneInterface) -> tuple[int, int]:
        return backbone.get_embedding_size(), self.n_classes

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        assert self.backbone is not None
        tokens = self.backbone.batch([s["sequences"] for s in samples])
        batch: dict[str, Any] = {
            "input_ids": tokens.input_ids,
            "attention_mask": tokens.attention_mask,
            "ids": [s["ids"] for s in samples],
        }
        if "labels" in samples[0]:
            batch["labels"] = torch.tensor([s["labels"] for s in samples])
        return batch

    def evaluate(self, preds: Tensor, batch: dict[str, Any], stage: str) -> dict[str, Tensor]:
        return {"loss": nn.functional.cross_entropy(preds, batch["labels"])}
