"""A new backbone family is one short class: it passes the contract, `mg list` and the matrix.

The family below is what a contributor writes for a character-level BERT protein model:
class attributes only, no copied ``__init__``. Registering it in-process (an entry point
added to what the registry reads) stands in for installing a package that declares it.
"""

from __future__ import annotations

import inspect
from importlib import metadata
from pathlib import Path

import pytest
from transformers import BertConfig, BertForMaskedLM

from mg.backbones import BackboneLoadError, HFBackbone
from mg.backbones.tokenization import bert_char_tokenizer
from mg.cli.main import main
from mg.cli.matrix import compute_matrix
from mg.core import registry
from mg.core.alphabets import PROTEIN, PROTEIN_AMBIGUITY
from mg.core.backbone import BackboneInterface, Capability, Modality
from mg.core.testing.contracts import BackboneContract


class ProtBert(HFBackbone):
    """A character-level BERT protein language model, one token per amino acid."""

    modality = Modality.PROTEIN
    capabilities = HFBackbone.capabilities | {Capability.PER_RESIDUE_TOKENS}
    residues, extra_residues = PROTEIN, PROTEIN_AMBIGUITY
    character_level = True
    lora_target_modules = ("query", "value")
    default_model_path = "Rostlab/prot_bert"


def test_the_family_is_one_short_class_with_the_shared_signature() -> None:
    assert len(inspect.getsource(ProtBert).splitlines()) <= 10
    assert "__init__" not in ProtBert.__dict__
    assert inspect.signature(ProtBert) == inspect.signature(HFBackbone)


@pytest.fixture(scope="module")
def protbert_folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny random BERT with a protein vocabulary, saved as published weights would be."""
    folder = tmp_path_factory.mktemp("protbert")
    tokenizer = bert_char_tokenizer(PROTEIN + PROTEIN_AMBIGUITY)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
    )
    BertForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


class TestProtBert(BackboneContract):
    @pytest.fixture(autouse=True)
    def _folder(self, protbert_folder: str) -> None:
        self.folder = protbert_folder

    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        return ProtBert(use_lm_head, None, model_path=self.folder, max_length=48)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register ProtBert as an entry point of the mg.backbones group, in this process."""
    entry = metadata.EntryPoint("ProtBert", f"{__name__}:ProtBert", "mg.backbones")
    real = metadata.entry_points

    def entry_points(**select: str) -> metadata.EntryPoints:
        found = real(**select)
        if select.get("group") != "mg.backbones":
            return found
        return metadata.EntryPoints([*found, entry])

    monkeypatch.setattr(registry.metadata, "entry_points", entry_points)


@pytest.mark.usefixtures("registered")
def test_the_family_appears_in_mg_list_and_the_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "backbones"]) == 0
    assert "ProtBert" in capsys.readouterr().out
    cells = {(r.task, r.adapter): r for r in compute_matrix() if r.backbone == "ProtBert"}
    assert cells
    # One token per residue and a masked-LM head: token-level and generative tasks fit.
    token = [r for (task, _), r in cells.items() if task == "TokenClassification"]
    assert token and all(r.compatible for r in token)
    assert all(r.compatible for (task, _), r in cells.items() if task == "MLM")


def test_without_model_path_the_family_default_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # nothing cached: the error names the path tried
    with pytest.raises(BackboneLoadError, match="'Rostlab/prot_bert'"):
        ProtBert(cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="HFBackbone needs model_path"):
        HFBackbone()
