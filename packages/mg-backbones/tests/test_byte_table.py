"""The byte-table tokenizer gives exactly the ids of the Hugging Face tokenizer it stands for."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from transformers import BertTokenizer, EsmTokenizer, PreTrainedTokenizerFast

from mg.backbones import BertDNATiny, ESM2Tiny, NucleotideTransformerTiny, OneHotDNA, OneHotProtein
from mg.backbones.tokenization import (
    ESM_VOCAB,
    SequenceTokenizer,
    bert_char_tokenizer,
    esm_tokenizer,
    onehot_tokenizer,
)
from mg.core.alphabets import DNA, NUCLEOTIDE_AMBIGUITY, PROTEIN, PROTEIN_AMBIGUITY
from mg.core.padding import pad_tokens


def _sequences(letters: str, count: int, *, strays: str = "", seed: int = 0) -> list[str]:
    """Mixed-length sequences of ``letters`` in both cases, an empty one, and stray characters."""
    draw = random.Random(seed)
    pool = letters + letters.lower()
    rows = [letters[0], letters]
    for _ in range(count):
        chars = draw.choices(pool, k=draw.randint(1, 40))
        for _ in range(draw.randint(0, 2) if strays else 0):
            chars.insert(draw.randrange(len(chars) + 1), draw.choice(strays))
        rows.append("".join(chars))
    return rows


def _reference(tokenizer: SequenceTokenizer) -> SequenceTokenizer:
    """The same tokenizer without its byte table: the Hugging Face path."""
    copy = SequenceTokenizer.__new__(SequenceTokenizer)
    copy.__dict__.update(tokenizer.__dict__)
    copy.byte_table = None
    return copy


def _write_vocab(folder: Path, tokens: list[str] | tuple[str, ...]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(tokens), encoding="utf-8")
    return str(folder / "vocab.txt")


def _tokenizers(folder: Path) -> dict[str, SequenceTokenizer]:
    protein = {"residues": PROTEIN, "extra_residues": PROTEIN_AMBIGUITY}
    dna = {"residues": DNA, "extra_residues": NUCLEOTIDE_AMBIGUITY}
    # What published ESM-2 folders ship: transformers' slow Python EsmTokenizer.
    esm_slow = EsmTokenizer(_write_vocab(folder / "esm", ESM_VOCAB))
    bert_slow = BertTokenizer(
        _write_vocab(folder / "bert", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"ACGTN"]),
        do_lower_case=False,
    )
    return {
        "esm-fast": SequenceTokenizer(
            esm_tokenizer(), max_length=30, split_characters=True, **protein
        ),
        "esm-slow": SequenceTokenizer(esm_slow, max_length=30, split_characters=True, **protein),
        "esm-slow-whole": SequenceTokenizer(esm_slow, max_length=30, **protein),
        "esm-map": SequenceTokenizer(
            esm_slow, max_length=25, split_characters=True, unknown="map", **protein
        ),
        "bert-slow": SequenceTokenizer(bert_slow, max_length=20, split_characters=True, **dna),
        "bert-map": SequenceTokenizer(
            bert_char_tokenizer("ACGTN"), max_length=20, split_characters=True, unknown="map", **dna
        ),
        "onehot": SequenceTokenizer(onehot_tokenizer(DNA + "N"), max_length=15, **dna),
        "onehot-map": SequenceTokenizer(
            onehot_tokenizer(PROTEIN + PROTEIN_AMBIGUITY), max_length=35, unknown="map", **protein
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "esm-fast",
        "esm-slow",
        "esm-slow-whole",
        "esm-map",
        "bert-slow",
        "bert-map",
        "onehot",
        "onehot-map",
    ],
)
@pytest.mark.parametrize("add_special_tokens", [True, False])
def test_byte_table_gives_the_hugging_face_ids(
    name: str, add_special_tokens: bool, tmp_path: Path
) -> None:
    tokenizer = _tokenizers(tmp_path)[name]
    assert tokenizer.byte_table is not None, "a character vocabulary gets a byte table"
    reference = _reference(tokenizer)
    strays = "?*. 1#\t" if tokenizer.unknown == "map" else ""
    letters = tokenizer.accepted
    sequences = _sequences(letters, 200, strays=strays)
    # Sequences far longer than max_length are cut where the Hugging Face tokenizer cuts.
    sequences += [letters * 5, letters.lower() * 3]
    expected = reference(sequences, add_special_tokens)
    assert tokenizer(sequences, add_special_tokens) == expected
    ragged = tokenizer.encode_ragged(sequences, add_special_tokens)
    assert ragged.rows() == expected
    assert max(len(row) for row in expected) == tokenizer.max_length
    if isinstance(tokenizer.tokenizer, PreTrainedTokenizerFast):
        # transformers' slow tokenizers fail on an empty word list; the fast ones take it.
        with_empty = ["", *sequences[:5], ""]
        assert tokenizer(with_empty, add_special_tokens) == reference(
            with_empty, add_special_tokens
        )
    if tokenizer.unknown == "map":
        unk = tokenizer.special_token_id("unk")
        assert sum(row.count(unk) for row in expected) > 10  # the strays were really there


@pytest.mark.parametrize(
    "backbone", [OneHotProtein, OneHotDNA, ESM2Tiny, BertDNATiny], ids=lambda c: c.__name__
)
def test_backbone_batch_is_the_padded_hugging_face_rows(backbone: type) -> None:
    model = backbone(max_length=24)
    assert model.sequence_tokenizer.byte_table is not None
    sequences = _sequences(model.sequence_tokenizer.residues, 50)
    reference = _reference(model.sequence_tokenizer)
    for multiple in (None, 8):
        batch = model.batch(sequences, pad_to_multiple_of=multiple)
        expected = pad_tokens(
            reference(sequences),
            pad_id=model.get_special_token_id("pad"),
            special_ids=model.structural_token_ids(),
            pad_to_multiple_of=multiple,
        )
        assert torch.equal(batch.input_ids, expected.input_ids)
        assert torch.equal(batch.attention_mask, expected.attention_mask)
        assert torch.equal(batch.special_tokens_mask, expected.special_tokens_mask)


def test_byte_table_refuses_what_the_hugging_face_path_refuses(tmp_path: Path) -> None:
    tokenizer = _tokenizers(tmp_path)["esm-slow"]
    reference = _reference(tokenizer)
    bad = ["MKT", "MK?TA"]
    messages = []
    for each in (tokenizer, reference):
        with pytest.raises(ValueError, match=r"Sequence 1 holds '\?' at position 2") as error:
            each(bad)
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    with pytest.raises(ValueError, match=r"Sequence 1 holds '\?' at position 2"):
        tokenizer.encode_ragged(bad)
    strict = SequenceTokenizer(
        esm_tokenizer(), residues=PROTEIN, max_length=6, truncation="error", split_characters=True
    )
    assert strict.byte_table is not None
    assert strict(["MKTA", "MK"]) == _reference(strict)(["MKTA", "MK"])
    with pytest.raises(ValueError, match=r"Sequence 1 is 7 tokens long.*max_length=6"):
        strict.encode_ragged(["MKTA", "MKTAY"])


def test_text_that_is_not_ascii_takes_the_hugging_face_path() -> None:
    tokenizer = SequenceTokenizer(onehot_tokenizer(DNA), residues=DNA, max_length=16, unknown="map")
    assert tokenizer.byte_table is not None
    # 'ß' is two bytes in UTF-8 but one character: one unknown token, not two.
    (row,) = tokenizer(["ACßGT"])
    unk = tokenizer.special_token_id("unk")
    assert row == tokenizer(["AC?GT"])[0] and row.count(unk) == 1
    assert tokenizer.encode_ragged(["ACßGT"]).rows() == [row]


def test_vocabularies_that_merge_residues_get_no_byte_table(tmp_path: Path) -> None:
    assert NucleotideTransformerTiny().sequence_tokenizer.byte_table is None
    # A character WordPiece vocabulary handed whole words reads them as unknown: no table,
    # so the Hugging Face path keeps saying what is wrong.
    bert = BertTokenizer(
        _write_vocab(tmp_path, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"ACGTN"]),
        do_lower_case=False,
    )
    whole_words = SequenceTokenizer(bert, residues=DNA, max_length=16)
    assert whole_words.byte_table is None
    with pytest.raises(ValueError, match="split_characters=True"):
        whole_words(["ACGT"])
