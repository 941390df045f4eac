"""mg's Enformer equals enformer-pytorch's on the same weights and windows.

The fixture ``fixtures/enformer_tiny`` was written by ``tools/make_enformer_fixtures.py``
with **enformer-pytorch 0.8.12** (transformers 4.56.2), class
``enformer_pytorch.modeling_enformer.Enformer`` (built with ``Enformer.from_hparams``:
dim 48, depth 1, 2 heads, 128-bp bins, target_length 4, heads human 3 / mouse 2; random
attention outputs, pools and norms; batch-norm statistics from three training passes).
It is laid out as the published ``EleutherAI/enformer-official-rough``: ``config.json``
and ``pytorch_model.bin`` with the module's own key names, ``_trunk.*`` aliases included.
``reference.safetensors`` holds the reference's one-hot windows, trunk embeddings (cropped
to 4 bins and uncropped) and both heads' outputs, computed in eval mode.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mg.backbones import Enformer, EnformerTiny
from mg.backbones.enformer.weights import from_published
from mg.backbones.loading import BackboneLoadError

FIXTURE = Path(__file__).parent / "fixtures" / "enformer_tiny"
ATOL = 1e-5


@pytest.fixture(scope="module")
def reference() -> dict[str, torch.Tensor]:
    return load_file(FIXTURE / "reference.safetensors")


@pytest.fixture(scope="module")
def windows() -> list[str]:
    source = json.loads((FIXTURE / "source.json").read_text())
    assert source["enformer-pytorch"] == "0.8.12"
    assert source["class"] == "enformer_pytorch.modeling_enformer.Enformer"
    return source["sequences"]


def _encode(backbone: Enformer, windows: list[str]) -> torch.Tensor:
    batch = backbone.batch(windows)
    with torch.no_grad():
        return backbone(batch.input_ids, batch.attention_mask).last_hidden_state


def test_embeddings_and_heads_equal_enformer_pytorch(
    reference: dict[str, torch.Tensor], windows: list[str]
) -> None:
    backbone = Enformer(model_path=str(FIXTURE)).eval()
    states = _encode(backbone, windows[:2])
    torch.testing.assert_close(states, reference["embeddings"], atol=ATOL, rtol=0)
    for head in ("human", "mouse"):
        with torch.no_grad():
            tracks = backbone.predict_tracks(states, head)
        torch.testing.assert_close(tracks, reference[head], atol=ATOL, rtol=0)
    # A window that is not a whole number of bins pads inside the pools as the reference does.
    torch.testing.assert_close(
        _encode(backbone, windows[2:]), reference["embeddings_short"], atol=ATOL, rtol=0
    )


def test_target_length_crops_the_central_bins_as_the_reference(
    reference: dict[str, torch.Tensor], windows: list[str]
) -> None:
    backbone = Enformer(model_path=str(FIXTURE), target_length=4).eval()
    states = _encode(backbone, windows[:2])
    torch.testing.assert_close(states, reference["embeddings_cropped"], atol=ATOL, rtol=0)
    with torch.no_grad():
        human = backbone.predict_tracks(states, "human")
    torch.testing.assert_close(human, reference["human_cropped"], atol=ATOL, rtol=0)


def test_one_hot_input_is_the_references_with_n_all_zero(
    reference: dict[str, torch.Tensor], windows: list[str]
) -> None:
    backbone = Enformer(model_path=str(FIXTURE))
    batch = backbone.batch(windows[:2])
    onehot = backbone.onehot_table[batch.input_ids]
    assert "N" in windows[1]
    assert torch.equal(onehot, reference["onehot"])
    assert not onehot[1][[c == "N" for c in windows[1]]].any()


def test_batch_mates_and_padding_never_change_an_output(windows: list[str]) -> None:
    backbone = Enformer(model_path=str(FIXTURE)).eval()
    mixed = [windows[2], windows[0], windows[1][:300], windows[1]]
    together = backbone.batch(mixed)
    with torch.no_grad():
        out = backbone(together.input_ids, together.attention_mask)
    for row, window in enumerate(mixed):
        alone = _encode(backbone, [window])[0]
        bins = alone.shape[0]
        assert out.attention_mask[row].sum() == bins == -(-len(window) // 128)
        torch.testing.assert_close(out.last_hidden_state[row, :bins], alone, atol=ATOL, rtol=0)


def test_the_published_layout_loads_with_every_key_and_saves_back(tmp_path: Path) -> None:
    published = torch.load(FIXTURE / "pytorch_model.bin", weights_only=True)
    backbone = Enformer(model_path=str(FIXTURE))
    assert set(from_published(published)) == set(backbone.model.state_dict())
    saved = backbone.save_pretrained(tmp_path / "saved")
    written = load_file(saved / "model.safetensors")
    # One name per tensor: the published names without the _trunk aliases.
    assert set(written) == {k for k in published if not k.startswith("_trunk.")}
    again = Enformer(model_path=str(saved))
    for key, value in backbone.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[key], value), key


def test_weights_that_do_not_fit_the_config_fail_before_use(tmp_path: Path) -> None:
    folder = tmp_path / "wrong"
    shutil.copytree(FIXTURE, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "depth": 2}))
    with pytest.raises(BackboneLoadError, match=r"missing \['transformer\.1\."):
        Enformer(model_path=str(folder))
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    with pytest.raises(BackboneLoadError, match="not an Enformer one"):
        Enformer(model_path=str(folder))


def test_a_hub_id_without_network_says_how_to_use_a_local_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneLoadError) as error:
        Enformer(cache_dir=str(tmp_path))
    message = str(error.value)
    assert "EleutherAI/enformer-official-rough" in message
    assert "set model_path to that local folder" in message


def test_frozen_lora_and_checkpointing() -> None:
    frozen = EnformerTiny(finetune="frozen")
    assert not any(p.requires_grad for p in frozen.parameters())
    lora = EnformerTiny(finetune="lora", lora_r=2)
    trainable = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_" in n for n in trainable)
    adapted = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable}
    assert adapted == {"query", "key", "value", "output"}
    # Checkpointing recomputes the transformer in the backward: same gradients.
    window = ["ACGTTGCA" * 64]
    grads = []
    for checkpointing in (False, True):
        backbone = EnformerTiny(gradient_checkpointing=checkpointing, seed=3)
        for module in backbone.modules():  # no dropout, so both runs are comparable
            if isinstance(module, torch.nn.Dropout):
                module.eval()
        batch = backbone.batch(window)
        backbone(batch.input_ids, batch.attention_mask).last_hidden_state.sum().backward()
        grads.append(backbone.model.transformer[0].attention.query.weight.grad)
    torch.testing.assert_close(grads[0], grads[1])


def test_training_runs_a_mixed_batch_as_one_and_masks_each_items_bins() -> None:
    backbone = EnformerTiny(max_length=1024).train()
    batch = backbone.batch(["ACGT" * 100, "ACGTN" * 10, "ACG"])
    out = backbone(batch.input_ids, batch.attention_mask)
    assert out.attention_mask.sum(1).tolist() == [4, 1, 1]  # ceil(length / 128)
    assert not out.last_hidden_state[~out.attention_mask].any()
    alone = backbone.batch(["ACG"])
    with pytest.raises(ValueError, match="larger batch_size or longer windows"):
        backbone(alone.input_ids, alone.attention_mask)
