"""Pairwise heads: a symmetric score map over every pair of tokens (contacts, base pairs).

Every class here is a `mg.core.PairwiseAdapter`, accepted by the tasks whose adapter type
is PairwiseAdapter: ``PairwiseTokenClassification``. The task fills
``(in_features, out_features, /)``; the keyword options are the user's. Outputs are
``(batch, length, length, out_features)``, symmetric in the two length dimensions, and
zero wherever either token of a pair is padding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from mg.adapters.layers import (
    Activation,
    ResidualConvBlock,
    check_conv_sizes,
    check_sizes,
    make_activation,
    make_mlp,
)
from mg.adapters.pooling import check_mask, zero_padding
from mg.core.adapters import PairwiseAdapter


def pair_mask(attention_mask: Tensor) -> Tensor:
    """Return the ``(batch, length, length)`` bool mask of pairs whose two tokens are real.

    Args:
        attention_mask (Tensor): ``(batch, length)`` bool, True for real tokens.

    Returns:
        Tensor: True where both tokens of a pair are real.
    """
    return attention_mask[:, :, None] & attention_mask[:, None, :]


class MLPPairwiseAdapter(PairwiseAdapter):
    """An MLP over concatenated token pairs that never builds the ``(L, L, 2D)`` pair tensor.

    The first layer of an MLP on the concatenation ``[h_i; h_j]`` is ``W1 h_i + W2 h_j + b``.
    Both products are computed once per token and broadcast-added, so the largest tensor
    is ``(batch, L, L, hidden_sizes[0])`` instead of ``(batch, L, L, 2 × in_features)``.
    The pair ``(i, j)`` and its mirror ``(j, i)`` are summed after the first activation,
    ``act(W1 h_i + W2 h_j + b) + act(W1 h_j + W2 h_i + b)``, so the output is symmetric by
    construction. ``chunk_size`` scores that many rows at a time to bound peak memory
    further; while gradients are on, each chunk is recomputed in the backward pass rather
    than kept.

    Accepted by: PairwiseTokenClassification (any task taking a PairwiseAdapter).

    Args:
        in_features (int): reserved, filled by the task: the backbone's hidden size.
        out_features (int): reserved, filled by the task: scores per pair.
        hidden_sizes (Sequence[int]): hidden layer sizes; the first is the width of the pair
            layer, so peak memory grows as ``L² × hidden_sizes[0]``. At least one.
        activation (Activation): activation after each hidden layer.
        dropout (float): dropout after each hidden activation.
        chunk_size (int | None): rows of the pair map scored at a time; None scores all.

    Raises:
        ValueError: ``hidden_sizes`` is empty or ``chunk_size`` is not positive.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        /,
        *,
        hidden_sizes: Sequence[int] = (128,),
        activation: Activation = "gelu",
        dropout: float = 0.0,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        sizes = check_sizes("hidden_sizes", hidden_sizes, allow_empty=False)
        if chunk_size is not None:
            check_sizes("chunk_size", [chunk_size])
        self.chunk_size = chunk_size
        # The two halves of the first layer's weight, applied to each token separately.
        self.first = nn.Linear(in_features, sizes[0])
        self.second = nn.Linear(in_features, sizes[0], bias=False)
        self.act = make_activation(activation)
        self.dropout = nn.Dropout(dropout)
        self.mlp = make_mlp(
            sizes[0], sizes[1:], out_features, activation=activation, dropout=dropout
        )

    def _score_rows(self, first: Tensor, second: Tensor, start: int, stop: int) -> Tensor:
        """Score the pairs in rows ``start:stop``: ``(batch, stop - start, L, out_features)``."""
        pairs = self.act(first[:, start:stop, None] + second[:, None])
        pairs = pairs + self.act(first[:, None] + second[:, start:stop, None])
        return self.mlp(self.dropout(pairs))

    def forward(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        """Score every pair of tokens.

        Args:
            hidden_states (Tensor): ``(batch, length, in_features)``.
            attention_mask (Tensor): ``(batch, length)`` bool, True for real tokens.

        Returns:
            Tensor: ``(batch, length, length, out_features)``, symmetric, zero at pairs
            that touch padding.
        """
        mask = check_mask(hidden_states, attention_mask)
        states = zero_padding(hidden_states, mask)
        first, second = self.first(states), self.second(states)
        length = states.shape[1]
        step = self.chunk_size or max(length, 1)
        recompute = self.chunk_size is not None and torch.is_grad_enabled()
        chunks = []
        for start in range(0, max(length, 1), step):
            stop = min(start + step, length)
            if recompute:
                chunk = checkpoint(
                    self._score_rows, first, second, start, stop, use_reentrant=False
                )
            else:
                chunk = self._score_rows(first, second, start, stop)
            chunks.append(chunk)
        scores = chunks[0] if len(chunks) == 1 else torch.cat(chunks, dim=1)
        return zero_padding(scores, pair_mask(mask))


class ResNet2DPairwiseAdapter(PairwiseAdapter):
    """A 2-D residual convolution network over a pair map built from projected token states.

    Each token is projected to ``projection_size`` features ``p``; pair ``(i, j)`` starts
    as ``[p_i + p_j; p_i * p_j]`` (symmetric), then runs through residual blocks of
    ``kernel_size × kernel_size`` convolutions. Pairs that touch padding are zeroed before
    every convolution, normalisation is per pair (LayerNorm over channels), and the output
    is symmetrised as ``(x + xᵀ) / 2``.

    Accepted by: PairwiseTokenClassification (any task taking a PairwiseAdapter).

    Args:
        in_features (int): reserved, filled by the task: the backbone's hidden size.
        out_features (int): reserved, filled by the task: scores per pair.
        projection_size (int): per-token features the pair map is built from.
        channels (int): convolution channels.
        kernel_size (int): convolution width; odd, so the map keeps its size.
        num_blocks (int): residual blocks (two convolutions each).
        dropout (float): dropout inside each block and before the output layer.
        activation (Activation): activation inside the blocks.

    Raises:
        ValueError: ``kernel_size`` is even, a size is not positive, or ``activation`` is
            unknown.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        /,
        *,
        projection_size: int = 32,
        channels: int = 32,
        kernel_size: int = 3,
        num_blocks: int = 2,
        dropout: float = 0.0,
        activation: Activation = "gelu",
    ) -> None:
        super().__init__()
        check_conv_sizes(
            {
                "projection_size": projection_size,
                "channels": channels,
                "kernel_size": kernel_size,
                "num_blocks": num_blocks,
            }
        )
        self.project = nn.Linear(in_features, projection_size)
        self.pair_in = nn.Linear(2 * projection_size, channels)
        self.blocks = nn.ModuleList(
            ResidualConvBlock(2, channels, kernel_size, activation, dropout)
            for _ in range(num_blocks)
        )
        self.norm = nn.LayerNorm(channels)
        self.act = make_activation(activation)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(channels, out_features)

    def forward(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        """Score every pair of tokens (shapes as in ``MLPPairwiseAdapter.forward``)."""
        mask = check_mask(hidden_states, attention_mask)
        pairs_mask = pair_mask(mask)
        p = self.project(zero_padding(hidden_states, mask))
        p_i, p_j = p[:, :, None], p[:, None]
        x = self.pair_in(torch.cat([p_i + p_j, p_i * p_j], dim=-1))
        for block in self.blocks:
            x = block(x, pairs_mask)
        x = self.linear(self.dropout(self.act(self.norm(x))))
        x = (x + x.transpose(1, 2)) / 2
        return zero_padding(x, pairs_mask)
