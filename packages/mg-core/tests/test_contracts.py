"""The contract mixins, run over the toy backbone, adapter and task."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from core_toys import MeanPoolLinear, ToyRegression, toy_data

from mg.core.testing import ToyBackbone
from mg.core.testing.contracts import (
    AdapterContract,
    BackboneContract,
    TaskContract,
    assert_reserved_positional_only,
)


class TestToyBackbone(BackboneContract):
    def make_backbone(self, use_lm_head: bool = False) -> ToyBackbone:
        return ToyBackbone(use_lm_head, None, max_length=32).eval()


class TestMeanPoolLinear(AdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> MeanPoolLinear:
        return MeanPoolLinear(in_features, out_features)


class TestToyRegression(TaskContract):
    def make_task(self) -> ToyRegression:
        return ToyRegression(partial(ToyBackbone, max_length=32))

    def make_data(self, batch_size: int = 4):
        return toy_data(batch_size)


class LeakyPool(MeanPoolLinear):
    """Pools over padding too: the contract must catch it."""

    def forward(self, hidden_states, attention_mask):
        return self.linear(hidden_states.mean(1))


def test_adapter_contract_catches_an_adapter_that_reads_padding() -> None:
    contract = TestMeanPoolLinear()
    contract.make_adapter = lambda i, o: LeakyPool(i, o)  # type: ignore[method-assign]
    with pytest.raises(AssertionError):
        contract.test_padding_and_batch_mates_do_not_change_an_item()


def test_backbone_contract_catches_attention_across_the_batch() -> None:
    class BatchFirstMissing(ToyBackbone):
        def forward(self, input_ids, attention_mask, all_hidden_states=False):
            out = super().forward(input_ids, attention_mask, all_hidden_states)
            out.last_hidden_state = out.last_hidden_state + out.last_hidden_state.mean(0)
            return out

    contract = TestToyBackbone()
    contract.make_backbone = lambda use_lm_head=False: BatchFirstMissing(use_lm_head)
    with pytest.raises(AssertionError):
        contract.test_padding_and_batch_mates_do_not_change_hidden_states()


def test_positional_only_check_rejects_a_loose_signature() -> None:
    class Loose(MeanPoolLinear):
        def __init__(self, in_features: int, out_features: int, dropout: float = 0.0) -> None:
            super().__init__(in_features, out_features)

    with pytest.raises(AssertionError):
        assert_reserved_positional_only(Loose, 2)


def test_toy_regression_learns_gc_content() -> None:
    from mg.core.testing.contracts import fast_trainer

    torch.manual_seed(0)
    task = ToyRegression(
        partial(ToyBackbone, max_length=32),
        optimizer=partial(torch.optim.Adam, lr=3e-3),
    )
    data = toy_data(batch_size=8)
    fast_trainer(max_epochs=25).fit(task, datamodule=data)
    preds = torch.cat([b["predictions"] for b in fast_trainer().predict(task, datamodule=data)])
    labels = torch.tensor([s["labels"] for s in data.datasets["predict"].samples])
    corr = torch.corrcoef(torch.stack([preds, labels]))[0, 1]
    assert corr > 0.6, f"Pearson {corr:.2f}: the toy task did not learn GC content"
