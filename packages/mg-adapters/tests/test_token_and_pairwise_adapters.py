from __future__ import annotations

import pytest
import torch
from adapters_helpers import padded_batch, train
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from mg.adapters import (
    LinearTokenAdapter,
    MLPPairwiseAdapter,
    MLPTokenAdapter,
    ResNet2DPairwiseAdapter,
)


@pytest.mark.parametrize("cls", [LinearTokenAdapter, MLPTokenAdapter])
def test_token_heads_learn_a_per_token_signal_and_zero_padding(cls) -> None:
    torch.manual_seed(0)
    lengths = [3 + (i * 5) % 10 for i in range(32)]
    hidden, mask = padded_batch(lengths, 6, seed=7, garbage=float("nan"))
    labels = (hidden[..., 0] > 0).long()
    adapter = cls(6, 2)

    def step() -> torch.Tensor:
        return nn.functional.cross_entropy(adapter(hidden, mask)[mask], labels[mask])

    train(adapter, step, steps=60)
    with torch.no_grad():
        out = adapter(hidden, mask)
    assert (out[mask].argmax(-1) == labels[mask]).float().mean() >= 0.9
    assert out[~mask].eq(0).all()


def _naive_pairwise(adapter: MLPPairwiseAdapter, hidden: torch.Tensor) -> torch.Tensor:
    """The same MLP written the slow way: materialise [h_i; h_j] and [h_j; h_i]."""
    length = hidden.shape[1]
    h_i = hidden[:, :, None].expand(-1, -1, length, -1)
    h_j = hidden[:, None].expand(-1, length, -1, -1)
    weight = torch.cat([adapter.first.weight, adapter.second.weight], dim=1)
    layer = lambda pair: adapter.act(pair @ weight.T + adapter.first.bias)  # noqa: E731
    pairs = layer(torch.cat([h_i, h_j], -1)) + layer(torch.cat([h_j, h_i], -1))
    return adapter.mlp(pairs)


def test_mlp_pairwise_equals_an_mlp_over_concatenated_pairs() -> None:
    torch.manual_seed(0)
    adapter = MLPPairwiseAdapter(5, 2, hidden_sizes=[8, 4]).eval()
    hidden, mask = padded_batch([7, 7], 5, seed=8)
    with torch.no_grad():
        torch.testing.assert_close(adapter(hidden, mask), _naive_pairwise(adapter, hidden))


def test_chunked_rows_give_the_same_scores_and_gradients() -> None:
    torch.manual_seed(0)
    whole = MLPPairwiseAdapter(6, 3, hidden_sizes=[8])
    chunked = MLPPairwiseAdapter(6, 3, hidden_sizes=[8], chunk_size=3)
    chunked.load_state_dict(whole.state_dict())
    hidden, mask = padded_batch([10, 7], 6, seed=9)
    grads = []
    for adapter in (whole, chunked):
        adapter.zero_grad()
        out = adapter(hidden, mask)
        out.pow(2).sum().backward()
        grads.append((out.detach(), [p.grad.clone() for p in adapter.parameters()]))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    for a, b in zip(grads[0][1], grads[1][1], strict=True):
        torch.testing.assert_close(a, b)


class _LargestTensor(TorchDispatchMode):
    """Record the largest tensor any op produces."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def test_mlp_pairwise_never_builds_the_pair_concatenation() -> None:
    batch, length, features, hidden_size = 1, 24, 64, 8
    adapter = MLPPairwiseAdapter(features, 1, hidden_sizes=[hidden_size]).eval()
    hidden, mask = padded_batch([length] * batch, features)
    with torch.no_grad(), _LargestTensor() as tracker:
        adapter(hidden, mask)
    assert tracker.largest == batch * length * length * hidden_size
    with torch.no_grad(), _LargestTensor() as naive:
        _naive_pairwise(adapter, hidden)
    assert naive.largest == batch * length * length * 2 * features  # the check can fail


@pytest.mark.parametrize(
    "make",
    [
        lambda: MLPPairwiseAdapter(6, 1, hidden_sizes=[16]),
        lambda: ResNet2DPairwiseAdapter(6, 1, projection_size=4, channels=8, num_blocks=1),
    ],
    ids=["mlp", "resnet2d"],
)
def test_pairwise_heads_learn_which_tokens_pair(make) -> None:
    torch.manual_seed(0)
    lengths = [5 + (i * 3) % 8 for i in range(24)]
    hidden, mask = padded_batch(lengths, 6, seed=10, garbage=float("nan"))
    # Tokens pair when feature 0 has the same sign: symmetric, needs both tokens.
    sign = hidden[..., 0] > 0
    target = (sign[:, :, None] == sign[:, None, :]).float()
    pairs = mask[:, :, None] & mask[:, None, :]
    adapter = make()

    def step() -> torch.Tensor:
        logits = adapter(hidden, mask)[..., 0]
        return nn.functional.binary_cross_entropy_with_logits(logits[pairs], target[pairs])

    train(adapter, step, steps=80)
    with torch.no_grad():
        out = adapter(hidden, mask)
    assert ((out[..., 0][pairs] > 0).float() == target[pairs]).float().mean() >= 0.85
    assert out[~pairs].eq(0).all()
    torch.testing.assert_close(out, out.transpose(1, 2))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: MLPPairwiseAdapter(8, 1, hidden_sizes=[]), "at least one size"),
        (lambda: MLPPairwiseAdapter(8, 1, chunk_size=0), "chunk_size"),
        (lambda: ResNet2DPairwiseAdapter(8, 1, kernel_size=2), "kernel_size must be odd"),
    ],
)
def test_bad_pairwise_options_fail_clearly(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
