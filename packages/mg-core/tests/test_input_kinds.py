"""A backbone declares the input kind it reads; compatibility refuses mixed kinds with a reason."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch
from core_toys import MeanPoolLinear, ToyRegression
from torch import Tensor, nn

from mg.core import (
    BackboneOutput,
    CellBackboneInterface,
    GeneIdKind,
    GeneVocabulary,
    IncompatibleError,
    InputKind,
    check_compatibility,
)
from mg.core.padding import TokenizedBatch
from mg.core.testing import InMemoryData, ToyBackbone


class ToyCellBackbone(CellBackboneInterface):
    """Each gene's value through one linear layer: the smallest cell backbone."""

    def __init__(self, use_lm_head: bool = False, default_config: Any = None, /) -> None:
        super().__init__(use_lm_head, default_config)
        self.vocabulary = GeneVocabulary(("CD3E", "MS4A1", "LYZ"))
        self.proj = nn.Linear(1, 4)

    def gene_vocabulary(self) -> GeneVocabulary:
        return self.vocabulary

    def batch_cells(self, expression: Tensor) -> TokenizedBatch:
        mask = torch.ones(expression.shape, dtype=torch.bool)
        return TokenizedBatch(expression.float(), mask, ~mask)

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, all_hidden_states: bool = False
    ) -> BackboneOutput:
        return BackboneOutput(self.proj(input_ids.unsqueeze(-1)), attention_mask)

    def get_embedding_size(self) -> int:
        return 4

    def get_num_layer(self) -> int:
        return 0


class ToyCellRegression(ToyRegression):
    """The toy regression, declared to read cells."""

    input_kinds: ClassVar[frozenset[InputKind]] = frozenset({InputKind.CELLS})

    @classmethod
    def required_data_columns(cls, stage: str) -> set[str]:
        return {"labels"} if stage != "predict" else set()


class CellData(InMemoryData):
    input_kind = InputKind.CELLS


def test_backbones_declare_their_input_kind() -> None:
    assert ToyBackbone.input_kind is InputKind.SEQUENCE
    assert ToyCellBackbone.input_kind is InputKind.CELLS
    assert ToyCellBackbone.required_data_columns() == {"expression"}


def test_sequence_task_refuses_a_cell_backbone_with_the_reason() -> None:
    report = check_compatibility(ToyRegression, ToyCellBackbone, MeanPoolLinear)
    assert not report.compatible
    (reason,) = report.reasons
    assert "ToyRegression reads sequences" in reason
    assert "ToyCellBackbone reads cells" in reason
    with pytest.raises(IncompatibleError, match="reads cells"):
        report.raise_if_incompatible()


def test_cell_task_refuses_a_sequence_backbone() -> None:
    report = check_compatibility(ToyCellRegression, ToyBackbone, MeanPoolLinear)
    (reason,) = report.reasons
    assert "ToyCellRegression reads cells" in reason and "ToyBackbone reads sequences" in reason


def test_cell_backbone_fits_a_cell_task_and_cell_data() -> None:
    data = CellData(train=[{"expression": [1.0, 0.0, 2.0], "labels": 0.5}])
    report = check_compatibility(ToyCellRegression, ToyCellBackbone, MeanPoolLinear, data=data)
    assert report.compatible, str(report)


def test_sequence_data_is_refused_for_a_cell_backbone_and_cell_data_for_a_sequence_one() -> None:
    sequences = InMemoryData(train=[{"sequences": "ACGT", "labels": 0.5}])
    report = check_compatibility(ToyCellRegression, ToyCellBackbone, data=sequences)
    assert any(
        "ToyCellBackbone reads cells" in r and "InMemoryData yields sequences" in r
        for r in report.reasons
    ), report.reasons
    cells = CellData(train=[{"expression": [1.0, 0.0, 2.0], "labels": 0.5}])
    report = check_compatibility(ToyRegression, ToyBackbone, data=cells)
    assert any(
        "ToyBackbone reads sequences" in r and "CellData yields cells" in r for r in report.reasons
    ), report.reasons


def test_cell_backbone_refuses_sequences_and_runs_on_expression() -> None:
    backbone = ToyCellBackbone()
    with pytest.raises(TypeError, match="reads cells"):
        backbone.batch(["ACGT"])
    batch = backbone.batch_cells(torch.tensor([[1.0, 0.0, 3.0]]))
    out = backbone(batch.input_ids, batch.attention_mask)
    assert out.last_hidden_state.shape == (1, 3, 4)
    assert backbone.get_vocab() == {"CD3E": 0, "MS4A1": 1, "LYZ": 2}


def test_gene_vocabulary_tells_ensembl_ids_and_refuses_a_gene_twice(tmp_path: Any) -> None:
    path = tmp_path / "genes.txt"
    path.write_text("ENSG00000198851.9\nENSG00000156738\n\n", encoding="utf-8")
    vocabulary = GeneVocabulary.from_file(path)
    assert vocabulary.id_kind is GeneIdKind.ENSEMBL
    assert vocabulary.keys() == ["ENSG00000198851", "ENSG00000156738"]
    with pytest.raises(ValueError, match="'CD3E' twice"):
        GeneVocabulary(("CD3E", "LYZ", "CD3E"))
    with pytest.raises(FileNotFoundError, match=r"missing\.txt"):
        GeneVocabulary.from_file(tmp_path / "missing.txt")
