"""mg's Borzoi and Flashzoi equal borzoi-pytorch's on the same weights and windows.

The fixtures ``fixtures/borzoi_tiny`` and ``fixtures/flashzoi_tiny`` were written by
``tools/make_borzoi_fixtures.py`` with **borzoi-pytorch 0.5.1** (transformers 4.57.6),
class ``borzoi_pytorch.pytorch_borzoi_model.Borzoi``: dim 32, depth 2, 4 heads, the
convolutions narrowed to 12-20 channels with borzoi-pytorch's own blocks, heads human 3 /
mouse 2, ``bins_to_return`` 24; random attention outputs, biases and norms; batch-norm
statistics from three training passes. They are laid out as the published
``johahi/borzoi-replicate-0`` and ``johahi/flashzoi-replicate-0`` (borzoi-pytorch's key
names; Borzoi in ``model.safetensors``, Flashzoi in ``pytorch_model.bin``).
``reference.safetensors`` holds the one-hot windows, the trunk embeddings (cropped to 24
bins and uncropped) and both heads' outputs, computed in eval mode. Flashzoi's reference
attention is flash-attn's ``MHA`` computed by a plain-PyTorch stand-in (flash-attn needs a
GPU), rotating 4 of each head's 8 features.

Measured when written (largest absolute difference to the reference): Borzoi embeddings
8.9e-8, heads 1.2e-7; Flashzoi embeddings 3.0e-8, heads 6.0e-8; 1e-5 is asserted here.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mg.backbones import Borzoi, BorzoiTiny, Flashzoi, FlashzoiTiny
from mg.backbones.borzoi.config import BorzoiConfig
from mg.backbones.borzoi.weights import from_published
from mg.backbones.loading import BackboneLoadError

FIXTURES = Path(__file__).parent / "fixtures"
CASES = [(Borzoi, FIXTURES / "borzoi_tiny"), (Flashzoi, FIXTURES / "flashzoi_tiny")]
IDS = ["Borzoi", "Flashzoi"]
ATOL = 1e-5


def _source(folder: Path) -> dict:
    source = json.loads((folder / "source.json").read_text())
    assert source["borzoi-pytorch"] == "0.5.1"
    assert source["class"] == "borzoi_pytorch.pytorch_borzoi_model.Borzoi"
    return source


def _encode(backbone: Borzoi, windows: list[str]) -> torch.Tensor:
    batch = backbone.batch(windows)
    with torch.no_grad():
        return backbone(batch.input_ids, batch.attention_mask).last_hidden_state


@pytest.mark.parametrize(("family", "folder"), CASES, ids=IDS)
def test_embeddings_and_heads_equal_borzoi_pytorch(family: type[Borzoi], folder: Path) -> None:
    reference = load_file(folder / "reference.safetensors")
    windows = _source(folder)["sequences"]
    backbone = family(model_path=str(folder)).eval()
    assert backbone.model.config.flashed == (family is Flashzoi)
    batch = backbone.batch(windows)
    assert torch.equal(backbone.onehot_table[batch.input_ids], reference["onehot"])
    states = _encode(backbone, windows)
    assert states.shape == (2, 1024 // 32, 16)
    torch.testing.assert_close(states, reference["embeddings"], atol=ATOL, rtol=0)
    for head in ("human", "mouse"):
        with torch.no_grad():
            tracks = backbone.predict_tracks(states, head)
        torch.testing.assert_close(tracks, reference[head], atol=ATOL, rtol=0)


@pytest.mark.parametrize(("family", "folder"), CASES, ids=IDS)
def test_target_length_crops_the_central_bins_as_the_reference(
    family: type[Borzoi], folder: Path
) -> None:
    reference = load_file(folder / "reference.safetensors")
    backbone = family(model_path=str(folder), target_length=24).eval()
    states = _encode(backbone, _source(folder)["sequences"])
    torch.testing.assert_close(states, reference["embeddings_cropped"], atol=ATOL, rtol=0)
    with torch.no_grad():
        human = backbone.predict_tracks(states, "human")
    torch.testing.assert_close(human, reference["human_cropped"], atol=ATOL, rtol=0)


@pytest.mark.parametrize(("family", "folder"), CASES, ids=IDS)
def test_the_published_layout_loads_with_every_key_and_saves_back(
    family: type[Borzoi], folder: Path, tmp_path: Path
) -> None:
    backbone = family(model_path=str(folder)).eval()
    saved = backbone.save_pretrained(tmp_path / "saved")
    assert set(load_file(saved / "model.safetensors")) == _published_keys(folder)
    again = family(model_path=str(saved)).eval()
    windows = _source(folder)["sequences"]
    assert torch.equal(_encode(again, windows), _encode(backbone, windows))


def _published_keys(folder: Path) -> set[str]:
    if (folder / "model.safetensors").is_file():
        return set(load_file(folder / "model.safetensors"))
    return set(torch.load(folder / "pytorch_model.bin", weights_only=True))


def test_flashzoi_splits_and_joins_the_fused_projection() -> None:
    folder = FIXTURES / "flashzoi_tiny"
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    config = BorzoiConfig.from_file(folder / "config.json")
    ours = from_published(state, config)
    fused = state["transformer.0.0.fn.1.mha.Wqkv.weight"]
    parts = [ours[f"transformer.0.attention.{p}.weight"] for p in ("query", "key", "value")]
    # 4 query heads and 2 key/value heads of 8 features.
    assert [p.shape[0] for p in parts] == [32, 16, 16]
    assert torch.equal(torch.cat(parts), fused)


def test_batch_mates_and_padding_never_change_an_output() -> None:
    folder = FIXTURES / "borzoi_tiny"
    windows = _source(folder)["sequences"]
    backbone = Borzoi(model_path=str(folder)).eval()
    mixed = [windows[1][:300], windows[0], windows[1][:700], windows[1]]
    together = backbone.batch(mixed)
    with torch.no_grad():
        out = backbone(together.input_ids, together.attention_mask)
    for row, window in enumerate(mixed):
        alone = _encode(backbone, [window])[0]
        bins = alone.shape[0]
        assert out.attention_mask[row].sum() == bins == -(-len(window) // 32)
        torch.testing.assert_close(out.last_hidden_state[row, :bins], alone, atol=ATOL, rtol=0)


def test_loading_a_folder_reads_weights_as_data_and_runs_no_code(tmp_path: Path) -> None:
    folder = tmp_path / "planted"
    shutil.copytree(FIXTURES / "flashzoi_tiny", folder)
    marker = tmp_path / "executed"
    code = f"open({str(marker)!r}, 'w').close()\n"
    (folder / "modeling_borzoi.py").write_text(code)
    (folder / "__init__.py").write_text(code)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_borzoi.Borzoi"}
    (folder / "config.json").write_text(json.dumps(config))
    Flashzoi(model_path=str(folder))
    assert not marker.exists()

    class Payload:  # unpickling this would run ``exec`` with the planted code
        def __reduce__(self) -> tuple:
            return (exec, (code,))

    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    with (folder / "pytorch_model.bin").open("wb") as handle:
        pickle.dump({**state, "payload": Payload()}, handle)
    with pytest.raises(BackboneLoadError, match="Could not read the weights file"):
        Flashzoi(model_path=str(folder))
    assert not marker.exists()


def test_weights_that_do_not_fit_the_config_fail_before_use(tmp_path: Path) -> None:
    folder = tmp_path / "wrong"
    shutil.copytree(FIXTURES / "borzoi_tiny", folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "depth": 3}))
    with pytest.raises(BackboneLoadError, match=r"missing \['transformer\.2\."):
        Borzoi(model_path=str(folder))
    (folder / "config.json").write_text(json.dumps({**config, "flashed": True}))
    with pytest.raises(BackboneLoadError, match="keys this Borzoi config does not have"):
        Borzoi(model_path=str(folder))
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "enformer"}))
    with pytest.raises(BackboneLoadError, match="not a Borzoi one"):
        Borzoi(model_path=str(folder))
    (folder / "config.json").write_text(json.dumps({**config, "tower_channels": [8] * 4}))
    with pytest.raises(BackboneLoadError, match="must be five positive widths"):
        Borzoi(model_path=str(folder))


@pytest.mark.parametrize("family", [Borzoi, Flashzoi])
def test_a_hub_id_without_network_says_how_to_use_a_local_folder(
    family: type[Borzoi], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneLoadError) as error:
        family(cache_dir=str(tmp_path))
    message = str(error.value)
    assert family.default_model_path in message
    assert "set model_path to that local folder" in message


@pytest.mark.parametrize("tiny", [BorzoiTiny, FlashzoiTiny])
def test_frozen_lora_and_checkpointing(tiny: type[BorzoiTiny]) -> None:
    frozen = tiny(finetune="frozen")
    assert not any(p.requires_grad for p in frozen.parameters())
    lora = tiny(finetune="lora", lora_r=2)
    trainable = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_" in n for n in trainable)
    adapted = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable}
    assert adapted == {"query", "key", "value", "output"}
    # Checkpointing recomputes the transformer in the backward: same gradients.
    window = ["ACGTTGCA" * 64]
    grads = []
    for checkpointing in (False, True):
        backbone = tiny(gradient_checkpointing=checkpointing, seed=3)
        for module in backbone.modules():  # no dropout, so both runs are comparable
            if isinstance(module, torch.nn.Dropout):
                module.eval()
        batch = backbone.batch(window)
        backbone(batch.input_ids, batch.attention_mask).last_hidden_state.sum().backward()
        grads.append(backbone.model.transformer[0].attention.query.weight.grad)
    torch.testing.assert_close(grads[0], grads[1])


def test_training_runs_a_mixed_batch_as_one_and_masks_each_items_bins() -> None:
    backbone = BorzoiTiny(max_length=1024).train()
    batch = backbone.batch(["ACGT" * 100, "ACGTN" * 10, "ACG"])
    out = backbone(batch.input_ids, batch.attention_mask)
    assert out.attention_mask.sum(1).tolist() == [13, 2, 1]  # ceil(length / 32)
    assert not out.last_hidden_state[~out.attention_mask].any()
