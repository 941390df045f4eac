"""mg's AIDO models equal ModelGenerator's on the same weights and sequences.

The fixtures under ``fixtures/aido_*`` were written by ``tools/make_aido_fixtures.py``
with **ModelGenerator 0.1.3** (``modelgenerator==0.1.3.post0``, transformers 4.38):

- ``aido_rnabert``: ``modelgenerator.huggingface_models.rnabert.RNABertForMaskedLM``
  (the AIDO.DNA / AIDO.RNA architecture), tokenized by its ``RNABertTokenizer``;
- ``aido_fm4bio``: ``modelgenerator.huggingface_models.fm4bio.FM4BioForMaskedLM``
  (AIDO.Protein, dense layers), tokenized by its ``FM4BioTokenizer``;
- ``aido_fm4bio_moe``: the same class with a mixture of experts (as AIDO.Protein-16B).

Each folder is in the published layout (``config.json`` + ``model.safetensors``, the
published key names); ``reference.safetensors`` holds ModelGenerator's token ids, last
hidden states and masked-LM logits on a padded batch, ``source.json`` the versions.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mg.backbones.aido.families import AIDODNA, AIDORNA, AIDOProtein
from mg.backbones.aido.modeling import AIDOFMForMaskedLM, AIDOFMModel, AIDOForMaskedLM, AIDOModel

FIXTURES = Path(__file__).parent / "fixtures"

CASES = [
    pytest.param("aido_rnabert", AIDORNA, id="rnabert-as-AIDO.RNA"),
    pytest.param("aido_rnabert", AIDODNA, id="rnabert-as-AIDO.DNA"),
    pytest.param("aido_fm4bio", AIDOProtein, id="fm4bio"),
    pytest.param("aido_fm4bio_moe", AIDOProtein, id="fm4bio-moe"),
]


def _reference(name: str) -> tuple[dict[str, torch.Tensor], dict]:
    folder = FIXTURES / name
    source = json.loads((folder / "source.json").read_text())
    assert source["modelgenerator"].startswith("0.1.3")
    return load_file(folder / "reference.safetensors"), source


@pytest.mark.parametrize(("name", "family"), CASES)
@pytest.mark.parametrize("kernel", ["sdpa", "plain"])
def test_outputs_equal_modelgenerator(name: str, family: type, kernel: str) -> None:
    reference, source = _reference(name)
    sequences = source["sequences"]
    if family is AIDODNA:  # the DNA alphabet has no U
        sequences = [s.replace("U", "T") for s in sequences]
        keep = [i for i, s in enumerate(source["sequences"]) if "U" not in s]
    else:
        keep = list(range(len(sequences)))
    backbone = family(True, None, model_path=str(FIXTURES / name), max_length=64)
    backbone.model.base_model.set_attention_kernel(kernel)
    backbone.eval()
    batch = backbone.batch([sequences[i] for i in keep])
    ids = reference["input_ids"][keep]
    mask = reference["attention_mask"][keep].bool()
    width = int(mask.sum(1).max())
    assert torch.equal(batch.input_ids, ids[:, :width])
    with torch.no_grad():
        output = backbone(batch.input_ids, batch.attention_mask)
        logits = backbone.get_decoder()(output.last_hidden_state)
    real = mask[:, :width]
    hidden_ref = reference["last_hidden_state"][keep][:, :width]
    logits_ref = reference["logits"][keep][:, :width]
    torch.testing.assert_close(output.last_hidden_state[real], hidden_ref[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(logits[real], logits_ref[real], atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("name", "classes"),
    [
        ("aido_rnabert", (AIDOModel, AIDOForMaskedLM)),
        ("aido_fm4bio", (AIDOFMModel, AIDOFMForMaskedLM)),
        ("aido_fm4bio_moe", (AIDOFMModel, AIDOFMForMaskedLM)),
    ],
)
def test_published_layout_loads_without_missing_or_unexpected_keys(
    name: str,
    classes: tuple[type, type],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture,
) -> None:
    for cls in classes:
        with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
            warnings.simplefilter("always")
            model, info = cls.from_pretrained(FIXTURES / name, output_loading_info=True)
        assert not any(info.values()), info
        assert not caught, [str(w.message) for w in caught]
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert "UNEXPECTED" not in capsys.readouterr().out
        assert type(model) is cls


def test_padding_and_batch_mates_do_not_change_outputs() -> None:
    backbone = AIDOProtein(False, None, model_path=str(FIXTURES / "aido_fm4bio_moe"), max_length=64)
    backbone.eval()
    sequences = ["MKTAYIAKQRQISFVKSH", "WYV"]
    with torch.no_grad():
        together = backbone.batch(sequences)
        joint = backbone(together.input_ids, together.attention_mask).last_hidden_state
        alone = backbone.batch(sequences[1:])
        single = backbone(alone.input_ids, alone.attention_mask).last_hidden_state
    torch.testing.assert_close(joint[1, :4], single[0], atol=1e-5, rtol=0)
