"""Sequence-level heads: per-token hidden states in, one vector per sequence out.

Every class here is a `mg.core.SequenceAdapter`, accepted by the tasks whose adapter type
is SequenceAdapter: ``SequenceClassification`` and ``SequenceRegression``. The task fills
``(in_features, out_features, /)``; the keyword options are the user's.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Literal

from torch import Tensor, nn

from mg.adapters.layers import (
    Activation,
    ResidualConvBlock,
    check_conv_sizes,
    check_sizes,
    make_activation,
    make_mlp,
)
from mg.adapters.pooling import (
    Pooling,
    check_mask,
    check_pooling,
    pool,
    zero_padding,
)
from mg.core.adapters import SequenceAdapter


class LinearCLSAdapter(SequenceAdapter):
    """A linear layer on the first token's state (the CLS token, where the backbone has one).

    Accepted by: SequenceClassification, SequenceRegression (any task taking a
    SequenceAdapter).

    Args:
        in_features (int): reserved, filled by the task: the backbone's hidden size.
        out_features (int): reserved, filled by the task: the number of outputs.
        dropout (float): dropout on the pooled state before the linear layer.
    """

    pooling: ClassVar[Pooling] = "cls"
    """How `pool` reduces the tokens; each subclass names its own."""

    def __init__(self, in_features: int, out_features: int, /, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        """Project the first token's state.

        Args:
            hidden_states (Tensor): ``(batch, length, in_features)``.
            attention_mask (Tensor): ``(batch, length)`` bool, True for real tokens.

        Returns:
            Tensor: ``(batch, out_features)``.
        """
        mask = check_mask(hidden_states, attention_mask)
        return self.linear(self.dropout(self.pool(hidden_states, mask)))

    def pool(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        """Reduce the real tokens' states to one vector as `pooling` says (here: the first token).

        Args:
            hidden_states (Tensor): ``(batch, length, in_features)``.
            attention_mask (Tensor): ``(batch, length)`` bool, True for real tokens.

        Returns:
            Tensor: ``(batch, in_features)``.
        """
        return pool(hidden_states, attention_mask, self.pooling)


class LinearMeanPoolAdapter(LinearCLSAdapter):
    """A linear layer on the mean of the real tokens' states.

    Accepted by: SequenceClassification, SequenceRegression (any task taking a
    SequenceAdapter).

    Args:
        in_features (int): reserved, filled by the task: the backbone's hidden size.
        out_features (int): reserved, filled by the task: the number of outputs.
        dropout (float): dropout on the mean state, before the linear layer.
    """

    pooling: ClassVar[Pooling] = "mean"


class LinearMaxPoolAdapter(LinearCLSAdapter):
    """A linear layer on the feature-wise maximum over the real tokens' states.

    Accepted by: SequenceClassification, SequenceRegression (any task taking a
    SequenceAdapter).

    Args:
        in_features (int): reserved, filled by the task: the backbone's hidden size.
        out_features (int): reserved, filled by the task: the number of outputs.
        dropout (float): dropout on the feature-wise maximum, before the linear layer.
    """

    pooling: ClassVar[Pooling] = "max"


class MLPPoolAdapter(SequenceAdapter):
    """An MLP on the pooled real tokens' states (mean, max or CLS pooling).

    The pooled state goes through dropout, then ``Linear → activation → Dropout`` per
    hidden size, then a last ``Linear`` to ``out_features``.

    Accepted by: SequenceClassification, SequenceRegression (any task taking a
    SequenceAdapter).

    Args:
        in_features (int): reserved, filled by the task: the backbone's hidden size.
        out_features (int): reserved, filled by the task: the number of outputs.
        pooling (Pooling): ``"mean"``, ``"max"`` or ``"cls"`` (first token).
        hidden_sizes (Sequence[int]): sizes of the hidden layers; empty gives a linear head.
        activation (Activation): activation after each hidden layer.
        dropout (float): dropout on the pooled state and after each hidden activation.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        /,
        *,
        pooling: Pooling = "mean",
        hidden_sizes: Sequence[int] = (128,),
        activation: Activation = "gelu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_pooling(pooling)
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.mlp = make_mlp(
            in_features, hidden_sizes, out_features, activation=activation, dropout=dropout
        )

    def forward(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        """Pool the real tokens, then run the MLP.

        Arguments and result as in `SequenceAdapter.forward`.
        """
        mask = check_mask(hidden_states, attention_mask)
        return self.mlp(self.dropout(pool(hidden_states, mask, self.pooling)))


class _EncoderPoolHead(SequenceAdapter):
    """Shared forward of the heads that encode the tokens, then pool them and project.

    Subclasses set ``project``, ``pooling``, ``dropout`` and ``linear`` and define `_encode`.
    """

    project: nn.Module
    pooling: Pooling
    dropout: nn.Dropout
    linear: nn.Linear

    @abstractmethod
    def _encode(self, states: Tensor, mask: Tensor) -> Tensor:
        """Encode the projected states so that each item's real tokens see only each other.

        Args:
            states (Tensor): ``(batch, length, width)``, zero at padded positions.
            mask (Tensor): ``(batch, length)`` bool, True for real tokens.

        Returns:
            Tensor: ``(batch, length, width)``.
        """

    def forward(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        """Encode each sequence on its own, pool its real tokens, then project.

        Arguments and result as in `SequenceAdapter.forward`.
        """
        mask = check_mask(hidden_states, attention_mask)
        # Zeroing padding first keeps inf/NaN garbage there out of the norms and convolutions.
        states = self._encode(self.project(zero_padding(hidden_states, mask)), mask)
        return self.linear(self.dropout(pool(states, mask, self.pooling)))


class TransformerPoolAdapter(_EncoderPoolHead):
    """A small transformer encoder over the tokens, then pooling and a linear layer.

    Attention runs within each sequence only (``batch_first=True``) and never attends to
    padding (``src_key_padding_mask``), so an item's output depends on its own real tokens
    alone. No position encoding is added: the backbone's states already carry position.

    Accepted by: SequenceClassification, SequenceRegression (any task taking a
    SequenceAdapter).

    Args:
        in_features (int): reserved, filled by the task: the backbone's hidden size.
        out_features (int): reserved, filled by the task: the number of outputs.
        num_layers (int): encoder layers.
        num_heads (int): attention heads; must divide the encoder width.
        dim_feedforward (int | None): feed-forward size; None gives 4 × the encoder width.
        dropout (float): dropout inside the encoder and before the output layer.
        pooling (Pooling): ``"mean"``, ``"max"`` or ``"cls"`` over the encoder's output.
        hidden_size (int | None): project the states to this width before the encoder;
            None keeps ``in_features`` when ``num_heads`` divides it, and otherwise projects
            to the next multiple of ``num_heads`` (a one-hot backbone's odd width, say).
        activation (Literal["relu", "gelu"]): the encoder's feed-forward activation.

    Raises:
        ValueError: ``num_heads`` does not divide ``hidden_size``, a size is not positive,
            or ``pooling`` or ``activation`` is unknown.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        /,
        *,
        num_layers: int = 1,
        num_heads: int = 4,
        dim_feedforward: int | None = None,
        dropout: float = 0.0,
        pooling: Pooling = "mean",
        hidden_size: int | None = None,
        activation: Literal["relu", "gelu"] = "gelu",
    ) -> None:
        super().__init__()
        check_pooling(pooling)
        if activation not in ("relu", "gelu"):
            raise ValueError(f"activation must be 'relu' or 'gelu', got {activation!r}.")
        check_sizes("num_layers, num_heads", [num_layers, num_heads])
        width = hidden_size or -(-in_features // num_heads) * num_heads
        check_sizes("hidden_size", [width])
        if width % num_heads:
            raise ValueError(
                f"num_heads={num_heads} must divide hidden_size={width}; set hidden_size to a "
                f"multiple of {num_heads}."
            )
        self.pooling = pooling
        self.project = nn.Identity() if width == in_features else nn.Linear(in_features, width)
        layer = nn.TransformerEncoderLayer(
            d_model=width,
            nhead=num_heads,
            dim_feedforward=dim_feedforward or 4 * width,
            dropout=dropout,
            activation=activation,
            batch_first=True,
            norm_first=True,
        )
        # The nested-tensor fast path does not apply to pre-norm layers; say so up front
        # instead of letting torch warn on every construction.
        self.encoder = nn.TransformerEncoder(
            layer, num_layers=num_layers, norm=nn.LayerNorm(width), enable_nested_tensor=False
        )
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(width, out_features)

    def _encode(self, states: Tensor, mask: Tensor) -> Tensor:
        return self.encoder(states, src_key_padding_mask=~mask)


class ResNet1DAdapter(_EncoderPoolHead):
    """A 1-D residual convolution network over the tokens, then masked pooling and a linear layer.

    Padded positions are set to zero before every convolution, so padding never leaks into
    a real token's neighbourhood. Normalisation is per position (LayerNorm over channels),
    so batch-mates never share statistics.

    Accepted by: SequenceClassification, SequenceRegression (any task taking a
    SequenceAdapter).

    Args:
        in_features (int): reserved, filled by the task: the backbone's hidden size.
        out_features (int): reserved, filled by the task: the number of outputs.
        kernel_size (int): convolution width; odd, so the output keeps the input's length.
        channels (int): convolution channels.
        num_blocks (int): residual blocks (two convolutions each).
        dropout (float): dropout inside each block and before the output layer.
        pooling (Pooling): ``"mean"``, ``"max"`` or ``"cls"`` after the convolutions.
        activation (Activation): activation inside the blocks.

    Raises:
        ValueError: ``kernel_size`` is even, a size is not positive, or ``pooling`` or
            ``activation`` is unknown.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        /,
        *,
        kernel_size: int = 5,
        channels: int = 64,
        num_blocks: int = 2,
        dropout: float = 0.0,
        pooling: Pooling = "mean",
        activation: Activation = "gelu",
    ) -> None:
        super().__init__()
        check_pooling(pooling)
        check_conv_sizes(
            {"kernel_size": kernel_size, "channels": channels, "num_blocks": num_blocks}
        )
        self.pooling = pooling
        self.project = nn.Linear(in_features, channels)
        self.blocks = nn.ModuleList(
            ResidualConvBlock(1, channels, kernel_size, activation, dropout)
            for _ in range(num_blocks)
        )
        self.norm = nn.LayerNorm(channels)
        self.act = make_activation(activation)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(channels, out_features)

    def _encode(self, states: Tensor, mask: Tensor) -> Tensor:
        for block in self.blocks:
            states = block(states, mask)
        return self.act(self.norm(states))
