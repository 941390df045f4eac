"""LoRA adapters in PEFT's own format: a PEFT-saved adapter gives the same outputs in mg,
mg's saved adapter gives the same outputs in PEFT, for LoRA and DoRA."""

from __future__ import annotations

import json
from pathlib import Path

import peft
import pytest
import torch
from transformers import BertConfig, BertModel

from mg.backbones.finetuning import LoraSettings, apply_lora
from mg.backbones.peft_format import load_peft_adapter, save_peft_adapter

TOKENS = torch.tensor([[2, 5, 7, 3, 9, 4], [2, 8, 8, 6, 3, 0]])
MASK = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]])


def _bert() -> BertModel:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=12,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    return BertModel(config).eval()


def _out(model: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=TOKENS, attention_mask=MASK).last_hidden_state


def _peft_saved(folder: Path, use_dora: bool) -> torch.Tensor:
    """An adapter trained (here: randomly set) and saved by PEFT itself; its outputs."""
    config = peft.LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["query", "value"],
        init_lora_weights=False,  # non-zero B: the adapter changes the outputs
        use_dora=use_dora,
    )
    model = peft.get_peft_model(_bert(), config).eval()
    model.save_pretrained(str(folder))
    return _out(model)


@pytest.mark.parametrize("use_dora", [False, True])
def test_a_peft_saved_adapter_gives_the_same_outputs_in_mg(tmp_path: Path, use_dora: bool) -> None:
    expected = _peft_saved(tmp_path / "adapter", use_dora)
    base = _out(_bert())
    model = _bert()
    trainable = apply_lora(model, LoraSettings(init_from=str(tmp_path / "adapter")))
    model.eval()
    assert not torch.allclose(expected, base, atol=1e-4)  # the adapter does something
    torch.testing.assert_close(_out(model), expected, rtol=1e-5, atol=1e-6)
    assert trainable and all(".lora_" in name for name in trainable)
    assert any("lora_magnitude_vector" in n for n in trainable) == use_dora


@pytest.mark.parametrize("use_dora", [False, True])
def test_mg_saves_an_adapter_that_peft_loads_with_the_same_outputs(
    tmp_path: Path, use_dora: bool
) -> None:
    model = _bert()
    apply_lora(
        model, LoraSettings(r=4, alpha=8, target_modules=("query", "key"), use_dora=use_dora)
    )
    # As after training: B away from its zero start.
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if ".lora_B." in name:
                parameter.normal_(std=0.3)
    model.eval()
    expected = _out(model)
    folder = save_peft_adapter(model, tmp_path / "mine")
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["r"] == 4
    assert config["use_dora"] is use_dora
    loaded = peft.PeftModel.from_pretrained(_bert(), str(folder)).eval()
    torch.testing.assert_close(_out(loaded), expected, rtol=1e-5, atol=1e-6)
    # And back into mg.
    again = _bert()
    load_peft_adapter(again, folder)
    torch.testing.assert_close(_out(again.eval()), expected, rtol=1e-5, atol=1e-6)


def test_an_adapter_of_another_model_is_refused_in_one_message(tmp_path: Path) -> None:
    _peft_saved(tmp_path / "adapter", use_dora=False)
    torch.manual_seed(0)
    wider = BertModel(
        BertConfig(
            vocab_size=12,
            hidden_size=24,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=32,
        )
    )
    with pytest.raises(ValueError, match="does not fit BertModel"):
        load_peft_adapter(wider, tmp_path / "adapter")


def test_a_folder_without_the_adapter_files_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="is not a PEFT adapter folder: it has no"):
        load_peft_adapter(_bert(), tmp_path)
