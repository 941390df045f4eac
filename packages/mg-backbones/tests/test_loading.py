"""Loading from model_path: clear errors, offline use, and who wins among config values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from backbone_toys import TinyFolders

from mg.backbones import (
    ESM2,
    BackboneLoadError,
    BertDNATiny,
    ESM2Tiny,
    HFBackbone,
    ModelPathNotFoundError,
    NucleotideTransformer,
    loading,
)


@pytest.mark.parametrize("path", ["/nonexistent/esm2_weights", "./models/esm2", "~/no/such/mg"])
def test_missing_local_folder_says_nothing_is_there(path: str) -> None:
    with pytest.raises(ModelPathNotFoundError) as error:
        ESM2(model_path=path)
    message = str(error.value)
    assert repr(path) in message and "looks like a local folder" in message
    assert "nothing at" in message
    assert isinstance(error.value, FileNotFoundError)


def test_folder_without_a_model_and_a_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BackboneLoadError, match=r"without config\.json"):
        HFBackbone(model_path=str(tmp_path))
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"")
    with pytest.raises(BackboneLoadError, match="is a file"):
        HFBackbone(model_path=str(weights))


def test_folder_without_tokenizer_says_what_it_must_hold(tmp_path: Path) -> None:
    ESM2Tiny().model.save_pretrained(tmp_path)  # weights, but no tokenizer files
    with pytest.raises(BackboneLoadError, match="no tokenizer files"):
        ESM2(model_path=str(tmp_path))


@pytest.mark.parametrize(
    ("make", "hub_id"),
    [
        (
            lambda **kw: HFBackbone(model_path="facebook/esm2_t6_8M_UR50D", **kw),
            "facebook/esm2_t6_8M_UR50D",
        ),
        (lambda **kw: ESM2(**kw), "facebook/esm2_t30_150M_UR50D"),
        (
            lambda **kw: NucleotideTransformer(**kw),
            "InstaDeepAI/nucleotide-transformer-500m-human-ref",
        ),
    ],
)
def test_unreachable_hub_id_says_how_to_use_a_local_folder(
    make: Any, hub_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneLoadError) as error:
        make(cache_dir=str(tmp_path))
    message = str(error.value)
    assert repr(hub_id) in message
    assert "model_path" in message and "local folder" in message
    assert "HF_HUB_OFFLINE" in message
    assert isinstance(error.value, OSError)


def test_offline_mode_still_loads_local_folders(
    tiny_folders: TinyFolders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    backbone = ESM2(model_path=str(tiny_folders(ESM2Tiny)))
    assert backbone.get_embedding_size() == 32


def test_remote_code_is_off_unless_asked_for(
    tiny_folders: TinyFolders, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    load = loading.AutoConfig.from_pretrained

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["trust_remote_code"])
        return load(*args, **kwargs)

    monkeypatch.setattr(loading.AutoConfig, "from_pretrained", spy)
    folder = str(tiny_folders(ESM2Tiny))
    HFBackbone(model_path=folder)
    assert seen and not any(seen)
    seen.clear()
    HFBackbone(model_path=folder, trust_remote_code=True)
    assert seen and all(seen)


def test_user_config_overwrites_beat_task_defaults(tiny_folders: TinyFolders) -> None:
    task_defaults = {"hidden_dropout_prob": 0.3, "attention_probs_dropout_prob": 0.2}
    backbone = ESM2(
        False,
        task_defaults,
        model_path=str(tiny_folders(ESM2Tiny)),
        config_overwrites={"hidden_dropout_prob": 0.1},
    )
    config = backbone.model.config
    assert config.hidden_dropout_prob == 0.1  # the user's value
    assert config.attention_probs_dropout_prob == 0.2  # the task's default, not overwritten
    # ... and the model was built with them.
    layer = backbone.model.encoder.layer[0]
    assert layer.output.dropout.p == 0.1
    assert layer.attention.self.dropout == 0.2


def test_tiny_backbones_apply_the_same_precedence() -> None:
    backbone = BertDNATiny(
        False,
        {"hidden_dropout_prob": 0.3, "num_labels": 5},
        config_overwrites={"hidden_dropout_prob": 0.0},
    )
    assert backbone.model.config.hidden_dropout_prob == 0.0
    assert backbone.model.config.num_labels == 5


def test_misspelt_config_overwrite_is_an_error(tiny_folders: TinyFolders) -> None:
    with pytest.raises(ValueError, match=r"config_overwrites sets \['hiden_dropout_prob'\]"):
        ESM2(model_path=str(tiny_folders(ESM2Tiny)), config_overwrites={"hiden_dropout_prob": 0})


def test_max_length_defaults_to_the_model_context_and_cannot_exceed_it(
    tiny_folders: TinyFolders,
) -> None:
    folder = str(tiny_folders(ESM2Tiny))
    assert ESM2(model_path=folder).get_max_context() == ESM2Tiny().get_max_context() == 128
    assert ESM2(model_path=folder, max_length=20).batch(["A" * 50]).input_ids.shape[1] == 20
    with pytest.raises(ValueError, match=r"max_length=500 is more than the model takes \(128"):
        ESM2(model_path=folder, max_length=500)


def test_model_init_args_reach_from_pretrained(tiny_folders: TinyFolders) -> None:
    backbone = ESM2(
        model_path=str(tiny_folders(ESM2Tiny)), model_init_args={"dtype": torch.float64}
    )
    assert next(backbone.parameters()).dtype == torch.float64


def test_every_trainable_weight_gets_a_gradient(tiny_folders: TinyFolders) -> None:
    """Unused weights (a pooler, ESM's contact head) would stall distributed training."""
    for use_lm_head in (False, True):
        backbone = ESM2(use_lm_head, None, model_path=str(tiny_folders(ESM2Tiny)))
        batch = backbone.batch(["MKTAYIAK", "MKV"])
        hidden = backbone(batch.input_ids, batch.attention_mask).last_hidden_state
        out = backbone.get_decoder()(hidden) if use_lm_head else hidden
        out.pow(2).mean().backward()
        silent = [n for n, p in backbone.named_parameters() if p.requires_grad and p.grad is None]
        assert not silent, silent


def test_loaded_model_trains_with_its_dropout(tiny_folders: TinyFolders) -> None:
    """from_pretrained hands back a model in eval mode; Lightning would keep it there."""
    backbone = ESM2(
        model_path=str(tiny_folders(ESM2Tiny)), config_overwrites={"hidden_dropout_prob": 0.5}
    )
    assert backbone.training and backbone.model.training
    batch = backbone.batch(["MKTAYIAKQRQISFVK"])
    first = backbone(batch.input_ids, batch.attention_mask).last_hidden_state
    second = backbone(batch.input_ids, batch.attention_mask).last_hidden_state
    assert not torch.equal(first, second)
    backbone.eval()
    assert not backbone.model.training


class _RunsCode:
    def __reduce__(self) -> tuple:
        import os

        return (os.system, ("touch pwned",))


def test_read_weights_reads_tensors_only_and_names_a_file_it_cannot_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetensors.torch import save_file

    monkeypatch.chdir(tmp_path)
    with pytest.raises(BackboneLoadError, match="holds no weights"):
        loading.read_weights(tmp_path)
    # A torch file wins only where there is no safetensors file; the first pattern wins.
    torch.save({"w": torch.ones(2)}, tmp_path / "pytorch_model.bin")
    assert loading.read_weights(tmp_path)["w"].tolist() == [1.0, 1.0]
    save_file({"w": torch.zeros(2)}, str(tmp_path / "model.safetensors"))
    assert loading.read_weights(tmp_path)["w"].tolist() == [0.0, 0.0]
    crafted = tmp_path / "crafted"
    crafted.mkdir()
    torch.save({"w": _RunsCode()}, crafted / "pytorch_model.bin")
    with pytest.raises(BackboneLoadError, match=r"Could not read the weights file .*pytorch_model"):
        loading.read_weights(crafted)
    assert not (tmp_path / "pwned").exists()
