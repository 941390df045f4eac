"""Adapters configured the way the CLI does it: class_path + init_args on a Callable type.

Needs only jsonargparse besides mg-adapters (the pyproject's ``test`` dependency group).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from jsonargparse import ArgumentParser
from torch import nn

from mg.adapters import ConditionalLMAdapter, MLPPairwiseAdapter, MLPPoolAdapter
from mg.core import (
    ConditionalGenerationAdapter,
    PairwiseAdapter,
    SequenceAdapter,
    TokenAdapter,
)

pytestmark = pytest.mark.jsonargparse

RESERVED_GIVEN = {"class_path": "MLPPoolAdapter", "init_args": {"in_features": 5}}


def _parser() -> ArgumentParser:
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--adapter", type=Callable[[int, int], SequenceAdapter])
    parser.add_argument("--pairwise", type=Callable[[int, int], PairwiseAdapter], default=None)
    parser.add_argument("--token", type=Callable[[int, int], TokenAdapter], default=None)
    parser.add_argument(
        "--conditional",
        type=Callable[[int, int, int, nn.Module | None], ConditionalGenerationAdapter],
        default=None,
    )
    return parser


def _build(args: list[str]) -> Any:
    parser = _parser()
    config = parser.parse_args(args)
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    return instantiate(config)


def test_short_name_and_init_args_build_the_adapter_with_reserved_args_first() -> None:
    value = {"class_path": "MLPPoolAdapter", "init_args": {"hidden_sizes": [64], "dropout": 0.1}}
    built = _build([f"--adapter={json.dumps(value)}"])
    adapter = built.adapter(12, 3)
    assert type(adapter) is MLPPoolAdapter
    linears = [m for m in adapter.mlp if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(12, 64), (64, 3)]
    assert adapter.dropout.p == 0.1 and adapter.pooling == "mean"


def test_yaml_config_and_dotted_overrides() -> None:
    parser = _parser()
    config = parser.parse_string(
        "adapter: {class_path: MLPPoolAdapter, init_args: {hidden_sizes: [64], dropout: 0.1}}\n"
        "pairwise: {class_path: mg.adapters.pairwise.MLPPairwiseAdapter}\n"
    )
    config = parser.parse_args(["--pairwise.chunk_size=16"], namespace=config)
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    built = instantiate(config)
    assert built.adapter(20, 2).mlp[0].out_features == 64
    pairwise = built.pairwise(20, 1)
    assert type(pairwise) is MLPPairwiseAdapter and pairwise.chunk_size == 16
    assert pairwise.first.in_features == 20


def test_conditional_adapter_gets_the_lm_head_as_its_fourth_reserved_argument() -> None:
    built = _build(
        [
            "--adapter=LinearCLSAdapter",
            "--conditional=ConditionalLMAdapter",
            "--conditional.mixing=add",
        ]
    )
    lm_head = nn.Linear(8, 6)
    adapter = built.conditional(8, 6, 3, lm_head)
    assert type(adapter) is ConditionalLMAdapter and adapter.mixing == "add"
    assert adapter.from_pretrained_head
    assert adapter.condition_mlp[0].in_features == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([f"--adapter={json.dumps(RESERVED_GIVEN)}"], "in_features"),
        (["--adapter=MLPPoolAdapter", "--adapter.pooling=sum"], "sum"),
        (["--adapter=LinearCLSAdapter", "--token=MLPPoolAdapter"], "MLPPoolAdapter"),
    ],
    ids=["reserved-arg-given-by-user", "bad-literal", "wrong-adapter-type"],
)
def test_the_parser_refuses_what_the_adapter_would_misuse(args: list[str], message: str) -> None:
    with pytest.raises(Exception, match=message):
        _build(args)
