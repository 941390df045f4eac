"""One label handler per `LabelKind`: parse, check, stack and describe a kind's labels.

A task declares its ``label_kind``; everything that touches its labels asks that kind's
handler, so a label is read, checked, batched and drawn the same way wherever it goes:

- the data module parses raw values from files (`LabelHandler.parse`);
- the checks entry point (`mg.core.checks`) checks every parsed label (`LabelHandler.check`);
- a task's ``collate`` stacks a batch's labels into a tensor (`LabelHandler.stack`);
- the test-output callback and `mg report` keep each item's score beside its label and
  draw the kind's figures (`LabelHandler.figures`, `LabelHandler.test_items`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from mg.core.data import LabelKind, Sample
from mg.core.label_values import (
    LabelFormatError,
    as_flag,
    as_float,
    as_int,
    as_numbers,
    parse_class,
    parse_multilabel,
    parse_pairs,
    parse_regression,
    parse_tokens,
    preview,
)
from mg.core.padding import pad_labels

IGNORE_INDEX = -100
"""A per-residue label with this value is not scored (padding, special tokens, no label)."""


def columns_text(columns: Sequence[str]) -> str:
    """Name label column(s) for messages: ``column 'label'`` or ``columns 'a', 'b'``."""
    if len(columns) == 1:
        return f"column {columns[0]!r}"
    return "columns " + ", ".join(repr(c) for c in columns)


def _not_a_list(value: Any, needs: str = "__iter__") -> bool:
    """Return True for text, or for a value without ``needs`` (``__iter__``, ``__len__``)."""
    return isinstance(value, str | bytes) or not hasattr(value, needs)


def _residue_mask(batch: dict[str, Any]) -> Tensor:
    return batch["attention_mask"] & ~batch["special_tokens_mask"]


class LabelHandler:
    """How labels of one kind are parsed, checked, stacked into a batch and drawn.

    ``size`` below is the task's ``label_size``: the number of classes, of labels
    (multilabel) or of numbers (regression); None where the kind has none.

    Class attributes:
        kind: the label kind handled.
        columns: how many label columns a row may have (``"one"`` or ``"many"``).
        figures: the figure family `mg report` draws (``"classification"``,
            ``"multilabel"``, ``"regression"``, ``"pairwise"``), or None.
        score_key: the ``predict_step`` output scored against the labels on test.
    """

    kind: ClassVar[LabelKind] = LabelKind.NONE
    columns: ClassVar[str] = "one"
    figures: ClassVar[str | None] = None
    score_key: ClassVar[str] = "predictions"

    def parse(self, values: Sequence[Any], sequence: str, class_names: Sequence[str] | None) -> Any:
        """Read one row's raw values (one per label column) into a label.

        Raises:
            LabelFormatError: the value cannot be read as this kind (a short message).
        """
        raise LabelFormatError(f"{self.kind.value!r} labels are not read from files.")

    def check(self, label: Any, size: int | None) -> str | None:
        """Say what is wrong with one parsed label, or None when it is fine."""
        return None

    def stack(self, samples: Sequence[Sample], batch: dict[str, Any], size: int | None) -> Tensor:
        """Stack the samples' labels into the batch's ``labels`` tensor."""
        raise NotImplementedError(f"{self.kind.value!r} labels are not stacked.")

    def test_items(
        self, predicted: dict[str, Any], batch: dict[str, Any]
    ) -> list[tuple[Tensor, Tensor]]:
        """Return each test item's ``(label, score)`` pair, both on the CPU."""
        raise NotImplementedError(f"{self.kind.value!r} labels have no test outputs.")

    def join(self, values: list[Tensor]) -> Tensor | list[Tensor]:
        """Join the items' labels (or scores), kept in order, for the test-output file."""
        return torch.stack(values)


class ItemLabels(LabelHandler):
    """Base of the kinds with one label (or one row of labels) per item, scored per item."""

    def test_items(
        self, predicted: dict[str, Any], batch: dict[str, Any]
    ) -> list[tuple[Tensor, Tensor]]:
        """Pair each item's label with its score."""
        labels = batch["labels"].detach().cpu()
        scores = self.item_scores(predicted[self.score_key].float().cpu(), labels)
        return list(zip(labels, scores, strict=True))

    def item_scores(self, scores: Tensor, labels: Tensor) -> Tensor:
        """Return the batch's scores, one entry per item; as predicted by default."""
        return scores


class ClassLabels(ItemLabels):
    """One class per item: an index, or a class name looked up in ``class_names``."""

    kind = LabelKind.CLASS
    figures = "classification"
    score_key = "probabilities"

    def parse(self, values: Sequence[Any], sequence: str, class_names: Sequence[str] | None) -> Any:
        """Read the row's raw value(s)."""
        return parse_class(values[0], class_names)

    def check(self, label: Any, size: int | None) -> str | None:
        """Say what is wrong with the label, or None."""
        index = as_int(label)
        if index is None:
            return f"label {preview(label)} is not a class index (a whole number)"
        if size is not None and not 0 <= index < size:
            return (
                f"label {index} is outside [0, {size}): classes are numbered 0 to {size - 1}; "
                "raise n_classes or fix the label"
            )
        return None

    def stack(self, samples: Sequence[Sample], batch: dict[str, Any], size: int | None) -> Tensor:
        """Stack the batch's labels."""
        return torch.tensor([as_int(s["labels"]) for s in samples], dtype=torch.long)


class MultilabelLabels(ClassLabels):
    """A 0/1 flag per label: one column per label, or a 0/1 list in one column."""

    kind = LabelKind.MULTILABEL
    columns = "many"
    figures = "multilabel"

    def parse(self, values: Sequence[Any], sequence: str, class_names: Sequence[str] | None) -> Any:
        """Read the row's raw value(s)."""
        return parse_multilabel(values)

    def check(self, label: Any, size: int | None) -> str | None:
        """Say what is wrong with the label, or None."""
        if _not_a_list(label, "__len__"):
            return f"label {preview(label)} is not a list of {size} 0/1 values (multilabel)"
        values = [as_int(v) for v in label]
        if size is not None and len(values) != size:
            return (
                f"label {preview(label)} has {len(values)} values, but n_classes is {size} "
                "(multilabel: one 0/1 value per label)"
            )
        if any(v not in (0, 1) for v in values):
            return f"label {preview(label)} holds values other than 0 and 1 (multilabel)"
        return None

    def stack(self, samples: Sequence[Sample], batch: dict[str, Any], size: int | None) -> Tensor:
        """Stack the batch's labels."""
        rows = [[float(v) for v in s["labels"]] for s in samples]
        return torch.tensor(rows, dtype=torch.float32)


class RegressionLabels(ItemLabels):
    """One number per output: one column per output, or a list in one column."""

    kind = LabelKind.REGRESSION
    columns = "many"
    figures = "regression"

    def parse(self, values: Sequence[Any], sequence: str, class_names: Sequence[str] | None) -> Any:
        """Read the row's raw value(s)."""
        return parse_regression(values)

    def check(self, label: Any, size: int | None) -> str | None:
        """Say what is wrong with the label, or None."""
        values = as_numbers(label)
        if values is None:
            return f"label {preview(label)} is not a number or a list of numbers"
        if size is not None and len(values) != size:
            return f"label {preview(label)} has {len(values)} value(s), but the task reads {size}"
        if not all(math.isfinite(v) for v in values):
            return f"label {preview(label)} is NaN or infinite; drop the row or fill it in"
        return None

    def stack(self, samples: Sequence[Sample], batch: dict[str, Any], size: int | None) -> Tensor:
        """Stack the batch's labels."""
        rows = [as_numbers(s["labels"]) for s in samples]
        return torch.tensor(rows, dtype=torch.float32).view(len(rows), -1 if size is None else size)

    def item_scores(self, scores: Tensor, labels: Tensor) -> Tensor:
        """Shape the scores like the labels (one column per output)."""
        return scores.reshape(labels.shape)


class TokenLabels(LabelHandler):
    """One class per residue (``IGNORE_INDEX`` for a residue without a label)."""

    kind = LabelKind.TOKEN
    figures = "classification"
    score_key = "probabilities"

    def parse(self, values: Sequence[Any], sequence: str, class_names: Sequence[str] | None) -> Any:
        """Read the row's raw value(s)."""
        return parse_tokens(values[0], len(sequence))

    def check(self, label: Any, size: int | None) -> str | None:
        """Say what is wrong with the label, or None."""
        if _not_a_list(label):
            return f"label {preview(label)} is not a list of class indices, one per residue"
        for position, value in enumerate(label):
            index = as_int(value)
            in_range = index is not None and (size is None or 0 <= index < size)
            if not (in_range or index == IGNORE_INDEX):
                return (
                    f"label {preview(value)} at residue {position} is not a class index in "
                    f"[0, {size}) (or {IGNORE_INDEX} for no label)"
                )
        return None

    def stack(self, samples: Sequence[Sample], batch: dict[str, Any], size: int | None) -> Tensor:
        """Put each residue's label at its token, ``IGNORE_INDEX`` elsewhere.

        Raises:
            ValueError: an item's labels are not one per residue, or the backbone made
                more residue tokens than the item has residues.
        """
        labels = torch.full_like(batch["input_ids"], IGNORE_INDEX)
        for row, (sample, keep) in enumerate(zip(samples, _residue_mask(batch), strict=True)):
            values = list(sample["labels"])
            if len(values) != len(sample["sequences"]):
                raise ValueError(
                    f"Sample {sample.get('ids', row)!r} has {len(values)} labels for a sequence "
                    f"of {len(sample['sequences'])} residues: give one label per residue."
                )
            count = int(keep.sum())
            if count > len(values):
                raise ValueError(
                    f"Sample {sample.get('ids', row)!r}: the backbone made {count} residue "
                    f"tokens from {len(values)} residues; per-residue labels need one token "
                    "per residue."
                )
            # Truncation keeps the first residues, so their labels are the first ones.
            labels[row, keep] = torch.tensor([as_int(v) for v in values[:count]])
        return labels

    def test_items(
        self, predicted: dict[str, Any], batch: dict[str, Any]
    ) -> list[tuple[Tensor, Tensor]]:
        """Pair each item's label with its score."""
        labels = batch["labels"].detach().cpu()
        residues = _residue_mask(batch).cpu()
        items = []
        for row, probabilities in enumerate(predicted[self.score_key]):
            item_labels = labels[row][residues[row]][: probabilities.shape[0]]
            scored = item_labels != IGNORE_INDEX
            items.append((item_labels[scored], probabilities.float().cpu()[scored]))
        return items

    def join(self, values: list[Tensor]) -> Tensor | list[Tensor]:
        """Join the items' values."""
        return torch.cat(values)


class PairLabels(LabelHandler):
    """Residue pairs ``[i, j]`` (0-based): a JSON list of pairs or a dot-bracket string."""

    kind = LabelKind.PAIRS
    figures = "pairwise"

    def parse(self, values: Sequence[Any], sequence: str, class_names: Sequence[str] | None) -> Any:
        """Read the row's raw value(s)."""
        return parse_pairs(values[0], len(sequence))

    def check(self, label: Any, size: int | None) -> str | None:
        """Say what is wrong with the label, or None."""
        if _not_a_list(label):
            return f"label {preview(label)} is not a list of [i, j] residue pairs"
        for pair in label:
            if _not_a_list(pair, "__len__") or len(pair) != 2:
                return f"pair {preview(pair)} is not an [i, j] pair of residue indices"
            i, j = (as_int(v) for v in pair)
            if i is None or j is None or i < 0 or j < 0:
                return f"pair {preview(pair)} does not hold two 0-based residue indices"
            if i == j:
                return f"pair {preview(pair)} pairs a residue with itself"
        return None

    def stack(self, samples: Sequence[Sample], batch: dict[str, Any], size: int | None) -> Tensor:
        """Draw each item's pairs into a symmetric residue-by-residue 0/1 map.

        Raises:
            ValueError: a pair points past the end of its sequence.
        """
        maps = []
        counts = _residue_mask(batch).sum(1).tolist()
        for row, (sample, count) in enumerate(zip(samples, counts, strict=True)):
            contacts = torch.zeros(count, count)
            maps.append(contacts)
            length = len(sample["sequences"])
            for pair in sample["labels"]:
                i, j = (as_int(v) for v in pair)
                assert i is not None and j is not None
                if i >= length or j >= length:
                    raise ValueError(
                        f"Sample {sample.get('ids', row)!r}: pair {list(pair)} points past the "
                        f"end of its {length}-residue sequence (indices are 0-based)."
                    )
                if i < count and j < count:  # pairs in a truncated tail are dropped
                    contacts[i, j] = contacts[j, i] = 1.0
        return pad_labels(maps, fill=0.0, length_dims=2)

    def test_items(
        self, predicted: dict[str, Any], batch: dict[str, Any]
    ) -> list[tuple[Tensor, Tensor]]:
        """Pair each item's label with its score."""
        labels = batch["labels"].detach().cpu()
        items = []
        for row, contacts in enumerate(predicted[self.score_key]):
            length = contacts.shape[0]
            items.append((labels[row, :length, :length], contacts.float().cpu()))
        return items

    def join(self, values: list[Tensor]) -> Tensor | list[Tensor]:
        """Join the items' values."""
        return list(values)


LABEL_HANDLERS: dict[LabelKind, LabelHandler] = {
    handler.kind: handler
    for handler in (
        ClassLabels(),
        MultilabelLabels(),
        RegressionLabels(),
        TokenLabels(),
        PairLabels(),
        LabelHandler(),
    )
}


def label_handler(kind: LabelKind | str) -> LabelHandler:
    """Return the handler of a label kind (given as `LabelKind` or its value).

    Raises:
        ValueError: the kind is not one of `LabelKind`'s values.
    """
    try:
        return LABEL_HANDLERS[LabelKind(str(getattr(kind, "value", kind)))]
    except ValueError:
        kinds = ", ".join(k.value for k in LabelKind)
        raise ValueError(f"Unknown label kind {kind!r}; choose one of {kinds}.") from None


def parse_row(
    handler: LabelHandler,
    values: Sequence[Any],
    sequence: str,
    columns: Sequence[str],
    class_names: Sequence[str] | None,
) -> tuple[Any, str | None]:
    """Parse one row's label, naming the column at fault when it cannot be read.

    Returns:
        tuple[Any, str | None]: the label and None; or None and ``"column 'x': message"``.
    """
    if handler.columns == "many" and len(values) > 1:
        read_one = as_flag if handler.kind == LabelKind.MULTILABEL else as_float
        parsed = []
        for column, value in zip(columns, values, strict=True):
            try:
                parsed.append(read_one(value))
            except LabelFormatError as error:
                return None, f"column {column!r}: {error}"
        return parsed, None
    try:
        return handler.parse(values, sequence, class_names), None
    except LabelFormatError as error:
        return None, f"{columns_text(columns)}: {error}"
