"""Small building blocks shared by the heads: activations by name and MLP stacks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

from torch import nn

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
