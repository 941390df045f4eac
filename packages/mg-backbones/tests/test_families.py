"""Families: a tiny model saved to a folder loads back through model_path unchanged."""

from __future__ import annotations

import pytest
import torch

from mg.backbones import (
    ESM2,
    BertDNA,
    BertDNATiny,
    BertRNA,
    BertRNATiny,
    ESM2Tiny,
    HFBackbone,
    NucleotideTransformer,
    NucleotideTransformerTiny,
    OneHotDNA,
    OneHotProtein,
    OneHotRNA,
)
from mg.core.backbone import Capability, Modality

FAMILIES = [
    (ESM2, ESM2Tiny, ["MKTAYIAKQRQISFVK", "MKV", "ACDEFGHIKLMNPQRSTVWY"]),
    (NucleotideTransformer, NucleotideTransformerTiny, ["ACGTACGTACGTAC", "ACG", "GATTACANNACGT"]),
    (BertDNA, BertDNATiny, ["ACGTACGTAC", "ACG", "GATTACANNAC"]),
    (BertRNA, BertRNATiny, ["ACGUACGUAC", "ACG", "GAUUACANNAC"]),
]


@pytest.mark.parametrize(
    ("family", "tiny", "sequences"), FAMILIES, ids=[f[0].__name__ for f in FAMILIES]
)
@pytest.mark.parametrize("use_lm_head", [False, True], ids=["encoder", "lm_head"])
def test_tiny_saved_then_loaded_gives_identical_outputs(
    family, tiny, sequences, use_lm_head: bool, tmp_path
) -> None:
    built = tiny(use_lm_head, None).eval()
    built.save_pretrained(tmp_path)
    loaded = family(use_lm_head, None, model_path=str(tmp_path)).eval()
    batch = built.batch(sequences)
    assert torch.equal(loaded.batch(sequences).input_ids, batch.input_ids)
    with torch.no_grad():
        a = built(batch.input_ids, batch.attention_mask, all_hidden_states=True)
        b = loaded(batch.input_ids, batch.attention_mask, all_hidden_states=True)
    assert torch.equal(a.last_hidden_state, b.last_hidden_state)
    assert all(torch.equal(x, y) for x, y in zip(a.hidden_states, b.hidden_states, strict=True))
    assert torch.equal(a.special_tokens_mask, b.special_tokens_mask)
    if use_lm_head:
        with torch.no_grad():
            logits_a = built.get_decoder()(a.last_hidden_state)
            logits_b = loaded.get_decoder()(b.last_hidden_state)
        assert torch.equal(logits_a, logits_b)
    assert loaded.get_max_context() == built.get_max_context()
    assert loaded.get_alphabet_token_ids() == built.get_alphabet_token_ids()


def test_tiny_saved_without_head_loads_with_the_seeded_head(tmp_path) -> None:
    ESM2Tiny(False, None).save_pretrained(tmp_path)
    loaded = ESM2(True, None, model_path=str(tmp_path))
    reference = ESM2Tiny(True, None)
    for (name, a), (_, b) in zip(
        loaded.model.state_dict().items(), reference.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_tiny_weights_follow_the_seed_and_leave_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = ESM2Tiny(seed=0)
    assert torch.equal(torch.rand(1), expected_next)
    same, other = ESM2Tiny(seed=0), ESM2Tiny(seed=1)
    a, b, c = (m.model.state_dict() for m in (first, same, other))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_encoder_weights_do_not_depend_on_use_lm_head() -> None:
    with_head, without = BertDNATiny(True, None), BertDNATiny(False, None)
    encoder = with_head.encoder.state_dict()
    assert all(torch.equal(v, encoder[k]) for k, v in without.model.state_dict().items())


def test_capabilities_are_declared_honestly() -> None:
    lm = {Capability.MASKED_LM_HEAD, Capability.MASK_TOKEN}
    for cls in (ESM2, ESM2Tiny, BertDNA, BertDNATiny, BertRNA, BertRNATiny):
        assert cls.capabilities == frozenset(lm | {Capability.PER_RESIDUE_TOKENS}), cls
    for cls in (NucleotideTransformer, NucleotideTransformerTiny, HFBackbone):
        assert cls.capabilities == frozenset(lm), cls
    for cls in (OneHotDNA, OneHotRNA, OneHotProtein):
        assert cls.capabilities == frozenset({Capability.PER_RESIDUE_TOKENS}), cls
    assert ESM2.modality == ESM2Tiny.modality == OneHotProtein.modality == Modality.PROTEIN
    assert NucleotideTransformer.modality == BertDNA.modality == OneHotDNA.modality == Modality.DNA
    assert BertRNA.modality == BertRNATiny.modality == OneHotRNA.modality == Modality.RNA


def test_kmer_tokens_do_not_line_up_with_residues() -> None:
    backbone = NucleotideTransformerTiny()
    batch = backbone.batch(["ACGTACGTACGTA"])  # two 6-mers and one single nucleotide
    assert batch.residue_mask().sum().item() == 3
    assert backbone.decode_tokens(batch.input_ids) == ["ACGTACGTACGTA"]


def test_character_families_give_one_token_per_residue() -> None:
    for backbone, sequence in (
        (ESM2Tiny(), "MKTAYX"),
        (BertRNATiny(), "ACGUN"),
        (OneHotRNA(), "ACGUN"),
    ):
        batch = backbone.batch([sequence, sequence[:2]])
        assert batch.residue_mask().sum(1).tolist() == [len(sequence), 2]


def test_generation_alphabet_is_the_standard_residues() -> None:
    esm = ESM2Tiny()
    letters = esm.decode_tokens(torch.tensor([esm.get_alphabet_token_ids()]))[0]
    assert sorted(letters) == sorted("ACDEFGHIKLMNPQRSTVWY")
    dna = OneHotDNA()
    assert dna.decode_tokens(torch.tensor([dna.get_alphabet_token_ids()])) == ["ACGT"]
    nt = NucleotideTransformerTiny()
    assert len(nt.get_alphabet_token_ids()) == 4**6 + 4  # 6-mers and single nucleotides, no N


def test_one_hot_hidden_states_are_the_sequence() -> None:
    backbone = OneHotDNA()
    batch = backbone.batch(["ACGT", "GA"])
    out = backbone(batch.input_ids, batch.attention_mask)
    assert out.last_hidden_state.sum(-1).tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert out.last_hidden_state[0].argmax(-1).tolist() == batch.input_ids[0].tolist()
    assert backbone.get_decoder() is None and not list(backbone.parameters())
