"""Small building blocks shared by the heads: activations, MLP stacks, residual conv blocks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

from torch import Tensor, nn

from mg.adapters.pooling import zero_padding

Activation = Literal["relu", "gelu", "silu", "tanh", "elu", "leaky_relu"]
"""Activation names a user may put in a config. Each maps zero to zero."""

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
}


def make_activation(name: str) -> nn.Module:
    """Build an activation module from its name.

    Args:
        name (str): one of `Activation`.

    Returns:
        nn.Module: the activation.

    Raises:
        ValueError: the name is unknown.
    """
    if name not in _ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {list(get_args(Activation))}."
        )
    return _ACTIVATIONS[name]()


def check_sizes(name: str, sizes: Sequence[int], allow_empty: bool = True) -> list[int]:
    """Check a list of layer sizes from a user config.

    Args:
        name (str): the option's name, for the error message.
        sizes (Sequence[int]): the sizes.
        allow_empty (bool): whether no size at all is allowed.

    Returns:
        list[int]: the sizes as a list.

    Raises:
        ValueError: a size is not a positive integer, or the list is empty when it must not be.
    """
    sizes = list(sizes)
    if not allow_empty and not sizes:
        raise ValueError(f"{name} needs at least one size, got {sizes}.")
    if any(not isinstance(s, int) or s < 1 for s in sizes):
        raise ValueError(f"{name} must hold positive integers, got {sizes}.")
    return sizes


def make_mlp(
    in_features: int,
    hidden_sizes: Sequence[int],
    out_features: int,
    *,
    activation: str = "gelu",
    dropout: float = 0.0,
    bias: bool = True,
) -> nn.Sequential:
    """Build ``Linear → activation → Dropout`` per hidden size, then a last ``Linear``.

    Applied to the last dimension, so it works per token or per pair alike.

    Args:
        in_features (int): input size.
        hidden_sizes (Sequence[int]): hidden layer sizes; empty gives one ``Linear``.
        out_features (int): output size.
        activation (str): activation name (see `Activation`).
        dropout (float): dropout after every hidden activation.
        bias (bool): give every ``Linear`` a bias.

    Returns:
        nn.Sequential: the MLP.
    """
    layers: list[nn.Module] = []
    width = in_features
    for size in check_sizes("hidden_sizes", hidden_sizes):
        layers += [nn.Linear(width, size, bias=bias), make_activation(activation)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, out_features, bias=bias))
    return nn.Sequential(*layers)


class ResidualConvBlock(nn.Module):
    """Pre-activation residual block, ``x + conv(act(norm(conv(act(norm(x))))))``.

    Works channels-last on token states ``(batch, length, channels)`` (``dims=1``) or on a
    pair map ``(batch, length, length, channels)`` (``dims=2``). Normalisation is per
    position (LayerNorm over channels), so batch-mates never share statistics, and masked
    positions are set to zero before each convolution.

    Args:
        dims (int): 1 for ``Conv1d`` over tokens, 2 for ``Conv2d`` over a pair map.
        channels (int): input and output channels.
        kernel_size (int): convolution width; odd, so the output keeps the input's size.
        activation (str): activation name (see `Activation`).
        dropout (float): dropout before the second convolution.
    """

    def __init__(
        self, dims: int, channels: int, kernel_size: int, activation: str, dropout: float
    ) -> None:
        super().__init__()
        conv = {1: nn.Conv1d, 2: nn.Conv2d}[dims]
        self.norm1 = nn.LayerNorm(channels)
        self.conv1 = conv(channels, channels, kernel_size, padding=kernel_size // 2)
        self.norm2 = nn.LayerNorm(channels)
        self.conv2 = conv(channels, channels, kernel_size, padding=kernel_size // 2)
        self.act = make_activation(activation)
        self.dropout = nn.Dropout(dropout)

    @staticmethod
    def _conv(conv: nn.Module, x: Tensor, mask: Tensor) -> Tensor:
        # Masked positions are zero going in, exactly like the conv's own zero padding past
        # the edge, so a real position sees the same neighbours alone or batched.
        return conv(zero_padding(x, mask).movedim(-1, 1)).movedim(1, -1)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """Apply the block.

        Args:
            x (Tensor): ``(batch, *spatial, channels)``.
            mask (Tensor): ``(batch, *spatial)`` bool, True for real positions.

        Returns:
            Tensor: same shape as ``x``.
        """
        y = self._conv(self.conv1, self.act(self.norm1(x)), mask)
        y = self._conv(self.conv2, self.dropout(self.act(self.norm2(y))), mask)
        return x + y


def check_conv_sizes(sizes: dict[str, int]) -> None:
    """Check a convolution head's sizes from a user config before anything is built.

    Args:
        sizes (dict[str, int]): option name to value; must include ``kernel_size``.

    Raises:
        ValueError: a size is not a positive integer, or ``kernel_size`` is even.
    """
    check_sizes(", ".join(sizes), list(sizes.values()))
    if sizes["kernel_size"] % 2 == 0:
        raise ValueError(
            f"kernel_size must be odd so the output keeps the input's size, "
            f"got {sizes['kernel_size']}."
        )
