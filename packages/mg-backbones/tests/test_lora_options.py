"""LoRA options: rsLoRA scaling, target modules by pattern, modules trained in full."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import BertConfig, BertModel

from mg.backbones.finetuning import LoraSettings, apply_lora, merged_copy


def _bert() -> BertModel:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=12,
        hidden_size=16,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    return BertModel(config).eval()


def _scalings(model: torch.nn.Module) -> set[float]:
    return {
        module.scaling["default"]
        for module in model.modules()
        if isinstance(getattr(module, "scaling", None), dict)  # LoRA layers only
    }


def test_rslora_scales_by_alpha_over_the_root_of_the_rank() -> None:
    plain, stable = _bert(), _bert()
    apply_lora(plain, LoraSettings(r=16, alpha=8, target_modules=("query",)))
    apply_lora(stable, LoraSettings(r=16, alpha=8, target_modules=("query",), use_rslora=True))
    assert _scalings(plain) == {8 / 16}
    (scaling,) = _scalings(stable)
    assert scaling == pytest.approx(8 / math.sqrt(16))


def test_a_pattern_adapts_only_the_layers_it_matches() -> None:
    model = _bert()
    trainable = apply_lora(model, LoraSettings(target_pattern=r".*layer\.2\..*(query|value)", r=2))
    adapted = {name.split(".lora_")[0] for name in trainable}
    assert adapted == {
        "encoder.layer.2.attention.self.query",
        "encoder.layer.2.attention.self.value",
    }


def test_modules_to_save_train_in_full_and_survive_the_merge() -> None:
    model = _bert()
    trainable = apply_lora(
        model, LoraSettings(target_modules=("query",), modules_to_save=("pooler",))
    )
    assert {"pooler.dense.weight", "pooler.dense.bias"} <= set(trainable)
    assert not any(n.startswith("embeddings.") for n in trainable)
    with torch.no_grad():
        model.pooler.dense.weight.add_(1.0)  # as training would change it
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_()
    merged = merged_copy(model)
    assert torch.equal(merged.pooler.dense.weight, model.pooler.dense.weight)
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    with torch.no_grad():
        expected = model(input_ids=ids).pooler_output
        got = merged(input_ids=ids).pooler_output
    assert torch.allclose(got, expected, atol=1e-4), (got - expected).abs().max()
    assert not any("lora_" in name for name, _ in merged.named_parameters())


def test_unclear_or_wrong_lora_options_say_what_to_fix() -> None:
    with pytest.raises(ValueError, match=r"by name .* or by pattern .*, not both"):
        apply_lora(_bert(), LoraSettings(target_modules=("query",), target_pattern=".*value"))
    with pytest.raises(ValueError, match="'classifier', which is not a module of BertModel"):
        apply_lora(
            _bert(), LoraSettings(target_modules=("query",), modules_to_save=("classifier",))
        )


def test_lora_options_reach_peft_from_a_backbone_option() -> None:
    from mg.backbones import BertDNATiny

    backbone = BertDNATiny(
        finetune="lora",
        lora_r=4,
        lora_alpha=8,
        lora_options={"use_rslora": True, "target_pattern": r".*layer[.]1[.].*query"},
    )
    adapted = {name for name, _ in backbone.model.named_modules() if name.endswith("lora_A")}
    assert adapted and all(".layer.1." in name and "query" in name for name in adapted)
    assert _scalings(backbone.model) == {8 / math.sqrt(4)}


def test_an_unknown_lora_option_is_named_with_the_ones_there_are() -> None:
    from mg.backbones import BertDNATiny

    with pytest.raises(ValueError, match=r"lora_options has no \['rank'\].*use_rslora"):
        BertDNATiny(finetune="lora", lora_options={"rank": 4})
