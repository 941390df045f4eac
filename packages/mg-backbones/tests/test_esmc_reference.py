"""mg's ESM C equals EvolutionaryScale's on the same weights and token ids.

The fixture under ``fixtures/esmc_tiny`` was written by ``tools/make_esmc_fixtures.py``
with **esm 3.2.1** (``esm==3.2.1.post1``, transformers 4.48.1, torch 2.15): a tiny random
``esm.models.esmc.ESMC`` (``d_model=64, n_heads=4, n_layers=2``; the class behind
ESMC_300M and ESMC_600M), its norms perturbed away from 1 and 0. The folder is in the
published layout: ``data/weights/esmc_tiny_v0.pth``, a plain state dict with the package's
key names, and no config (so the test gives the head count). ``reference.safetensors``
holds the package's token ids (``EsmSequenceTokenizer``, padded batch), every layer's
output, the final embeddings and the sequence logits; ``source.json`` the versions.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mg.backbones import ESMC, BackboneLoadError, ESMCTiny
from mg.backbones.esmc.modeling import (
    ESMCForMaskedLM,
    ESMCModel,
    from_published,
    published_key,
)

FIXTURE = Path(__file__).parent / "fixtures" / "esmc_tiny"
HEADS = {"num_attention_heads": 4}  # the published layout has no config; see source.json


@pytest.fixture(scope="module")
def reference() -> dict[str, torch.Tensor]:
    return load_file(FIXTURE / "reference.safetensors")


@pytest.fixture(scope="module")
def source() -> dict:
    recorded = json.loads((FIXTURE / "source.json").read_text())
    assert recorded["esm"].startswith("3.2.1")
    assert recorded["class"] == "esm.models.esmc.ESMC"
    assert recorded["init"] == {"d_model": 64, "n_heads": 4, "n_layers": 2}
    return recorded


def _published(use_lm_head: bool = True) -> ESMC:
    return ESMC(use_lm_head, None, model_path=str(FIXTURE), config_overwrites=HEADS).eval()


def test_outputs_equal_the_esm_package(reference: dict[str, torch.Tensor], source: dict) -> None:
    backbone = _published()
    ids, real = reference["input_ids"], reference["attention_mask"].bool()
    assert bool((~real).any()), "the reference batch must hold padding"
    with torch.no_grad():
        output = backbone(ids, real, all_hidden_states=True)
        logits = backbone.get_decoder()(output.last_hidden_state)
    torch.testing.assert_close(
        output.last_hidden_state[real], reference["embeddings"][real], atol=1e-5, rtol=0
    )
    torch.testing.assert_close(logits[real], reference["logits"][real], atol=1e-5, rtol=0)
    # mg's hidden states are each layer's input; the package's each layer's output.
    layers = source["init"]["n_layers"]
    assert len(output.hidden_states) == layers + 1
    for index in range(layers - 1):
        torch.testing.assert_close(
            output.hidden_states[index + 1][real],
            reference[f"hidden_state_{index}"][real],
            atol=1e-5,
            rtol=0,
        )


def test_tokenizer_gives_the_esm_package_ids(
    reference: dict[str, torch.Tensor], source: dict
) -> None:
    backbone = _published(use_lm_head=False)
    tokenizer = backbone.tokenizer
    for row, sequence in enumerate(source["sequences"]):
        expected = reference["input_ids"][row][reference["attention_mask"][row]].tolist()
        # mg masks at the id level (tasks set the mask id), not by a "<mask>" in the text.
        ids = backbone.batch([sequence.replace("<mask>", "A")]).input_ids[0].tolist()
        if "<mask>" in sequence:
            ids[1 + sequence.index("<mask>")] = tokenizer.mask_token_id
        assert ids == expected, sequence
    assert (tokenizer.cls_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id) == (0, 1, 2)
    assert tokenizer.mask_token_id == 32
    with pytest.raises(ValueError, match="J"):
        backbone.batch(["MJV"])


def test_padding_and_batch_mates_never_change_an_output() -> None:
    backbone = _published()
    sequences = ["MKTAYIAKQRQISFVKSHFSRQ", "WYV", "MXBUZOACDE"]
    with torch.no_grad():
        together = backbone.batch(sequences)
        joint = backbone(together.input_ids, together.attention_mask).last_hidden_state
        for row, sequence in enumerate(sequences):
            alone = backbone.batch([sequence])
            single = backbone(alone.input_ids, alone.attention_mask).last_hidden_state[0]
            torch.testing.assert_close(joint[row, : single.shape[0]], single, atol=1e-5, rtol=0)


def test_every_published_key_is_mapped_and_none_is_left_over() -> None:
    state = torch.load(
        FIXTURE / "data" / "weights" / "esmc_tiny_v0.pth", map_location="cpu", weights_only=True
    )
    assert all(published_key(name) is not None for name in state)
    backbone = _published()
    assert isinstance(backbone.model, ESMCForMaskedLM)
    assert {published_key(name) for name in state} == set(backbone.model.state_dict())
    extra = {**state, "transformer.blocks.0.attn.extra.weight": torch.zeros(1)}
    with pytest.raises(ValueError, match=r"attn\.extra\.weight"):
        from_published(extra, backbone.model.config)
    missing = {k: v for k, v in state.items() if k != "transformer.norm.weight"}
    with pytest.raises(ValueError, match=r"esmc\.norm\.weight"):
        from_published(missing, backbone.model.config)


def test_a_checkpoint_saved_by_mg_reloads_with_the_same_outputs(tmp_path: Path) -> None:
    published = _published()
    published.save_pretrained(tmp_path / "from_published")
    tiny = ESMCTiny(True, None, max_length=64).eval()
    tiny.save_pretrained(tmp_path / "tiny")
    for original, folder in ((published, "from_published"), (tiny, "tiny")):
        loaded = ESMC(True, None, model_path=str(tmp_path / folder)).eval()
        batch = original.batch(["MKTAYIAKQRQ", "WYV"])
        with torch.no_grad():
            expected = original(batch.input_ids, batch.attention_mask).last_hidden_state
            got = loaded(batch.input_ids, batch.attention_mask).last_hidden_state
        assert torch.equal(got, expected), folder


def test_unknown_size_asks_for_the_head_count_by_name() -> None:
    with pytest.raises(ValueError, match="num_attention_heads"):
        ESMC(False, None, model_path=str(FIXTURE))


def test_model_init_args_beyond_dtype_are_refused_before_loading() -> None:
    with pytest.raises(ValueError, match="attn_implementation"):
        ESMC(
            False,
            None,
            model_path=str(FIXTURE),
            config_overwrites=HEADS,
            model_init_args={"attn_implementation": "eager"},
        )
    half = ESMC(
        False,
        None,
        model_path=str(FIXTURE),
        config_overwrites=HEADS,
        model_init_args={"dtype": "bfloat16"},
    )
    assert {p.dtype for p in half.parameters()} == {torch.bfloat16}


def test_a_hub_id_without_network_says_how_to_use_a_local_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneLoadError, match="--local-dir") as caught:
        ESMC(False, None, cache_dir=str(tmp_path))
    assert "EvolutionaryScale/esmc-300m-2024-12" in str(caught.value)
    assert "model_path" in str(caught.value)


def test_a_missing_local_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing at"):
        ESMC(False, None, model_path=str(tmp_path / "absent"))


def test_a_folder_without_either_layout_names_both(tmp_path: Path) -> None:
    with pytest.raises(BackboneLoadError, match="data/weights"):
        ESMC(False, None, model_path=str(tmp_path))


@pytest.mark.parametrize("cls", [ESMCModel, ESMCForMaskedLM])
def test_a_folder_saved_by_mg_loads_without_missing_or_unexpected_keys(
    cls: type,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture,
) -> None:
    _published().save_pretrained(tmp_path)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        model, info = cls.from_pretrained(tmp_path, output_loading_info=True)
    assert not any(info.values()), info
    assert not caught, [str(w.message) for w in caught]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "UNEXPECTED" not in capsys.readouterr().out
    assert type(model) is cls
