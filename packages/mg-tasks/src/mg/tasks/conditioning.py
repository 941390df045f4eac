"""Tasks conditioned on each sample's label: a class, or a few continuous values.

`ConditionalDiffusion` and `ConditionalMLM` both read the label as a condition vector that
a `ConditionalGenerationAdapter` mixes into the token states; `Conditioned` holds that
shared part once.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import Tensor
from torch.nn import functional as F

from mg.core import BackboneInterface, LabelKind
from mg.core.data import Sample
from mg.tasks.batching import as_numbers
from mg.tasks.data.labels import as_int, preview

ConditionKind = Literal["class", "continuous"]
"""How a conditional task reads its labels: a class index or continuous values."""


class Conditioned:
    """Mixin for tasks whose label is a condition (put it before the task base class).

    Call `set_condition` from ``__init__``; the mixin then sizes the adapter, checks every
    label before weights load, and turns labels into condition vectors in ``collate``.
    """

    condition: ConditionKind
    n_classes: int
    condition_size: int
    label_kind: LabelKind

    def set_condition(self, condition: ConditionKind, n_classes: int, condition_size: int) -> None:
        """Check and keep the condition options.

        Raises:
            ValueError: an unknown ``condition``, fewer than two classes, or no values.
        """
        if condition not in ("class", "continuous"):
            raise ValueError(f"condition must be 'class' or 'continuous', not {condition!r}.")
        if condition == "class" and n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, not {n_classes}.")
        if condition == "continuous" and condition_size < 1:
            raise ValueError(f"condition_size must be at least 1, not {condition_size}.")
        self.condition = condition
        self.n_classes = n_classes
        self.condition_size = condition_size
        self.label_kind = LabelKind.CLASS if condition == "class" else LabelKind.REGRESSION

    @property
    def condition_width(self) -> int:
        """The size of the condition vector the adapter reads."""
        return self.n_classes if self.condition == "class" else self.condition_size

    def adapter_arguments(self, backbone: BackboneInterface) -> tuple[Any, ...]:
        """The adapter reads the embedding size, vocabulary, condition width and LM head."""
        return (
            backbone.get_embedding_size(),
            backbone.get_vocab_size(),
            self.condition_width,
            backbone.get_decoder(),
        )

    def condition_batch(self, samples: list[Sample]) -> tuple[Tensor, Tensor]:
        """Return the labels as a tensor and their ``(batch, width)`` float condition vectors."""
        if self.condition == "class":
            indices = torch.tensor([as_int(s["labels"]) for s in samples])
            return indices, F.one_hot(indices, self.n_classes).float()
        rows = [as_numbers(s["labels"]) for s in samples]
        values = torch.tensor(rows, dtype=torch.float32).view(-1, self.condition_size)
        return values, values

    @classmethod
    def required_data_columns(cls, stage: str) -> set[str]:
        """Sequences and labels (the condition), in every stage."""
        return {"sequences", "labels"}

    def label_problem(self, label: Any) -> str | None:
        """Say what is wrong with a condition: a class out of range, a bad value list."""
        if self.condition == "class":
            index = as_int(label)
            if index is None or not 0 <= index < self.n_classes:
                return (
                    f"label {preview(label)} is not a class index in [0, {self.n_classes}) "
                    "(condition='class')"
                )
            return None
        values = as_numbers(label)
        if values is None or len(values) != self.condition_size:
            return (
                f"label {preview(label)} is not {self.condition_size} number(s) "
                f"(condition='continuous', condition_size={self.condition_size})"
            )
        if not all(math.isfinite(v) for v in values):
            return f"label {preview(label)} is NaN or infinite"
        return None
