"""Token-level heads: one output vector per token.

Every class here is a `mg.core.TokenAdapter`, accepted by the tasks whose adapter type is
TokenAdapter: ``TokenClassification``. The task fills ``(in_features, out_features, /)``;
the keyword options are the user's. Outputs at padded positions are zero.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

from torch import Tensor, nn

from mg.adapters.layers import Activation, make_mlp
from mg.adapters.pooling import check_mask, zero_padding
from mg.core.adapters import TokenAdapter


class _PerTokenHead(TokenAdapter):
    """Runs dropout then the subclass's head on every token; zero at padded positions."""

    dropout: nn.Dropout

    @abstractmethod
    def _head(self, states: Tensor) -> Tensor:
        """Map ``(..., in_features)`` states to ``(..., out_features)``; subclasses define it.

        Args:
            states (Tensor): ``(batch, length, in_features)``, dropout applied.

        Returns:
            Tensor: ``(batch, length, out_features)``.
        """

    def forward(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        """Run the head on every token.

        Args:
            hidden_states (Tensor): ``(batch, length, in_features)``.
            attention_mask (Tensor): ``(batch, length)`` bool, True for real tokens.

        Returns:
            Tensor: ``(batch, length, out_features)``, zero at padded positions.
        """
        mask = check_mask(hidden_states, attention_mask)
        # Zero padding going in as well as coming out: garbage there (even NaN) would
        # otherwise reach the weight gradients through 0 * NaN.
        states = zero_padding(hidden_states, mask)
        return zero_padding(self._head(self.dropout(states)), mask)


class LinearTokenAdapter(_PerTokenHead):
    """A linear layer applied to every token's state.

    Accepted by: TokenClassification (any task taking a TokenAdapter).

    Args:
        in_features (int): reserved, filled by the task: the backbone's hidden size.
        out_features (int): reserved, filled by the task: outputs per token.
        dropout (float): dropout on the states before the linear layer.
    """

    def __init__(self, in_features: int, out_features: int, /, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_features, out_features)

    def _head(self, states: Tensor) -> Tensor:
        """Apply the linear layer (see ``_PerTokenHead._head``)."""
        return self.linear(states)


class MLPTokenAdapter(_PerTokenHead):
    """An MLP applied to every token's state.

    Accepted by: TokenClassification (any task taking a TokenAdapter).

    Args:
        in_features (int): reserved, filled by the task: the backbone's hidden size.
        out_features (int): reserved, filled by the task: outputs per token.
        hidden_sizes (Sequence[int]): sizes of the hidden layers; empty gives a linear head.
        activation (Activation): activation after each hidden layer.
        dropout (float): dropout on the states and after each hidden activation.
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
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.mlp = make_mlp(
            in_features, hidden_sizes, out_features, activation=activation, dropout=dropout
        )

    def _head(self, states: Tensor) -> Tensor:
        """Apply the MLP (see ``_PerTokenHead._head``)."""
        return self.mlp(states)
