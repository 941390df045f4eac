"""Saturation mutagenesis: the matrix's shape, zeros at the reference, agreement with LLR."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from task_helpers import column, tiny_backbone

from mg.core.testing import InMemoryData
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
