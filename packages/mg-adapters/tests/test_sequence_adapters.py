from __future__ import annotations

import pytest
import torch
from adapters_helpers import padded_batch, train
from torch import nn

from mg.adapters import (
    LinearCLSAdapter,
    LinearMaxPoolAdapter,
    LinearMeanPoolAdapter,
    MLPPoolAdapter,
    ResNet1DAdapter,
    TransformerPoolAdapter,
)
from mg.core import SequenceAdapter


def _alone_and_batched(adapter: nn.Module, lengths: list[int], features: int) -> tuple:
    hidden, mask = padded_batch(lengths, features, seed=4)
    adapter.eval()
    with torch.no_grad():
        batched = adapter(hidden, mask)
        alone = torch.cat(
            [adapter(hidden[i : i + 1, :n], mask[i : i + 1, :n]) for i, n in enumerate(lengths)]
        )
    return batched, alone


def _item_changes_with_its_batch_mate(run) -> bool:
    """Run a two-item batch, change item 1 only, and say whether item 0's output moved."""
    hidden, mask = padded_batch([6, 6], 16, seed=5)
    other = hidden.clone()
    other[1] = torch.randn(6, 16)
    with torch.no_grad():
        return not torch.allclose(run(hidden, mask)[0], run(other, mask)[0], atol=1e-5)


def test_transformer_head_output_does_not_depend_on_batch_mates() -> None:
    torch.manual_seed(0)
    adapter = TransformerPoolAdapter(16, 2, num_layers=2, num_heads=4)
    batched, alone = _alone_and_batched(adapter, [3, 8, 5, 11], 16)
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-4)
    assert not _item_changes_with_its_batch_mate(adapter)
    # The encoder layer alone, without pooling, keeps items apart too.
    layer = adapter.encoder.layers[0]
    assert not _item_changes_with_its_batch_mate(lambda h, m: layer(h, src_key_padding_mask=~m))


def test_the_batch_mate_check_catches_an_encoder_without_batch_first() -> None:
    """The earlier framework's defect fails the same check, so the check is a real one."""
    torch.manual_seed(0)
    defective = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0).eval()
    assert _item_changes_with_its_batch_mate(lambda h, m: defective(h))


def test_resnet1d_padding_never_leaks_even_as_inf() -> None:
    torch.manual_seed(0)
    adapter = ResNet1DAdapter(8, 3, channels=8, kernel_size=7, num_blocks=2).eval()
    hidden, mask = padded_batch([2, 9], 8, garbage=float("inf"))
    with torch.no_grad():
        out = adapter(hidden, mask)
        alone = adapter(hidden[:1, :2], mask[:1, :2])
    assert out.isfinite().all()
    torch.testing.assert_close(out[0], alone[0], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LinearCLSAdapter(8, 2),
        lambda: LinearMeanPoolAdapter(8, 2),
        lambda: LinearMaxPoolAdapter(8, 2),
        lambda: MLPPoolAdapter(8, 2, hidden_sizes=[16]),
        lambda: TransformerPoolAdapter(8, 2, num_heads=2, dim_feedforward=16),
        lambda: ResNet1DAdapter(8, 2, channels=8, kernel_size=3, num_blocks=1),
    ],
    ids=["cls", "mean", "max", "mlp", "transformer", "resnet1d"],
)
def test_sequence_heads_learn_a_class_signal_well_above_chance(make) -> None:
    torch.manual_seed(0)
    lengths = [4 + (i * 5) % 9 for i in range(64)]
    hidden, mask = padded_batch(lengths, 8, seed=6, garbage=0.0)
    labels = torch.arange(64) % 2
    # Class 1 shifts feature 0 of every real token, the first one included.
    hidden[..., 0] += torch.where(mask, labels[:, None].float() * 3.0, 0.0)
    adapter = make()
    assert isinstance(adapter, SequenceAdapter)
    train(adapter, lambda: nn.functional.cross_entropy(adapter(hidden, mask), labels), steps=60)
    with torch.no_grad():
        accuracy = (adapter(hidden, mask).argmax(-1) == labels).float().mean()
    assert accuracy >= 0.85


def test_options_land_where_the_user_put_them() -> None:
    adapter = MLPPoolAdapter(10, 4, pooling="max", hidden_sizes=[7, 5], dropout=0.3)
    linears = [m for m in adapter.mlp if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(10, 7), (7, 5), (5, 4)]
    assert adapter.pooling == "max" and adapter.dropout.p == 0.3


def test_transformer_head_projects_an_odd_width_to_a_multiple_of_the_heads() -> None:
    adapter = TransformerPoolAdapter(7, 2, num_heads=4)  # one-hot DNA is 7 wide
    assert isinstance(adapter.project, nn.Linear) and adapter.project.out_features == 8
    assert isinstance(TransformerPoolAdapter(8, 2, num_heads=4).project, nn.Identity)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: TransformerPoolAdapter(10, 2, num_heads=4, hidden_size=10),
            "num_heads=4 must divide hidden_size=10",
        ),
        (lambda: ResNet1DAdapter(8, 2, kernel_size=4), "kernel_size must be odd"),
        (lambda: MLPPoolAdapter(8, 2, pooling="sum"), "unknown pooling 'sum'"),
        (lambda: MLPPoolAdapter(8, 2, activation="swish"), "unknown activation 'swish'"),
        (lambda: MLPPoolAdapter(8, 2, hidden_sizes=[0]), "positive integers"),
    ],
)
def test_bad_options_fail_at_construction_with_a_clear_message(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
