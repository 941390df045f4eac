"""Padding token ids and labels in one place, and the vectorised alphabet check."""

from __future__ import annotations

import pytest
import torch

from mg.core import pad_labels, pad_tokens
from mg.core.alphabets import DNA, PROTEIN, RESIDUES, AlphabetCheck
from mg.core.backbone import Modality
from mg.core.padding import RaggedIds, pad_ragged
from mg.core.testing import ToyBackbone


def test_pad_tokens_pads_right_and_marks_specials_and_padding() -> None:
    batch = pad_tokens([[1, 5, 6, 2], [1, 7, 2]], pad_id=0, special_ids={1, 2})
    assert batch.input_ids.tolist() == [[1, 5, 6, 2], [1, 7, 2, 0]]
    assert batch.input_ids.dtype == torch.long
    assert batch.attention_mask.tolist() == [[True] * 4, [True, True, True, False]]
    assert batch.special_tokens_mask.tolist() == [
        [True, False, False, True],
        [True, False, True, True],
    ]
    assert batch.residue_mask().sum(1).tolist() == [2, 1]


def test_pad_tokens_rounds_the_width_up_to_the_multiple() -> None:
    batch = pad_tokens([[3] * 9, [4] * 2], pad_id=0, pad_to_multiple_of=8)
    assert batch.input_ids.shape == (2, 16)
    assert batch.attention_mask.sum(1).tolist() == [9, 2]
    assert pad_tokens([[3] * 8], pad_id=0, pad_to_multiple_of=8).input_ids.shape == (1, 8)
    with pytest.raises(ValueError, match="pad_to_multiple_of must be positive, not 0"):
        pad_tokens([[3]], pad_id=0, pad_to_multiple_of=0)


def test_pad_tokens_of_nothing_is_empty() -> None:
    batch = pad_tokens([], pad_id=0, pad_to_multiple_of=8)
    assert batch.input_ids.shape == batch.attention_mask.shape == (0, 0)
    assert batch.attention_mask.dtype == batch.special_tokens_mask.dtype == torch.bool


def test_pad_ragged_pads_like_pad_tokens_and_checks_the_lengths() -> None:
    rows = [[1, 5, 6, 2], [], [1, 7, 2]]
    ragged = RaggedIds.from_rows(rows)
    assert ragged.rows() == rows
    for multiple in (None, 4):
        got = pad_ragged(ragged, pad_id=0, special_ids={1, 2}, pad_to_multiple_of=multiple)
        expected = pad_tokens(rows, pad_id=0, special_ids={1, 2}, pad_to_multiple_of=multiple)
        assert torch.equal(got.input_ids, expected.input_ids)
        assert torch.equal(got.special_tokens_mask, expected.special_tokens_mask)
    # Many special ids take another route to the same mask.
    many = pad_ragged(ragged, pad_id=0, special_ids={1, 2, 5, 8, 9, 10})
    assert many.special_tokens_mask.tolist() == [
        [True, True, False, True],
        [True, True, True, True],
        [True, False, True, True],
    ]
    with pytest.raises(ValueError, match="lengths add up to 8 ids but 7 were given"):
        pad_ragged(RaggedIds(ragged.ids, torch.tensor([4, 1, 3])), pad_id=0)


def test_pad_labels_per_token_and_pairwise_keep_dtype() -> None:
    tokens = pad_labels([torch.tensor([1, 0, 1]), torch.tensor([2])], fill=-100)
    assert tokens.tolist() == [[1, 0, 1], [2, -100, -100]] and tokens.dtype == torch.long
    pairs = pad_labels([torch.ones(3, 3), torch.zeros(1, 1)], fill=-1.0, pad_to_multiple_of=4)
    assert pairs.shape == (2, 4, 4) and pairs.dtype == torch.float32
    assert pairs[0, :3, :3].eq(1).all() and pairs[0, 3].eq(-1).all()
    assert pairs[1, 0, 0] == 0 and pairs[1].eq(-1).sum() == 15


def test_pad_labels_keeps_trailing_class_dimensions() -> None:
    multi = pad_labels([torch.ones(4, 3), torch.ones(2, 3)], fill=0.0, pad_to_multiple_of=8)
    assert multi.shape == (2, 8, 3)
    # Equal lengths are still padded to the multiple, to line up with padded ids.
    same = pad_labels([torch.ones(5), torch.ones(5)], fill=0.0, pad_to_multiple_of=8)
    assert same.shape == (2, 8)


def test_pad_labels_refuses_mixed_items_naming_them() -> None:
    with pytest.raises(ValueError, match=r"Label 1 has shape \(2,\) and dtype torch.float32"):
        pad_labels([torch.ones(2, dtype=torch.long), torch.ones(2)], fill=0)
    with pytest.raises(ValueError, match="dimension 1, which is not a length"):
        pad_labels([torch.ones(4, 3), torch.ones(2, 2)], fill=0.0, length_dims=1)


def test_batching_through_the_backbone_matches_tokenize() -> None:
    backbone = ToyBackbone()
    rows = backbone.tokenize(["ACGT", "A"])
    batch = backbone.batch(["ACGT", "A"], pad_to_multiple_of=4)
    assert batch.input_ids.shape == (2, 8)
    assert [row[: len(r)] for row, r in zip(batch.input_ids.tolist(), rows, strict=True)] == rows


def test_alphabet_check_finds_the_first_offender_and_folds_case() -> None:
    check = AlphabetCheck(DNA + "N")
    assert check.find_invalid(["ACGT", "acgtn", ""]) is None
    assert check.find_invalid(["ACGT", "ACGU", "AXX"]) == (1, 3, "U")
    assert check.find_invalid(["", "", "ßA"]) == (2, 0, "ß")
    assert check.find_invalid(["AC", "GTé"]) == (1, 2, "é")
    assert check.fold("acgtN") == "ACGTN"
    assert check.invalid_characters("AC?Gé") == {"?", "é"}


def test_alphabet_check_refuses_non_ascii_alphabets() -> None:
    with pytest.raises(ValueError, match="must be ASCII; 'ß' is not"):
        AlphabetCheck("ACGß")


def test_residues_by_modality() -> None:
    assert RESIDUES[Modality.PROTEIN] == PROTEIN and RESIDUES[Modality.DNA] == DNA


def test_an_alphabet_set_by_an_option_is_not_declared_on_the_class() -> None:
    assert ToyBackbone.declared_alphabet() is None
    backbone = ToyBackbone(alphabet="ACGU")
    assert backbone.accepted_characters() == "ACGU"
    assert backbone.find_invalid(["ACGU", "ACGT"]) == (1, 3, "T")
