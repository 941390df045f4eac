"""Masked pooling over the length dimension, shared by every sequence-level head.

Masks follow the mg convention: a boolean ``(batch, length)`` tensor, True for a position
to use. Padded positions may hold anything (even inf or NaN): every helper here reads
only the positions the mask selects, so padding never changes a pooled vector.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor

Pooling = Literal["mean", "max", "cls"]
"""How to turn per-token states into one vector: masked mean, masked max, or the first token."""

POOLING_METHODS: tuple[str, ...] = get_args(Pooling)


def check_mask(hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
    """Check a mask against its hidden states and return it as bool.

    An integer 0/1 mask is turned into a bool one (1 = real token) rather than trusted,
    so that a later ``~mask`` always means "padding" and never a bitwise complement.

    Args:
        hidden_states (Tensor): ``(batch, length, ...)``.
        attention_mask (Tensor): ``(batch, length)``, True (or 1) for positions to use.

    Returns:
        Tensor: ``(batch, length)`` bool mask.

    Raises:
        ValueError: the mask's shape is not the first two dimensions of ``hidden_states``.
    """
    if attention_mask.shape != hidden_states.shape[:2]:
        raise ValueError(
            f"attention_mask has shape {tuple(attention_mask.shape)} but hidden_states has "
            f"{tuple(hidden_states.shape)}: the mask must be (batch, length) = "
            f"{tuple(hidden_states.shape[:2])}."
        )
    if attention_mask.dtype != torch.bool:
        attention_mask = attention_mask != 0
    return attention_mask


def zero_padding(hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
    """Set every padded position to zero.

    Args:
        hidden_states (Tensor): ``(batch, length, features)``.
        attention_mask (Tensor): ``(batch, length)`` bool, True for positions to keep.

    Returns:
        Tensor: ``hidden_states`` with padded positions zeroed (not in place).
    """
    return hidden_states.masked_fill(~attention_mask[..., None], 0.0)


def masked_mean(hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
    """Average the states at the positions the mask selects.

    Args:
        hidden_states (Tensor): ``(batch, length, features)``.
        attention_mask (Tensor): ``(batch, length)`` bool, True for positions to use.

    Returns:
        Tensor: ``(batch, features)``; zeros for an item with no position selected.
    """
    summed = zero_padding(hidden_states, attention_mask).sum(dim=1)
    count = attention_mask.sum(dim=1, keepdim=True).clamp(min=1)
    return summed / count.to(summed.dtype)


def masked_max(hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
    """Take the feature-wise maximum over the positions the mask selects.

    Args:
        hidden_states (Tensor): ``(batch, length, features)``.
        attention_mask (Tensor): ``(batch, length)`` bool, True for positions to use.

    Returns:
        Tensor: ``(batch, features)``; zeros for an item with no position selected.
    """
    filled = hidden_states.masked_fill(~attention_mask[..., None], float("-inf"))
    pooled = filled.amax(dim=1)
    has_any = attention_mask.any(dim=1, keepdim=True)
    return torch.where(has_any, pooled, torch.zeros_like(pooled))


def cls_pool(hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
    """Take the state of each item's first selected position (its CLS token, if it has one).

    With the usual right padding this is position 0; a left-padded batch gives the first
    real token too.

    Args:
        hidden_states (Tensor): ``(batch, length, features)``.
        attention_mask (Tensor): ``(batch, length)`` bool, True for positions to use.

    Returns:
        Tensor: ``(batch, features)``.
    """
    first = attention_mask.to(torch.uint8).argmax(dim=1)
    return hidden_states[torch.arange(hidden_states.shape[0], device=first.device), first]


def pool(hidden_states: Tensor, attention_mask: Tensor, method: Pooling) -> Tensor:
    """Pool with the named method.

    Args:
        hidden_states (Tensor): ``(batch, length, features)``.
        attention_mask (Tensor): ``(batch, length)`` bool, True for positions to use.
        method (Pooling): ``"mean"``, ``"max"`` or ``"cls"``.

    Returns:
        Tensor: ``(batch, features)``.

    Raises:
        ValueError: ``method`` is not a pooling method.
    """
    if method == "mean":
        return masked_mean(hidden_states, attention_mask)
    if method == "max":
        return masked_max(hidden_states, attention_mask)
    if method == "cls":
        return cls_pool(hidden_states, attention_mask)
    raise ValueError(f"unknown pooling {method!r}; choose one of {list(POOLING_METHODS)}.")


def check_pooling(method: str) -> None:
    """Raise a clear error at construction time for an unknown pooling name.

    Args:
        method (str): the pooling name a user gave.

    Raises:
        ValueError: ``method`` is not one of `POOLING_METHODS`.
    """
    if method not in POOLING_METHODS:
        raise ValueError(f"unknown pooling {method!r}; choose one of {list(POOLING_METHODS)}.")
