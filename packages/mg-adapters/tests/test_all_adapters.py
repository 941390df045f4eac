"""Checks that run over every adapter mg-adapters exports."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest
import torch
from adapters_helpers import padded_batch
from torch import nn

import mg.adapters
from mg.core import (
    ConditionalGenerationAdapter,
    FusionAdapter,
    PairwiseAdapter,
    SequenceAdapter,
    TokenAdapter,
)
from mg.core.registry import plugins

ACCEPTED_BY: dict[type, str] = {
    SequenceAdapter: "SequenceClassification, SequenceRegression",
    TokenAdapter: "TokenClassification",
    PairwiseAdapter: "PairwiseTokenClassification",
    ConditionalGenerationAdapter: "ConditionalDiffusion, ConditionalMLM",
    FusionAdapter: "FusionClassification, FusionRegression",
}

ADAPTERS = {
    name: obj
    for name in mg.adapters.__all__
    if inspect.isclass(obj := getattr(mg.adapters, name)) and issubclass(obj, nn.Module)
}


def _build(cls: type) -> nn.Module:
    if issubclass(cls, ConditionalGenerationAdapter):
        return cls(8, 5, 2, nn.Linear(8, 5))
    if issubclass(cls, FusionAdapter):
        return cls([8, 8], 3)
    return cls(8, 3)


def test_every_exported_adapter_is_registered_under_its_defining_module() -> None:
    registered = {n: p for n, p in plugins("adapters").items() if p.distribution == "mg-adapters"}
    assert set(registered) == set(ADAPTERS)
    for name, plugin in registered.items():
        assert plugin.target == f"{ADAPTERS[name].__module__}:{name}"
        assert plugin.load() is ADAPTERS[name]
        assert plugin.summary(), f"{name} has no docstring summary for `mg list`"


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_docstring_names_the_tasks_that_accept_it(name: str) -> None:
    cls = ADAPTERS[name]
    kind = next(base for base in ACCEPTED_BY if issubclass(cls, base))
    doc = inspect.getdoc(cls) or ""
    assert f"Accepted by: {ACCEPTED_BY[kind]}" in " ".join(doc.split())
    for parameter in list(inspect.signature(cls.__init__).parameters)[1:]:
        assert f"{parameter} (" in doc, f"{name} does not document {parameter}"


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_nan_in_padding_reaches_neither_outputs_nor_gradients(name: str) -> None:
    torch.manual_seed(0)
    adapter = _build(ADAPTERS[name]).train()
    hidden, mask = padded_batch([3, 7], 8, garbage=float("nan"))
    hidden.requires_grad_(True)
    run: Callable[..., torch.Tensor] = adapter
    args: tuple[object, ...] = (
        (hidden, mask, torch.randn(2, 2))
        if isinstance(adapter, ConditionalGenerationAdapter)
        else (hidden, mask)
    )
    if isinstance(adapter, FusionAdapter):  # both inputs carry NaN padding
        args = ([hidden, hidden], [mask, mask])
    out = run(*args)
    if out.dim() == 2:
        valid = out
    elif out.dim() == 3:
        valid = out[mask]
    else:
        valid = out[mask[:, :, None] & mask[:, None, :]]
    assert valid.isfinite().all()
    valid.pow(2).mean().backward()
    for parameter_name, p in adapter.named_parameters():
        assert p.grad is not None and p.grad.isfinite().all(), parameter_name
    assert hidden.grad is not None and hidden.grad[~mask].eq(0).all()
