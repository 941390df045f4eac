"""Saturation mutagenesis: the matrix's shape, zeros at the reference, agreement with LLR."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from task_helpers import column, tiny_backbone

from mg.core.backbone import Modality
from mg.core.compat import check_compatibility
from mg.core.testing import InMemoryData, ToyBackbone
from mg.core.testing.contracts import fast_trainer
from mg.tasks import VariantLikelihoodRatio
from mg.tasks.saturation import SaturationMutagenesis

WINDOWS = [{"ids": "w0", "sequences": "ACGTTGCAAC"}, {"ids": "w1", "sequences": "TTAGC"}]
backbone = partial(tiny_backbone, seed=3)


def test_matrix_shape_reference_zero_and_match_with_the_likelihood_ratio() -> None:
    task = SaturationMutagenesis(backbone, chunk=3)  # chunks cross window boundaries
    matrices = torch.stack(
        column(fast_trainer().predict(task, datamodule=InMemoryData(test=WINDOWS)))
    )
    assert matrices.shape == (2, 10, 4)
    for matrix, window in zip(matrices, WINDOWS, strict=True):
        sequence = window["sequences"]
        at_reference = matrix[torch.arange(len(sequence)), ["ACGT".index(b) for b in sequence]]
        assert torch.equal(at_reference, torch.zeros(len(sequence)))
        assert (matrix[len(sequence) :] == 0).all() and (matrix[: len(sequence)] != 0).any()
    # Each entry is the masked-marginal likelihood ratio of that single substitution.
    variants = [
        {"ids": f"{i}{b}", "sequences": WINDOWS[0]["sequences"], "mutations": f"{r}{i + 1}{b}"}
        for i, r in enumerate(WINDOWS[0]["sequences"])
        for b in "ACGT"
        if b != r
    ]
    ratio = VariantLikelihoodRatio(backbone, marginal="masked")
    scores = torch.stack(
        column(fast_trainer().predict(ratio, datamodule=InMemoryData(test=variants)))
    )
    expected = torch.stack(
        [
            matrices[0, int(v["mutations"][1:-1]) - 1, "ACGT".index(v["mutations"][-1])]
            for v in variants
        ]
    )
    assert torch.allclose(scores, expected, atol=1e-5)


def test_bad_options_are_named() -> None:
    with pytest.raises(ValueError, match="distinct bases"):
        SaturationMutagenesis(backbone, bases="AAC")
    with pytest.raises(ValueError, match="chunk"):
        SaturationMutagenesis(backbone, chunk=0)


def test_default_bases_follow_an_rna_backbone() -> None:
    rna = partial(tiny_backbone, alphabet="ACGU", seed=3)
    task = SaturationMutagenesis(rna)
    windows = [{"ids": "r0", "sequences": "ACGUUGCA"}]
    (batch,) = fast_trainer().predict(task, datamodule=InMemoryData(test=windows))
    assert batch["bases"] == ["ACGU"] and batch["sequences"] == ["ACGUUGCA"]
    matrix = batch["predictions"][0]
    at_reference = matrix[torch.arange(8), ["ACGU".index(b) for b in "ACGUUGCA"]]
    assert torch.equal(at_reference, torch.zeros(8)) and (matrix != 0).any()


def test_dna_bases_on_an_rna_backbone_stop_before_weights_load() -> None:
    task = SaturationMutagenesis(partial(tiny_backbone, alphabet="ACGU"), bases="ACGT")
    windows = [{"ids": "r0", "sequences": "ACGU"}]
    with pytest.raises(ValueError) as error:
        fast_trainer().predict(task, datamodule=InMemoryData(test=windows))
    message = str(error.value)
    assert "'T'" in message and "bases: ACGU" in message and "\n" not in message
    assert task.backbone is None


def test_a_protein_backbone_is_refused_by_the_compatibility_check() -> None:
    class ProteinToy(ToyBackbone):
        modality = Modality.PROTEIN

    report = check_compatibility(SaturationMutagenesis, ProteinToy)
    assert not report.compatible
    assert any("reads protein" in r and "DNA or RNA backbone" in r for r in report.reasons)
    assert check_compatibility(SaturationMutagenesis, ToyBackbone).compatible
