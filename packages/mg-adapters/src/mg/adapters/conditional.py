"""Conditional generation heads: token logits under a condition (a class or a continuous label).

Every class here is a `mg.core.ConditionalGenerationAdapter`, accepted by the tasks whose
adapter type is ConditionalGenerationAdapter: ``ConditionalDiffusion`` and
``ConditionalMLM``. The task fills ``(in_features, vocab_size, condition_size, lm_head, /)``;
the keyword options are the user's.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from mg.adapters.layers import Activation, make_mlp
from mg.adapters.pooling import check_mask, zero_padding
from mg.core.adapters import ConditionalGenerationAdapter

Mixing = Literal["film", "add"]
"""How the condition enters each token state: scale and shift (FiLM), or shift only."""


class ConditionalLMAdapter(ConditionalGenerationAdapter):
    """Mixes an embedded condition into every token state, then predicts vocabulary logits.

    The condition goes through a bias-free MLP to a per-feature scale and shift
    (``mixing="film"``: ``h * (1 + scale) + shift``) or a shift alone (``mixing="add"``).
    Being bias-free with activations that map zero to zero, an all-zero condition leaves
    the states untouched: it gives exactly the LM head's logits, and can serve as the
    unconditional ("null") condition. The MLP's last layer starts small, so training
    starts near the pretrained head's predictions while every weight still gets gradients.

    The logits come from a deep copy of the backbone's pretrained masked-LM head when one
    is given and ``use_pretrained_head`` is True (the copy is trainable and shares no
    weights with the backbone), otherwise from a fresh linear layer.

    Accepted by: ConditionalDiffusion, ConditionalMLM (any task taking a
    ConditionalGenerationAdapter).

    Args:
        in_features (int): reserved, filled by the task: the backbone's hidden size.
        vocab_size (int): reserved, filled by the task: the number of logits per token.
        condition_size (int): reserved, filled by the task: the condition vector's size
            (the number of classes for a one-hot class, or of continuous labels).
        lm_head (nn.Module | None): reserved, filled by the task: the backbone's masked-LM
            head mapping ``in_features`` to ``vocab_size``, or None.
        condition_hidden_sizes (Sequence[int]): hidden sizes of the condition MLP.
        mixing (Mixing): ``"film"`` (scale and shift) or ``"add"`` (shift only).
        activation (Activation): activation in the condition MLP.
        dropout (float): dropout on the conditioned states before the head.
        use_pretrained_head (bool): start from a copy of ``lm_head`` when there is one.

    Raises:
        ValueError: ``mixing`` is unknown, or ``lm_head`` does not give ``vocab_size`` logits.
    """

    def __init__(
        self,
        in_features: int,
        vocab_size: int,
        condition_size: int,
        lm_head: nn.Module | None,
        /,
        *,
        condition_hidden_sizes: Sequence[int] = (128,),
        mixing: Mixing = "film",
        activation: Activation = "gelu",
        dropout: float = 0.0,
        use_pretrained_head: bool = True,
    ) -> None:
        super().__init__()
        if mixing not in ("film", "add"):
            raise ValueError(f"mixing must be 'film' or 'add', got {mixing!r}.")
        self.mixing = mixing
        width = 2 * in_features if mixing == "film" else in_features
        self.condition_mlp = make_mlp(
            condition_size, condition_hidden_sizes, width, activation=activation, bias=False
        )
        last = self.condition_mlp[-1]
        assert isinstance(last, nn.Linear)
        nn.init.normal_(last.weight, std=0.02)
        self.dropout = nn.Dropout(dropout)
        self.from_pretrained_head = lm_head is not None and use_pretrained_head
        if lm_head is not None and use_pretrained_head:
            self.head: nn.Module = copy.deepcopy(lm_head).requires_grad_(True)
            self._check_head(in_features, vocab_size)
        else:
            self.head = nn.Linear(in_features, vocab_size)

    def _check_head(self, in_features: int, vocab_size: int) -> None:
        reference = next(self.head.parameters(), None)
        probe = torch.zeros(
            1,
            1,
            in_features,
            dtype=reference.dtype if reference is not None else torch.float32,
            device=reference.device if reference is not None else None,
        )
        try:
            with torch.no_grad():
                size = self.head(probe).shape[-1]
        except Exception as error:
            raise ValueError(
                f"lm_head cannot read states of size in_features={in_features}: {error}"
            ) from error
        if size != vocab_size:
            raise ValueError(
                f"lm_head gives {size} logits per token but vocab_size is {vocab_size}; "
                "pass the backbone's own masked-LM head or set use_pretrained_head=False."
            )

    def forward(self, hidden_states: Tensor, attention_mask: Tensor, condition: Tensor) -> Tensor:
        """Predict token logits; arguments as in `ConditionalGenerationAdapter.forward`.

        Returns:
            Tensor: ``(batch, length, vocab_size)`` logits, zero at padded positions.
        """
        mask = check_mask(hidden_states, attention_mask)
        # Garbage at padded positions (even NaN) must not reach the weight gradients.
        hidden_states = zero_padding(hidden_states, mask)
        mixed = self.condition_mlp(condition.to(hidden_states.dtype))[:, None, :]
        if self.mixing == "film":
            scale, shift = mixed.chunk(2, dim=-1)
            states = hidden_states * (1 + scale) + shift
        else:
            states = hidden_states + mixed
        return zero_padding(self.head(self.dropout(states)), mask)
