"""Tokenizers built offline, and the sequence checks every backbone shares."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, EsmTokenizer

from mg.backbones import BertDNA, ESM2Tiny, HFBackbone, NucleotideTransformerTiny, OneHotDNA
from mg.backbones.tokenization import (
    ESM_VOCAB,
    SequenceTokenizer,
    bert_char_tokenizer,
    esm_tokenizer,
    kmer_tokenizer,
)

PROTEINS = ["MKTAYIAKQRQISFVKSHFSRQ", "ACDEFGHIKLMNPQRSTVWYXBUZO", "M"]
DNA = ["ACGTACGTAC", "ACGNTTAAGGC", "A", "GATTACAGATTACANNAC"]


def _write_vocab(folder: Path, tokens: list[str] | tuple[str, ...]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(tokens), encoding="utf-8")
    return folder / "vocab.txt"


def test_esm_tokenizer_gives_the_ids_of_transformers_own_esm_tokenizer(tmp_path: Path) -> None:
    reference = EsmTokenizer(str(_write_vocab(tmp_path, ESM_VOCAB)))
    ours = esm_tokenizer()
    for sequence in PROTEINS:
        assert ours(sequence)["input_ids"] == reference(sequence)["input_ids"]
    assert ours.mask_token_id == reference.mask_token_id == 32
    assert ours.pad_token_id == reference.pad_token_id == 1


def test_kmer_tokenizer_splits_like_nucleotide_transformers_tokenizer(tmp_path: Path) -> None:
    ours = kmer_tokenizer(6)
    vocab = sorted(ours.get_vocab(), key=ours.get_vocab().get)
    # NT checkpoints ship an EsmTokenizer over their k-mer vocabulary.
    reference = EsmTokenizer(str(_write_vocab(tmp_path, vocab)))
    for sequence in DNA:
        expected = reference(sequence, add_special_tokens=False)["input_ids"]
        assert ours(sequence, add_special_tokens=False)["input_ids"] == expected
    tokens = ours.convert_ids_to_tokens(ours("ACGTACGTACGTA")["input_ids"])
    assert tokens == ["<cls>", "ACGTAC", "GTACGT", "A"]


@pytest.mark.parametrize(
    "build", [esm_tokenizer, lambda: bert_char_tokenizer("ACGU"), lambda: kmer_tokenizer(3)]
)
def test_built_tokenizers_round_trip_through_a_folder(build, tmp_path: Path) -> None:
    tokenizer = build()
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    sequences = ["ACGAC", "CAGGA", "A"]
    assert loaded(sequences)["input_ids"] == tokenizer(sequences)["input_ids"]
    assert loaded.all_special_tokens == tokenizer.all_special_tokens


def _dna_tokenizer(**options) -> SequenceTokenizer:
    return SequenceTokenizer(
        bert_char_tokenizer("ACGTN"),
        residues="ACGT",
        extra_residues="N",
        max_length=12,
        name="BertDNA",
        split_characters=True,
        **options,
    )


def test_invalid_character_names_sequence_position_and_character() -> None:
    tokenizer = _dna_tokenizer()
    with pytest.raises(ValueError) as error:
        tokenizer(["ACGT", "ACGT", "ACXGT"])
    message = str(error.value)
    assert "Sequence 2" in message and "'X'" in message and "position 2" in message
    assert "unknown='map'" in message


def test_unknown_map_reads_bad_characters_as_the_unknown_token() -> None:
    tokenizer = _dna_tokenizer(unknown="map")
    (row,) = tokenizer(["AC?GT"])
    unk = tokenizer.special_token_id("unk")
    assert row[3] == unk
    # The unknown token stands for a residue: it is not a special token.
    assert sum(i not in tokenizer.structural_ids for i in row) == 5


def test_unknown_map_in_kmer_sequences() -> None:
    backbone = NucleotideTransformerTiny(unknown="map")
    tokens = backbone.tokenizer.convert_ids_to_tokens(backbone.tokenize(["ACGTAC?ACGTAC"])[0])
    assert tokens == ["<cls>", "ACGTAC", "<unk>", "ACGTAC"]


def test_lower_case_reads_as_upper_case() -> None:
    tokenizer = _dna_tokenizer()
    assert tokenizer(["acgtn", "AcGtN"]) == tokenizer(["ACGTN", "ACGTN"])


def test_truncation_cut_keeps_special_tokens_and_error_names_the_sequence() -> None:
    cut = _dna_tokenizer()
    (row,) = cut(["ACGT" * 10])
    assert len(row) == 12
    assert cut.decode([row]) == ["ACGT" * 2 + "AC"]
    assert [i in cut.structural_ids for i in row] == [True] + [False] * 10 + [True]
    strict = _dna_tokenizer(truncation="error")
    assert len(strict(["ACGT" * 2])[0]) == 10
    with pytest.raises(ValueError, match=r"Sequence 1 is 42 tokens long.*max_length=12"):
        strict(["ACGT", "ACGT" * 10])


def test_mask_and_unknown_tokens_are_residues_cls_eos_pad_are_special() -> None:
    backbone = ESM2Tiny()
    mask, unk = backbone.get_special_token_id("mask"), backbone.get_special_token_id("unk")
    ids = torch.tensor([[0, 5, mask, unk, 2, 1]])
    special = backbone.special_tokens_mask(ids, ids != 1)
    assert special.tolist() == [[True, False, False, False, True, True]]


def test_empty_batch_and_single_string_input() -> None:
    backbone = OneHotDNA()
    assert backbone.tokenize([]) == []
    assert backbone.batch([]).input_ids.shape == (0, 0)
    with pytest.raises(TypeError, match="list of sequences"):
        backbone.tokenize("ACGT")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of sequences"):
        backbone.batch("ACGT")  # type: ignore[arg-type]


def test_tokenizer_without_a_family_residue_is_refused() -> None:
    with pytest.raises(ValueError, match=r"no token for the residues \['U'\]"):
        SequenceTokenizer(bert_char_tokenizer("ACGT"), residues="ACGU", max_length=8)


BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _save_wordpiece_bert(folder: Path, words: list[str]) -> None:
    """Save a tiny random BertForMaskedLM with a WordPiece vocab.txt of ``words``."""
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer

    BertTokenizer(str(_write_vocab(folder, words)), do_lower_case=False).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    BertForMaskedLM(config).save_pretrained(folder)


def test_bert_family_reads_a_classic_wordpiece_vocabulary(tmp_path: Path) -> None:
    """A BERT checkpoint with a vocab.txt of single characters, as published models ship."""
    _save_wordpiece_bert(tmp_path, [*BERT_SPECIALS, *"ACGTN"])
    backbone = BertDNA(model_path=str(tmp_path))
    assert type(backbone.tokenizer).__name__ == "BertTokenizer"
    batch = backbone.batch(["ACGTN", "GA"])
    # Without one word per character, WordPiece would read "ACGTN" as one unknown word.
    assert batch.input_ids[0].tolist() == [2, 5, 6, 7, 8, 9, 3]
    assert backbone.decode_tokens(batch.input_ids) == ["ACGTN", "GA"]
    # The generic backbone does not know the vocabulary is character-level: it says so.
    generic = HFBackbone(model_path=str(tmp_path))
    with pytest.raises(ValueError, match="split_characters=True"):
        generic.tokenize(["ACGTN"])
    assert HFBackbone(model_path=str(tmp_path), split_characters=True).tokenize(["ACGTN"]) == [
        [2, 5, 6, 7, 8, 9, 3]
    ]


def test_generic_backbone_on_a_real_bert_vocabulary_with_non_ascii_letters(
    tmp_path: Path,
) -> None:
    """Published BERT vocabularies hold 'ß' (upper case 'SS') and ligatures like 'ﬁ'."""
    _save_wordpiece_bert(tmp_path, [*BERT_SPECIALS, *"ACGTN", "ß", "ﬁ", "ﬂ", "é", "the"])
    backbone = HFBackbone(model_path=str(tmp_path), split_characters=True)
    # The alphabet is the vocabulary's ASCII letters; 'ß', 'ﬁ', 'ﬂ', 'é' are not residues.
    assert backbone.accepted_characters() == "ACGNT"
    assert backbone.tokenize(["ACGTN", "acg"]) == [[2, 5, 6, 7, 8, 9, 3], [2, 5, 6, 7, 3]]
    assert backbone.find_invalid(["ACGT", "ACﬁGT"]) == (1, 2, "ﬁ")
    with pytest.raises(ValueError, match=r"Sequence 1 holds 'ß' at position 3"):
        backbone.tokenize(["ACGT", "ACGß"])


def test_alphabet_must_be_ascii_and_says_so() -> None:
    with pytest.raises(ValueError, match="must be ASCII; 'ß' is not"):
        SequenceTokenizer(bert_char_tokenizer("ACGTß"), residues="ACGTß", max_length=8)


def test_declared_alphabet_is_known_from_the_class_where_fixed() -> None:
    assert OneHotDNA.declared_alphabet() == "ACGTN"
    assert ESM2Tiny.declared_alphabet() == "ACDEFGHIKLMNPQRSTVWYXBUZO"
    assert BertDNA.declared_alphabet() == "ACGTN"
    assert HFBackbone.declared_alphabet() is None  # read from the loaded vocabulary
