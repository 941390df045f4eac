"""Tasks conditioned on each sample's label: a class, or a few continuous values.

`ConditionalDiffusion` and `ConditionalMLM` both read the label as a condition vector that
a `ConditionalGenerationAdapter` mixes into the token states; `Conditioned` holds that
shared part once.
"""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor
from torch.nn import functional as F

from mg.core import BackboneInterface, LabelKind
from mg.core.data import Sample
from mg.core.labels import label_handler

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
    labels_are_targets = False  # the label is the condition the task is given

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
        labels = label_handler(self.label_kind).stack(samples, {}, self.label_size)
        if self.condition == "class":
            return labels, F.one_hot(labels, self.n_classes).float()
        return labels, labels

    @classmethod
    def required_data_columns(cls, stage: str) -> set[str]:
        """Sequences and labels (the condition), in every stage."""
        return {"sequences", "labels"}

    @property
    def label_size(self) -> int:
        """The number of classes, or of condition values, a label holds."""
        return self.condition_width
