"""Classification losses: label smoothing, a focal term, class weights from the labels.

``class_weights: balanced`` weighs each class by the inverse of its frequency among the
training labels, ``n_rows / (n_classes * count)`` (scikit-learn's "balanced"), so that
every class adds the same total weight to the loss. For multi-label data each label gets
``pos_weight = negatives / positives``, which evens out its yes and no rows.

Focal loss (Lin et al., 2017) multiplies each row's loss by ``(1 - p_true) ** gamma``, so
rows the model already gets right weigh less; ``gamma = 0`` is plain cross-entropy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from mg.core.label_values import as_int

BALANCED = "balanced"


def balanced_class_weights(labels: Iterable[Any], n_classes: int) -> Tensor:
    """Return ``n_rows / (n_classes * count)`` for each class.

    Args:
        labels (Iterable[Any]): the training rows' class indices.
        n_classes (int): the number of classes.

    Returns:
        Tensor: float ``(n_classes,)``.

    Raises:
        ValueError: no labels, or a class without a training row (its weight would be
            infinite).
    """
    counts = torch.zeros(n_classes, dtype=torch.float64)
    for label in labels:
        index = as_int(label)
        if index is not None and 0 <= index < n_classes:
            counts[index] += 1
    _check_counts(counts, "class")
    return (counts.sum() / (n_classes * counts)).float()


def balanced_pos_weight(rows: Iterable[Any], n_labels: int) -> Tensor:
    """Return ``negatives / positives`` for each label of multi-label rows.

    Args:
        rows (Iterable[Any]): the training rows' 0/1 lists.
        n_labels (int): the number of labels.

    Returns:
        Tensor: float ``(n_labels,)``.

    Raises:
        ValueError: no rows, or a label that is never positive (or never negative).
    """
    positives = torch.zeros(n_labels, dtype=torch.float64)
    total = 0
    for row in rows:
        positives += torch.tensor([float(v) for v in row], dtype=torch.float64)
        total += 1
    _check_counts(positives, "label", "positive ")
    _check_counts(total - positives, "label", "negative ")
    return ((total - positives) / positives).float()


def _check_counts(counts: Tensor, what: str, kind: str = "") -> None:
    if counts.sum() == 0:
        raise ValueError(
            "class_weights: balanced found no training labels; give the data a train split "
            "with labels, or list class_weights."
        )
    empty = [i for i, c in enumerate(counts.tolist()) if c == 0]
    if empty:
        raise ValueError(
            f"class_weights: balanced: {what}(s) {empty} have no {kind}training row, so their "
            "weight would be infinite; list class_weights yourself or fix n_classes."
        )


def training_labels(datamodule: Any) -> list[Any]:
    """Read every training row's label from a data module's ``train`` dataset.

    Raises:
        ValueError: the data module has no training split.
    """
    datasets = getattr(datamodule, "datasets", None) or {}
    train = datasets.get("train") if isinstance(datasets, dict) else None
    if train is None:
        raise ValueError(
            "class_weights: balanced counts the training labels, but the data module has no "
            "train split; give it a train file or list class_weights."
        )
    return [train[i]["labels"] for i in range(len(train))]


def classification_loss(
    logits: Tensor,
    labels: Tensor,
    weight: Tensor | None = None,
    label_smoothing: float = 0.0,
    focal_gamma: float = 0.0,
    ignore_index: int = -100,
) -> Tensor:
    """Cross-entropy over classes, with optional weights, label smoothing and focal term.

    Args:
        logits (Tensor): ``(n, n_classes)``.
        labels (Tensor): long ``(n,)``; ``ignore_index`` rows count for nothing.
        weight (Tensor | None): per-class weights.
        label_smoothing (float): share of the target spread evenly over all classes.
        focal_gamma (float): the focal exponent; 0 gives plain cross-entropy.
        ignore_index (int): the label of rows without one.

    Returns:
        Tensor: the mean loss (weighted mean when ``weight`` is given, as torch's).
    """
    options: dict[str, Any] = {
        "weight": weight,
        "label_smoothing": label_smoothing,
        "ignore_index": ignore_index,
    }
    if not focal_gamma:
        return F.cross_entropy(logits, labels, **options)
    per_row = F.cross_entropy(logits, labels, reduction="none", **options)
    kept = labels != ignore_index
    safe = labels.clamp(min=0)
    p_true = logits.softmax(-1).gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    focal = _focal_factor(p_true, focal_gamma)
    row_weight = weight[safe] if weight is not None else torch.ones_like(p_true)
    row_weight = row_weight * kept
    return (focal * per_row * kept).sum() / row_weight.sum().clamp(min=1e-12)


def multilabel_loss(
    logits: Tensor,
    labels: Tensor,
    pos_weight: Tensor | None = None,
    label_smoothing: float = 0.0,
    focal_gamma: float = 0.0,
) -> Tensor:
    """Binary cross-entropy per label, with optional positive weights, smoothing and focus.

    Args:
        logits (Tensor): ``(n, n_labels)``.
        labels (Tensor): float 0/1 ``(n, n_labels)``.
        pos_weight (Tensor | None): the weight of each label's positive rows.
        label_smoothing (float): targets move to ``s/2`` and ``1 - s/2``.
        focal_gamma (float): the focal exponent; 0 gives plain binary cross-entropy.

    Returns:
        Tensor: the mean loss over rows and labels.
    """
    targets = labels * (1.0 - label_smoothing) + 0.5 * label_smoothing
    per_cell = F.binary_cross_entropy_with_logits(
        logits, targets, pos_weight=pos_weight, reduction="none"
    )
    if focal_gamma:
        p = logits.sigmoid()
        p_true = torch.where(labels > 0.5, p, 1.0 - p)
        per_cell = per_cell * _focal_factor(p_true, focal_gamma)
    return per_cell.mean()


def _focal_factor(p_true: Tensor, focal_gamma: float) -> Tensor:
    """Return ``(1 - p_true) ** focal_gamma``: confident right answers count for less."""
    return (1.0 - p_true).clamp(min=0.0) ** focal_gamma


def check_loss_options(label_smoothing: float, focal_gamma: float) -> None:
    """Refuse a label smoothing outside ``[0, 1)`` or a negative focal exponent."""
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), not {label_smoothing}.")
    if focal_gamma < 0:
        raise ValueError(f"focal_gamma must be 0 or more, not {focal_gamma}.")
