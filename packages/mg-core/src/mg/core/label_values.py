"""Read raw label values, as written in files, into the sample schema.

The label handlers (`mg.core.labels`) parse with these readers. The schema by label kind:

- ``class``: an int class index (from an index, or a class name looked up in ``class_names``);
- ``multilabel``: a list of 0/1 ints, one per label;
- ``regression``: a float, or a list of floats for several targets;
- ``token``: a list of ints, one class per residue;
- ``pairs``: a list of ``[i, j]`` 0-based residue pairs, ``i < j``;
- ``none``: no labels.

Parsers raise `LabelFormatError` with a short message; the data module adds the file, row
and column.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

OPENING = {"(": ")", "[": "]", "{": "}", "<": ">"}
CLOSING = {close: open_ for open_, close in OPENING.items()}
UNPAIRED = set(".-_:,")
DOT_BRACKET = set(OPENING) | set(CLOSING) | UNPAIRED

_INT = re.compile(r"[+-]?\d+")


class LabelFormatError(ValueError):
    """A raw label cannot be read as the task's label kind."""


def is_missing(value: Any) -> bool:
    """Whether a raw value is empty (None, an empty string, or a float NaN)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


def as_int(value: Any) -> int | None:
    """Read a value as an integer, or return None when it is not one (``"3"``, ``3.0``, True)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        if _INT.fullmatch(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if number.is_integer() else None
    return None


def as_float(value: Any) -> float:
    """Read a regression target.

    Raises:
        LabelFormatError: the value is empty, NaN, infinite or not a number.
    """
    if is_missing(value):
        kind = "NaN" if isinstance(value, float) else "empty"
        raise LabelFormatError(f"the regression target is {kind}; every row needs a number.")
    if isinstance(value, bool):
        raise LabelFormatError(f"the regression target {value!r} is a boolean, not a number.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LabelFormatError(f"the regression target {value!r} is not a number.") from None
    if math.isnan(number):
        raise LabelFormatError(
            f"the regression target is NaN ({value!r}); every row needs a number."
        )
    if math.isinf(number):
        raise LabelFormatError(f"the regression target {value!r} is infinite.")
    return number


def _as_list(value: Any) -> list[Any] | None:
    """Return a list from a list value or a JSON list string, else None."""
    if isinstance(value, list | tuple):
        return list(value)
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy arrays
        result = value.tolist()
        return result if isinstance(result, list) else None
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as error:
            raise LabelFormatError(
                f"{preview(value)} is not a valid JSON list ({error})."
            ) from None
        if not isinstance(parsed, list):
            raise LabelFormatError(f"{preview(value)} is not a JSON list.")
        return parsed
    return None


def preview(value: Any, width: int = 60) -> str:
    """Return a short repr of a value, as written, for error messages."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def int_list(value: Any) -> list[int]:
    """Read a list of ints from a list, a JSON list, separated ints or a string of digits.

    ``"0 1 1"``, ``"0,1,1"``, ``"[0, 1, 1]"`` and ``"011"`` all give ``[0, 1, 1]`` (a string
    without separators is one digit per item).

    Raises:
        LabelFormatError: the value is empty or holds something that is not an integer.
    """
    if is_missing(value):
        raise LabelFormatError("the label is empty.")
    items = _as_list(value)
    if items is None:
        if not isinstance(value, str):
            raise LabelFormatError(f"{preview(value)} is not a list of integers.")
        text = value.strip()
        items = re.split(r"[\s,;]+", text) if re.search(r"[\s,;]", text) else list(text)
    numbers = []
    for position, item in enumerate(items):
        number = as_int(item) if not isinstance(item, list | dict) else None
        if number is None:
            raise LabelFormatError(
                f"item {position} ({item!r}) of {preview(value)} is not an integer; write token "
                "labels as digits ('0110'), separated integers ('0 1 1 0') or a JSON list."
            )
        numbers.append(number)
    return numbers


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def infer_class_names(
    values: Sequence[Any], origins: Sequence[str], column: str
) -> list[str] | None:
    """Return the sorted class names of raw class labels, or None when all are indices.

    A column must be read one way: all whole numbers (class indices) or all names.

    Args:
        values (Sequence[Any]): raw labels; empty ones are ignored.
        origins (Sequence[str]): where each value came from (``"file, row N"``).
        column (str): the label column, for messages.

    Raises:
        LabelFormatError: a number that is not a whole number (``0.43``: a regression
            target, not a class), or a column mixing indices and names.
    """
    present = [(v, o) for v, o in zip(values, origins, strict=True) if not is_missing(v)]
    indices = [(v, o) for v, o in present if as_int(v) is not None]
    if len(indices) == len(present):
        return None
    fractional = next(((v, o) for v, o in present if as_int(v) is None and _is_number(v)), None)
    if fractional is not None:
        value, origin = fractional
        raise LabelFormatError(
            f"{origin}, column {column!r}: {preview(value)} is a number but not a class index; "
            "this task reads class labels (whole-number indices or class names). For numeric "
            "targets use a regression task such as SequenceRegression."
        )
    if indices:
        index, index_origin = indices[0]
        name, name_origin = next((v, o) for v, o in present if as_int(v) is None)
        raise LabelFormatError(
            f"Column {column!r} mixes class indices and class names: {index_origin} holds "
            f"{preview(index)}, {name_origin} holds {preview(name)}. Write every label the "
            "same way, or list the names in index order with class_names: [...]."
        )
    return sorted({str(v).strip() for v, _ in present})


def parse_class(value: Any, class_names: Sequence[str] | None) -> int:
    """Read a class label as an index.

    With ``class_names``, a value naming a class gives its position; an integer is taken as
    an index into ``class_names``. Without, the value must be an integer.

    Raises:
        LabelFormatError: empty label, unknown class name, negative or out-of-range index.
    """
    if is_missing(value):
        raise LabelFormatError("the class label is empty.")
    if class_names is not None:
        key = str(value).strip()
        if key in class_names:
            return list(class_names).index(key)
        index = as_int(value)
        if index is None:
            raise LabelFormatError(
                f"unknown class name {key!r}; the classes are {list(class_names)}. Add it to "
                "class_names, or fix the label."
            )
        if not 0 <= index < len(class_names):
            raise LabelFormatError(
                f"class index {index} is outside 0..{len(class_names) - 1} "
                f"({len(class_names)} class_names)."
            )
        return index
    index = as_int(value)
    if index is None:
        raise LabelFormatError(
            f"unknown class name {str(value).strip()!r}: the training labels are class indices. "
            "Give class_names to read class names."
        )
    if index < 0:
        raise LabelFormatError(f"class index {index} is negative.")
    return index


def parse_multilabel(values: Sequence[Any]) -> list[int]:
    """Read a multilabel target: one 0/1 per label column, or a 0/1 list in one column.

    Raises:
        LabelFormatError: a value is not 0 or 1.
    """
    flags = int_list(values[0]) if len(values) == 1 else [as_flag(value) for value in values]
    bad = [f for f in flags if f not in (0, 1)]
    if bad:
        raise LabelFormatError(f"multilabel targets must be 0 or 1, found {bad[0]}.")
    return flags


def as_flag(value: Any) -> int:
    """Read one multilabel flag (0 or 1).

    Raises:
        LabelFormatError: the value is not 0 or 1.
    """
    flag = None if is_missing(value) else as_int(value)
    if flag not in (0, 1):
        raise LabelFormatError(f"the multilabel target {value!r} is not 0 or 1.")
    return flag  # type: ignore[return-value]


def parse_regression(values: Sequence[Any]) -> float | list[float]:
    """Read a regression target: one float per label column, or a list in one column.

    Raises:
        LabelFormatError: a value is empty, NaN, infinite or not a number.
    """
    if len(values) == 1:
        items = _as_list(values[0])
        if items is None:
            return as_float(values[0])
        if not items:
            raise LabelFormatError("the list of regression targets is empty.")
        return [as_float(item) for item in items]
    return [as_float(value) for value in values]


def parse_tokens(value: Any, length: int) -> list[int]:
    """Read per-residue labels; there must be one per residue of the sequence.

    Raises:
        LabelFormatError: unreadable, or not as many labels as residues.
    """
    labels = int_list(value)
    if len(labels) != length:
        raise LabelFormatError(
            f"{len(labels)} token labels for a sequence of {length} residues; give one label "
            "per residue."
        )
    return labels


def dot_bracket_pairs(structure: str) -> list[list[int]]:
    """Return the 0-based pairs of a dot-bracket string; ``()[]{}<>`` may nest and cross.

    Raises:
        LabelFormatError: the brackets do not balance.
    """
    stacks: dict[str, list[int]] = {opening: [] for opening in OPENING}
    pairs = []
    for position, char in enumerate(structure):
        if char in OPENING:
            stacks[char].append(position)
        elif char in CLOSING:
            stack = stacks[CLOSING[char]]
            if not stack:
                raise LabelFormatError(
                    f"unbalanced dot-bracket: {char!r} at position {position} closes nothing."
                )
            pairs.append([stack.pop(), position])
    for opening, stack in stacks.items():
        if stack:
            raise LabelFormatError(
                f"unbalanced dot-bracket: {opening!r} at position {stack[-1]} is never closed."
            )
    return sorted(pairs)


def parse_pairs(value: Any, length: int) -> list[list[int]]:
    """Read residue pairs from a list of ``[i, j]`` (a value or JSON) or a dot-bracket string.

    A string of only dot-bracket characters as long as the sequence is read as dot-bracket.
    Pairs come back as ``[min, max]``, sorted, without duplicates.

    Raises:
        LabelFormatError: unreadable, an index outside the sequence, or a residue paired with
            itself.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise LabelFormatError("the pair label is empty; write [] for a sequence without pairs.")
    if isinstance(value, str):
        text = value.strip()
        if len(text) == length and text and set(text) <= DOT_BRACKET:
            return dot_bracket_pairs(text)
        if not text:
            raise LabelFormatError(
                "the pair label is empty; write [] for a sequence without pairs."
            )
    items = _as_list(value)
    if items is None:
        hint = (
            f" A dot-bracket string must be as long as the sequence ({length}), not "
            f"{len(value.strip())}."
            if isinstance(value, str) and set(value.strip()) <= DOT_BRACKET
            else ""
        )
        raise LabelFormatError(
            f"{preview(value)} is neither a JSON list of [i, j] pairs nor a dot-bracket string."
            + hint
        )
    pairs: set[tuple[int, int]] = set()
    for item in items:
        pair = [as_int(v) for v in item] if isinstance(item, list | tuple) else None
        if pair is None or len(pair) != 2 or None in pair:
            raise LabelFormatError(f"{item!r} is not a pair of residue indices [i, j].")
        i, j = pair  # type: ignore[misc]
        if not (0 <= i < length and 0 <= j < length):
            raise LabelFormatError(
                f"the pair {[i, j]} is outside the sequence (0-based indices 0..{length - 1})."
            )
        if i == j:
            raise LabelFormatError(f"the pair {[i, j]} pairs a residue with itself.")
        pairs.add((min(i, j), max(i, j)))
    return [list(pair) for pair in sorted(pairs)]


def as_numbers(label: Any) -> list[float] | None:
    """Read a parsed label as a flat list of floats; None when it is not numeric.

    Accepts a number, a sequence of numbers, a numpy array or a tensor.
    """
    if isinstance(label, str | bytes):
        return None
    if hasattr(label, "tolist"):
        label = label.tolist()
    values = label if isinstance(label, list | tuple) else [label]
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None
