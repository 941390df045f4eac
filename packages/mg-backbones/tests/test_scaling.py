"""What scaling out relies on: each backbone names its layers, and activation checkpointing
trades time for memory without changing a gradient."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import AlbertConfig, AlbertForMaskedLM
from transformers.models.bert.modeling_bert import BertLayer
from transformers.models.esm.modeling_esm import EsmLayer

from mg.backbones import (
    BertDNA,
    BertDNATiny,
    ESM2Tiny,
    HFBackbone,
    NucleotideTransformerTiny,
    OneHotDNA,
)
from mg.backbones.huggingface import TransformersBackbone
from mg.backbones.tokenization import bert_char_tokenizer

SEQUENCES = {
    ESM2Tiny: ["MKTAYIAKQR", "MKV"],
    BertDNATiny: ["ACGTACGGTA", "ACG"],
    NucleotideTransformerTiny: ["ACGTACGGTACCGTAA", "ACGTAC"],
}


@pytest.mark.parametrize(
    ("tiny", "layer"),
    [(ESM2Tiny, EsmLayer), (NucleotideTransformerTiny, EsmLayer), (BertDNATiny, BertLayer)],
)
@pytest.mark.parametrize("finetune", ["full", "lora"])
@pytest.mark.parametrize("use_lm_head", [False, True])
def test_layer_classes_are_the_repeated_transformer_blocks(
    tiny: type[TransformersBackbone], layer: type[nn.Module], finetune: str, use_lm_head: bool
) -> None:
    backbone = tiny(use_lm_head, None, num_layers=3, finetune=finetune)
    assert backbone.layer_classes() == {layer}
    # Exactly the encoder's blocks: not the embeddings, which _no_split_modules also lists.
    found = [m for m in backbone.modules() if type(m) in backbone.layer_classes()]
    assert len(found) == backbone.get_num_layer() == 3


def test_layer_classes_of_a_loaded_lora_backbone(tiny_folders) -> None:
    folder = tiny_folders(BertDNATiny)
    backbone = BertDNA(model_path=str(folder), finetune="lora")
    assert backbone.layer_classes() == {BertLayer}


def test_layer_classes_without_hugging_face() -> None:
    """A plain torch backbone's stack of identical blocks is found; one-hot has none."""
    assert OneHotDNA(False, None).layer_classes() == set()

    class Stack(OneHotDNA):
        def __init__(self) -> None:
            super().__init__(False, None)
            self.blocks = nn.ModuleList(
                nn.TransformerEncoderLayer(8, 2, batch_first=True) for _ in range(2)
            )
            self.heads = nn.ModuleList([nn.Linear(8, 1), nn.ReLU()])  # mixed: not layers

    assert Stack().layer_classes() == {nn.TransformerEncoderLayer}


def _gradients(
    tiny: type[TransformersBackbone], checkpointing: bool, finetune: str
) -> tuple[dict[str, torch.Tensor], int]:
    """Trainable gradients of one backward pass, and how often a layer's attention ran."""
    backbone = tiny(False, None, gradient_checkpointing=checkpointing, finetune=finetune)
    backbone.train()
    block = next(m for m in backbone.modules() if type(m) in backbone.layer_classes())
    inner = next(iter(block.children()))
    runs = []
    inner.register_forward_hook(lambda *_: runs.append(1))
    tokens = backbone.batch(SEQUENCES[tiny])
    torch.manual_seed(1)  # BERT's dropout draws: the recompute must replay them exactly
    output = backbone(tokens.input_ids, tokens.attention_mask)
    output.last_hidden_state.pow(2).mean().backward()
    grads = {n: p.grad.clone() for n, p in backbone.named_parameters() if p.requires_grad}
    return grads, len(runs)


@pytest.mark.parametrize("tiny", [ESM2Tiny, BertDNATiny, NucleotideTransformerTiny])
@pytest.mark.parametrize("finetune", ["full", "lora"])
def test_gradient_checkpointing_recomputes_and_keeps_gradients(
    tiny: type[TransformersBackbone], finetune: str
) -> None:
    plain, plain_runs = _gradients(tiny, False, finetune)
    checkpointed, checkpointed_runs = _gradients(tiny, True, finetune)
    assert plain_runs == 1
    assert checkpointed_runs == 2, "the layer was not recomputed in the backward pass"
    assert plain.keys() == checkpointed.keys()
    # LoRA's B starts at zero, so A's first gradient is zero; B's and the rest are not.
    assert sum(bool(g.abs().sum() > 0) for g in plain.values()) >= len(plain) // 2
    for name, gradient in plain.items():
        torch.testing.assert_close(checkpointed[name], gradient, rtol=1e-5, atol=1e-7)


def test_gradient_checkpointing_is_not_used_in_evaluation() -> None:
    backbone = BertDNATiny(False, None, gradient_checkpointing=True).eval()
    tokens = backbone.batch(SEQUENCES[BertDNATiny])
    with torch.no_grad():
        first = backbone(tokens.input_ids, tokens.attention_mask).last_hidden_state
    reference = BertDNATiny(False, None).eval()
    with torch.no_grad():
        second = reference(tokens.input_ids, tokens.attention_mask).last_hidden_state
    torch.testing.assert_close(first, second)


def test_gradient_checkpointing_with_a_frozen_backbone_warns() -> None:
    with pytest.warns(UserWarning, match="nothing to save with finetune='frozen'"):
        BertDNATiny(False, None, finetune="frozen", gradient_checkpointing=True)


def test_gradient_checkpointing_is_refused_for_a_model_without_it(tmp_path: Path) -> None:
    """ALBERT shares one layer across depths and transformers cannot checkpoint it."""
    tokenizer = bert_char_tokenizer("ACGT")
    config = AlbertConfig(
        vocab_size=len(tokenizer),
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
    )
    AlbertForMaskedLM(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert HFBackbone(model_path=str(tmp_path), split_characters=True).get_num_layer() == 2
    with pytest.raises(ValueError) as error:
        HFBackbone(model_path=str(tmp_path), split_characters=True, gradient_checkpointing=True)
    message = str(error.value)
    assert "gradient_checkpointing=true" in message
    assert "AlbertModel" in message
    assert "does not support activation checkpointing" in message
    assert "bf16-mixed" in message  # the way out


def test_slim_checkpoints_keep_lora_weights_of_wrapped_layers() -> None:
    """Wrappers (activation checkpointing, FSDP) add segments to parameter names, not to
    the checkpoint's keys: the LoRA weights must still be kept and the frozen ones left out."""
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import (
        apply_activation_checkpointing,
    )

    backbone = BertDNATiny(False, None, finetune="lora")
    classes = tuple(backbone.layer_classes())
    apply_activation_checkpointing(backbone, check_fn=lambda m: isinstance(m, classes))
    assert any("_checkpoint_wrapped_module" in n for n, _ in backbone.named_parameters())
    state = {f"backbone.{k}": v for k, v in backbone.state_dict().items()}
    assert not any("_checkpoint_wrapped_module" in key for key in state)
    checkpoint = {"state_dict": dict(state)}
    dropped = backbone.on_save_checkpoint(checkpoint, "backbone.")
    kept = set(checkpoint["state_dict"])
    assert kept and all(".lora_" in key for key in kept)
    assert sum(".lora_" in key for key in state) == len(kept)
    assert set(dropped) == set(state) - kept
