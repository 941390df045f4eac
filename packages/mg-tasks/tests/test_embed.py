"""Embed: pooled and per-residue embeddings, from the last or chosen layers."""

from __future__ import annotations

import pytest
import torch
from task_helpers import column, predict, run_samples, tiny_backbone, unlabelled
from torch.utils.data import DataLoader

from mg.core.testing import InMemoryData
from mg.core.testing.contracts import fast_trainer
from mg.tasks import Embed

SAMPLES = [{"ids": "a", "sequences": "ACGTACGTAC"}, {"ids": "b", "sequences": "GGA"}]


def _reference(layer: int = -1) -> list[torch.Tensor]:
    """Each item's residue states, computed directly with the backbone, item by item."""
    backbone = tiny_backbone().eval()
    states = []
    for sample in SAMPLES:
        tokens = backbone.batch([sample["sequences"]])
        with torch.no_grad():
            out = backbone(tokens.input_ids, tokens.attention_mask, all_hidden_states=True)
        states.append(out.hidden_states[layer][0])
    return states


def _embed(**options) -> list[torch.Tensor]:
    return column(predict(Embed(tiny_backbone, **options), InMemoryData(predict=SAMPLES)))


def test_mean_and_max_pool_residues_only() -> None:
    reference = _reference()
    mean, maximum = _embed(pooling="mean"), _embed(pooling="max")
    for ref, m, x in zip(reference, mean, maximum, strict=True):
        residues = ref[1:-1]  # without CLS and EOS
        torch.testing.assert_close(m, residues.mean(0), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(x, residues.amax(0), atol=1e-5, rtol=1e-4)


def test_cls_pooling_takes_the_leading_token() -> None:
    for ref, cls in zip(_reference(), _embed(pooling="cls"), strict=True):
        torch.testing.assert_close(cls, ref[0], atol=1e-5, rtol=1e-4)


def test_per_residue_embeddings_are_trimmed_to_each_item() -> None:
    per_residue = _embed(pooling="none")
    assert [e.shape for e in per_residue] == [(10, 16), (3, 16)]
    for ref, e in zip(_reference(), per_residue, strict=True):
        torch.testing.assert_close(e, ref[1:-1], atol=1e-5, rtol=1e-4)


def test_layers_are_stacked_before_the_feature_dimension() -> None:
    chosen = _embed(pooling="none", layers=[0, -1])
    everything = _embed(pooling="mean", layers="all")
    assert [e.shape for e in chosen] == [(10, 2, 16), (3, 2, 16)]
    assert [e.shape for e in everything] == [(3, 16), (3, 16)]  # embeddings + 2 layers
    for ref, e in zip(_reference(0), chosen, strict=True):
        torch.testing.assert_close(e[:, 0], ref[1:-1], atol=1e-5, rtol=1e-4)


def test_an_unknown_layer_is_named() -> None:
    with pytest.raises(ValueError, match=r"layers holds 5, but the backbone has 3 hidden states"):
        _embed(layers=[5])


def test_embed_refuses_to_train_even_without_a_data_module() -> None:
    assert Embed.supported_stages == {"predict"}
    loader = DataLoader(unlabelled(run_samples(4, 0)), batch_size=2, collate_fn=lambda b: b)
    task = Embed(tiny_backbone)
    with pytest.raises(ValueError, match="Embed only predicts embeddings; it has no objective"):
        fast_trainer(max_steps=1).fit(task, train_dataloaders=loader)
    assert task.backbone is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pooling": "sum"}, "pooling must be"),
        ({"layers": []}, "layers is empty"),
        ({"layers": "last"}, "layers must be"),
    ],
)
def test_bad_options_fail_at_construction(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Embed(tiny_backbone, **options)
