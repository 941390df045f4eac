"""ESM C families: checkpoints, sizes, layers for sharding, checkpointing, LoRA targets."""

from __future__ import annotations

import pytest
import torch

from mg.backbones import ESMC, ESMC_CHECKPOINTS, ESMCTiny
from mg.backbones.esmc.families import ESMC_SIZES, _published_heads
from mg.backbones.esmc.layers import ESMCLayer, swiglu_width


def test_both_published_sizes_are_listed_and_the_default_is_300m() -> None:
    assert ESMC.default_model_path == "EvolutionaryScale/esmc-300m-2024-12"
    assert set(ESMC_CHECKPOINTS) == set(ESMC_SIZES) == {"300M", "600M"}


@pytest.mark.parametrize(("size", "heads"), [("300M", 15), ("600M", 18)])
def test_published_sizes_give_their_head_count_and_mlp_width(size: str, heads: int) -> None:
    sizes = dict(ESMC_SIZES[size])
    assert _published_heads(sizes, {}) == heads
    # The esm package's widths: 2560 for 960, 3072 for 1152.
    assert swiglu_width(sizes["hidden_size"]) == {"300M": 2560, "600M": 3072}[size]


def test_layers_are_the_sharding_units_and_checkpointing_keeps_gradients() -> None:
    plain = ESMCTiny(False, None, max_length=32)
    checkpointed = ESMCTiny(False, None, max_length=32, gradient_checkpointing=True)
    assert plain.layer_classes() == {ESMCLayer}
    assert all(layer.gradient_checkpointing for layer in checkpointed.model.layers)
    batch = plain.batch(["MKTAYIAKQ", "WYV"])
    grads = []
    for backbone in (plain, checkpointed):
        backbone.train()
        backbone(batch.input_ids, batch.attention_mask).last_hidden_state.square().sum().backward()
        grads.append({n: p.grad for n, p in backbone.named_parameters()})
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, msg=name)


def test_lora_adapts_the_attention_projections_only() -> None:
    backbone = ESMCTiny(False, None, max_length=32, finetune="lora")
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)
    assert {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable} == {"qkv", "out_proj"}
