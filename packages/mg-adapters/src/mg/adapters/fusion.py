"""Fusion heads: one prediction per item from the hidden states of several backbones.

Every class here is a `mg.core.FusionAdapter`, accepted by the multi-backbone tasks
(``FusionClassification``, ``FusionRegression``). The task fills
``(in_features, out_features, /)``, ``in_features`` being the list of the backbones'
hidden sizes; the keyword options are the user's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mg.adapters.layers import Activation, make_mlp
from mg.adapters.pooling import check_mask, masked_mean, zero_padding
from mg.core.adapters import FusionAdapter


def _check_inputs(
    hidden_states: list[Tensor], attention_masks: list[Tensor], expected: int
) -> list[Tensor]:
    if len(hidden_states) != expected or len(attention_masks) != expected:
        raise ValueError(
            f"The adapter was built for {expected} backbones but got {len(hidden_states)} "
            f"hidden states and {len(attention_masks)} masks."
        )
    return [check_mask(h, m) for h, m in zip(hidden_states, attention_masks, strict=True)]


class ConcatFusionAdapter(FusionAdapter):
    """Mean-pools each backbone's token states, concatenates them and applies an MLP.

    Accepted by: FusionClassification, FusionRegression.

    Args:
        in_features (list[int]): reserved, filled by the task: each backbone's hidden size.
        out_features (int): reserved, filled by the task: outputs per item.
        hidden_sizes (Sequence[int]): hidden sizes of the MLP on the concatenation.
        activation (Activation): activation of the MLP.
        dropout (float): dropout on the concatenation and after every hidden layer.

    Raises:
        ValueError: fewer than two backbones.
    """

    def __init__(
        self,
        in_features: list[int],
        out_features: int,
        /,
        *,
        hidden_sizes: Sequence[int] = (64,),
        activation: Activation = "gelu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(in_features) < 2:
            raise ValueError(f"Fusion needs at least two backbones, got {len(in_features)}.")
        self.n_inputs = len(in_features)
        self.dropout = nn.Dropout(dropout)
        self.mlp = make_mlp(
            sum(in_features), hidden_sizes, out_features, activation=activation, dropout=dropout
        )

    def forward(self, hidden_states: list[Tensor], attention_masks: list[Tensor]) -> Tensor:
        """Pool each input over its real tokens, concatenate, project.

        Args:
            hidden_states (list[Tensor]): per backbone, ``(batch, length_i, in_features[i])``.
            attention_masks (list[Tensor]): per backbone, ``(batch, length_i)`` bool.

        Returns:
            Tensor: ``(batch, out_features)``.
        """
        masks = _check_inputs(hidden_states, attention_masks, self.n_inputs)
        pooled = [masked_mean(h, m) for h, m in zip(hidden_states, masks, strict=True)]
        return self.mlp(self.dropout(torch.cat(pooled, dim=-1)))


class CrossAttentionFusionAdapter(FusionAdapter):
    """Lets each backbone's tokens attend to the other backbones' tokens, then pools.

    Each input is projected to ``dim``; its tokens then query the tokens of all other
    inputs (multi-head attention, padding masked out) with a residual connection and
    layer norm, followed by a feed-forward block. The attended tokens of each input are
    mean-pooled, and the pooled vectors, concatenated, go through a linear layer.

    Accepted by: FusionClassification, FusionRegression.

    Args:
        in_features (list[int]): reserved, filled by the task: each backbone's hidden size.
        out_features (int): reserved, filled by the task: outputs per item.
        dim (int): the shared width the inputs are projected to.
        num_heads (int): attention heads (must divide ``dim``).
        dropout (float): dropout in attention and before the output layer.

    Raises:
        ValueError: fewer than two backbones, or ``num_heads`` does not divide ``dim``.
    """

    def __init__(
        self,
        in_features: list[int],
        out_features: int,
        /,
        *,
        dim: int = 64,
        num_heads: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(in_features) < 2:
            raise ValueError(f"Fusion needs at least two backbones, got {len(in_features)}.")
        if dim % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide dim={dim}.")
        self.n_inputs = len(in_features)
        self.projections = nn.ModuleList(nn.Linear(size, dim) for size in in_features)
        self.attention = nn.ModuleList(
            nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
            for _ in in_features
        )
        self.attention_norms = nn.ModuleList(nn.LayerNorm(dim) for _ in in_features)
        self.feed_forward = nn.ModuleList(make_mlp(dim, [2 * dim], dim) for _ in in_features)
        self.feed_forward_norms = nn.ModuleList(nn.LayerNorm(dim) for _ in in_features)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(dim * len(in_features), out_features)

    def forward(self, hidden_states: list[Tensor], attention_masks: list[Tensor]) -> Tensor:
        """Cross-attend, pool each input over its real tokens, concatenate, project.

        Args:
            hidden_states (list[Tensor]): per backbone, ``(batch, length_i, in_features[i])``.
            attention_masks (list[Tensor]): per backbone, ``(batch, length_i)`` bool.

        Returns:
            Tensor: ``(batch, out_features)``.
        """
        masks = _check_inputs(hidden_states, attention_masks, self.n_inputs)
        # Zero the padding before projecting: garbage there (even NaN) must not reach the
        # weight gradients.
        projected = [
            project(zero_padding(h, m))
            for project, h, m in zip(self.projections, hidden_states, masks, strict=True)
        ]
        pooled = []
        for i, (queries, mask) in enumerate(zip(projected, masks, strict=True)):
            others = [j for j in range(self.n_inputs) if j != i]
            keys = torch.cat([projected[j] for j in others], dim=1)
            key_mask = torch.cat([masks[j] for j in others], dim=1)
            attended, _ = self.attention[i](
                queries, keys, keys, key_padding_mask=~key_mask, need_weights=False
            )
            states = self.attention_norms[i](queries + attended)
            states = self.feed_forward_norms[i](states + self.feed_forward[i](states))
            pooled.append(masked_mean(states, mask))
        return self.out(self.dropout(torch.cat(pooled, dim=-1)))
