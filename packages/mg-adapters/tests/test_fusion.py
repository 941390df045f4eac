"""Fusion heads: padding and batch-mates never change an item's output; inputs checked."""

from __future__ import annotations

import pytest
import torch

from mg.adapters import ConcatFusionAdapter, CrossAttentionFusionAdapter
from mg.core import FusionAdapter

ADAPTERS = [ConcatFusionAdapter, CrossAttentionFusionAdapter]


def inputs(lengths: list[list[int]], sizes: list[int], pad: int = 0, seed: int = 0):
    """Per modality, states (batch, max_len + pad, size) and masks; padding holds noise."""
    generator = torch.Generator().manual_seed(seed)
    states, masks = [], []
    for modality, size in enumerate(sizes):
        width = max(row[modality] for row in lengths) + pad
        states.append(torch.randn(len(lengths), width, size, generator=generator) * 3)
        masks.append(
            torch.arange(width)[None] < torch.tensor([r[modality] for r in lengths])[:, None]
        )
    return states, masks


@pytest.mark.parametrize("adapter_class", ADAPTERS)
def test_is_a_fusion_adapter_with_the_reserved_arguments(adapter_class: type) -> None:
    adapter = adapter_class([8, 12, 4], 3)
    assert isinstance(adapter, FusionAdapter)
    states, masks = inputs([[3, 5, 2], [6, 1, 4]], [8, 12, 4])
    assert adapter(states, masks).shape == (2, 3)


@pytest.mark.parametrize("adapter_class", ADAPTERS)
def test_padding_and_batch_mates_do_not_change_an_item(adapter_class: type) -> None:
    torch.manual_seed(0)
    adapter = adapter_class([8, 12], 2).eval()
    states, masks = inputs([[3, 5], [7, 2], [4, 9]], [8, 12], pad=3)
    together = adapter(states, masks)
    for item in range(3):
        alone_states = [
            s[item : item + 1, : int(m[item].sum())] for s, m in zip(states, masks, strict=True)
        ]
        alone_masks = [m[item : item + 1, : int(m[item].sum())] for m in masks]
        torch.testing.assert_close(
            adapter(alone_states, alone_masks)[0], together[item], atol=1e-5, rtol=1e-4
        )


@pytest.mark.parametrize("adapter_class", ADAPTERS)
def test_each_modality_matters(adapter_class: type) -> None:
    torch.manual_seed(0)
    adapter = adapter_class([8, 12], 2).eval()
    states, masks = inputs([[3, 5], [7, 2]], [8, 12])
    changed = [states[0], states[1] + 1.0]
    assert not torch.allclose(adapter(states, masks), adapter(changed, masks))


def test_bad_options_and_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="at least two backbones"):
        ConcatFusionAdapter([8], 2)
    with pytest.raises(ValueError, match="must divide"):
        CrossAttentionFusionAdapter([8, 8], 2, dim=10, num_heads=4)
    adapter = ConcatFusionAdapter([8, 12], 2)
    states, masks = inputs([[3, 5]], [8, 12])
    with pytest.raises(ValueError, match="built for 2 backbones"):
        adapter(states[:1], masks[:1])
