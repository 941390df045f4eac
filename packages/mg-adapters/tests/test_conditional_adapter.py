from __future__ import annotations

import pytest
import torch
from adapters_helpers import padded_batch, train
from torch import nn

from mg.adapters import ConditionalLMAdapter


def _lm_head(features: int = 8, vocab: int = 11) -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(features, features), nn.GELU(), nn.Linear(features, vocab))


@pytest.mark.parametrize("mixing", ["film", "add"])
def test_starts_from_the_lm_head_a_zero_condition_gives_its_logits(mixing: str) -> None:
    lm_head = _lm_head()
    adapter = ConditionalLMAdapter(8, 11, 3, lm_head, mixing=mixing).eval()
    hidden, mask = padded_batch([6, 4], 8)
    with torch.no_grad():
        out = adapter(hidden, mask, torch.zeros(2, 3))
        expected = lm_head(torch.nan_to_num(hidden))
    torch.testing.assert_close(out[mask], expected[mask], atol=0.0, rtol=0.0)


def test_the_head_is_a_trainable_copy_sharing_nothing_with_the_backbone() -> None:
    lm_head = _lm_head().requires_grad_(False)  # a frozen backbone's head
    adapter = ConditionalLMAdapter(8, 11, 3, lm_head)
    before = [p.clone() for p in lm_head.parameters()]
    ours = dict(adapter.head.named_parameters())
    for name, p in lm_head.named_parameters():
        torch.testing.assert_close(ours[name], p)
        assert ours[name].data_ptr() != p.data_ptr()
        assert ours[name].requires_grad
    hidden, mask = padded_batch([5, 5], 8)
    train(adapter, lambda: adapter(hidden, mask, torch.randn(2, 3)).pow(2).mean(), steps=3)
    for b, p in zip(before, lm_head.parameters(), strict=True):
        torch.testing.assert_close(b, p, atol=0.0, rtol=0.0)
    assert not torch.equal(ours["2.weight"], lm_head[2].weight)


def test_without_a_head_or_when_told_not_to_it_starts_fresh() -> None:
    for adapter in (
        ConditionalLMAdapter(8, 11, 3, None),
        ConditionalLMAdapter(8, 11, 3, _lm_head(), use_pretrained_head=False),
    ):
        assert isinstance(adapter.head, nn.Linear)
        assert (adapter.head.in_features, adapter.head.out_features) == (8, 11)


def test_different_conditions_give_measurably_different_logits() -> None:
    torch.manual_seed(0)
    adapter = ConditionalLMAdapter(8, 11, 3, _lm_head()).eval()
    hidden, mask = padded_batch([6, 6, 6], 8)
    hidden = hidden[:1].expand(3, -1, -1)  # the same states under three conditions
    with torch.no_grad():
        out = adapter(hidden, mask, torch.eye(3))
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        assert (out[a] - out[b]).abs().max() > 1e-3


def test_it_learns_to_follow_the_condition() -> None:
    """Same input, the condition alone decides which token is likely."""
    torch.manual_seed(0)
    adapter = ConditionalLMAdapter(8, 5, 2, _lm_head(8, 5), condition_hidden_sizes=[16])
    hidden, mask = padded_batch([6] * 8, 8, seed=3)
    hidden = hidden[:1].expand(8, -1, -1)
    classes = torch.arange(8) % 2
    condition = nn.functional.one_hot(classes, 2).float()
    targets = (classes * 3)[:, None].expand(8, 6)  # class 0 → token 0, class 1 → token 3

    def step() -> torch.Tensor:
        logits = adapter(hidden, mask, condition)
        return nn.functional.cross_entropy(logits[mask], targets[mask])

    train(adapter, step, steps=60, lr=3e-2)
    with torch.no_grad():
        predicted = adapter(hidden, mask, condition).argmax(-1)
    assert torch.equal(predicted[mask], targets[mask])


def test_a_head_of_the_wrong_vocabulary_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="gives 11 logits per token but vocab_size is 7"):
        ConditionalLMAdapter(8, 7, 3, _lm_head())
    with pytest.raises(ValueError, match="in_features=6"):
        ConditionalLMAdapter(6, 11, 3, _lm_head())
    with pytest.raises(ValueError, match="mixing"):
        ConditionalLMAdapter(8, 11, 3, None, mixing="concat")  # type: ignore[arg-type]
