"""AIDO families: tokenizers, layers for sharding, checkpointing, kernels, clear errors."""

from __future__ import annotations

import pytest
import torch

from mg.backbones import AIDO_RNA_CHECKPOINTS, AIDORNA, AIDODNATiny, AIDOProteinTiny, AIDORNATiny
from mg.backbones.aido.layers import PLAIN_ON_CPU_BELOW, choose_kernel
from mg.backbones.aido.modeling import AIDOBertConfig, AIDOLayer, AIDOModel


def test_every_modelgenerator_rna_checkpoint_is_listed_and_the_default_is_the_largest() -> None:
    assert AIDORNA.default_model_path == "genbio-ai/AIDO.RNA-1.6B"
    assert len(AIDO_RNA_CHECKPOINTS) == 7
    assert all(v.startswith("genbio-ai/AIDO.RNA-") for v in AIDO_RNA_CHECKPOINTS.values())


def test_tokenizers_give_modelgenerator_layouts() -> None:
    dna = AIDODNATiny(False, None, max_length=16)
    assert dna.batch(["ACGTN"]).input_ids.tolist() == [[2, 5, 7, 6, 8, 10, 3]]
    protein = AIDOProteinTiny(False, None, max_length=16)
    assert protein.batch(["MKV"]).input_ids.tolist() == [[17, 12, 4, 34]]  # no [CLS]
    with pytest.raises(ValueError, match="J"):
        protein.batch(["MJV"])


def test_layers_are_the_sharding_units_and_checkpointing_keeps_gradients() -> None:
    plain = AIDORNATiny(False, None, max_length=32)
    checkpointed = AIDORNATiny(False, None, max_length=32, gradient_checkpointing=True)
    assert plain.layer_classes() == {AIDOLayer}
    assert all(layer.gradient_checkpointing for layer in checkpointed.model.encoder.layer)
    batch = plain.batch(["ACGUACGU", "GGA"])
    grads = []
    for backbone in (plain, checkpointed):
        backbone.train()
        backbone(batch.input_ids, batch.attention_mask).last_hidden_state.square().sum().backward()
        grads.append({n: p.grad for n, p in backbone.named_parameters()})
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, msg=name)


def test_auto_kernel_is_plain_for_short_cpu_sequences_and_sdpa_otherwise() -> None:
    short = torch.zeros(1, 4, 8, 8)
    long = torch.zeros(1, 4, int(PLAIN_ON_CPU_BELOW**0.5) + 1, 8)
    assert choose_kernel("auto", short) == "plain"
    assert choose_kernel("auto", long) == "sdpa"
    assert choose_kernel("sdpa", short) == "sdpa"


def test_unsupported_position_type_is_one_clear_error() -> None:
    config = AIDOBertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2)
    config.position_embedding_type = "rope_2d"
    with pytest.raises(ValueError, match="rope_2d"):
        AIDOModel(config)
