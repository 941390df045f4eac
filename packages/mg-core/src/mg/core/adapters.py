"""Adapter base types and the callable signatures tasks build adapters with.

An adapter is a small head from backbone hidden states to what a task needs. Each task
accepts one adapter base type; every adapter for that task subclasses it.

Adapters are given to tasks as callables (usually the class itself, or a class with
user options bound by the CLI). The task fills the reserved leading arguments, which
adapters declare positional-only so that a user option can never be taken for one::

    class LinearCLSAdapter(SequenceAdapter):
        def __init__(self, in_features: int, out_features: int, /, *, dropout: float = 0.0):
            ...

    task = SequenceRegression(backbone=..., adapter=partial(LinearCLSAdapter, dropout=0.1))

Every adapter receives a boolean ``attention_mask`` (True = position to use) and must
give each item the same output whatever its batch-mates and padding.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from torch import Tensor, nn


class SequenceAdapter(nn.Module, ABC):
    """Maps per-token hidden states to one vector per sequence.

    Reserved arguments: ``(in_features, out_features, /)``.
    """

    @abstractmethod
    def forward(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        """Pool and project.

        Args:
            hidden_states (Tensor): ``(batch, length, in_features)``.
            attention_mask (Tensor): ``(batch, length)`` bool, True for positions to use.
                Position 0 holds the backbone's first token (its CLS token, where it has one).

        Returns:
            Tensor: ``(batch, out_features)``.
        """


class TokenAdapter(nn.Module, ABC):
    """Maps per-token hidden states to per-token outputs.

    Reserved arguments: ``(in_features, out_features, /)``.
    """

    @abstractmethod
    def forward(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        """Project every token; the arguments are as in `SequenceAdapter.forward`.

        Returns:
            Tensor: ``(batch, length, out_features)``.
        """


class PairwiseAdapter(nn.Module, ABC):
    """Maps per-token hidden states to a symmetric map over token pairs.

    Reserved arguments: ``(in_features, out_features, /)``.
    """

    @abstractmethod
    def forward(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        """Score every pair of tokens; the arguments are as in `SequenceAdapter.forward`.

        Returns:
            Tensor: ``(batch, length, length, out_features)``, symmetric in the two
            length dimensions.
        """


class ConditionalGenerationAdapter(nn.Module, ABC):
    """Mixes a condition into token states, then predicts token logits.

    Reserved arguments: ``(in_features, vocab_size, condition_size, lm_head, /)`` where
    ``lm_head`` is the backbone's pretrained masked-LM head (or None) that the adapter
    may start from.
    """

    @abstractmethod
    def forward(self, hidden_states: Tensor, attention_mask: Tensor, condition: Tensor) -> Tensor:
        """Predict token logits under a condition.

        Args:
            hidden_states (Tensor): ``(batch, length, in_features)``.
            attention_mask (Tensor): ``(batch, length)`` bool, True for real tokens.
            condition (Tensor): ``(batch, condition_size)`` float; a one-hot class or a
                continuous label.

        Returns:
            Tensor: ``(batch, length, vocab_size)`` logits.
        """


class FusionAdapter(nn.Module, ABC):
    """Fuses the hidden states of two or more backbones into one vector per item.

    Reserved arguments: ``(in_features, out_features, /)`` where ``in_features`` is a
    list with each backbone's hidden size, in the order the task lists its backbones.
    """

    @abstractmethod
    def forward(self, hidden_states: list[Tensor], attention_masks: list[Tensor]) -> Tensor:
        """Fuse and project.

        Args:
            hidden_states (list[Tensor]): per backbone, ``(batch, length_i, in_features[i])``.
            attention_masks (list[Tensor]): per backbone, ``(batch, length_i)`` bool, True
                for real tokens.

        Returns:
            Tensor: ``(batch, out_features)``.
        """


SequenceAdapterCallable = Callable[[int, int], SequenceAdapter]
"""``adapter(in_features, out_features)`` → `SequenceAdapter`."""

TokenAdapterCallable = Callable[[int, int], TokenAdapter]
"""``adapter(in_features, out_features)`` → `TokenAdapter`."""

PairwiseAdapterCallable = Callable[[int, int], PairwiseAdapter]
"""``adapter(in_features, out_features)`` → `PairwiseAdapter`."""

ConditionalGenerationAdapterCallable = Callable[
    [int, int, int, nn.Module | None], ConditionalGenerationAdapter
]
"""``adapter(in_features, vocab_size, condition_size, lm_head)`` → a conditional adapter."""

FusionAdapterCallable = Callable[[list[int], int], FusionAdapter]
"""``adapter(in_features_per_backbone, out_features)`` → `FusionAdapter`."""
