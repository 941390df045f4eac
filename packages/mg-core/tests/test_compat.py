"""The compatibility rules answer with reasons a user can act on."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from core_toys import MeanPoolLinear, ToyRegression, gc_samples
from torch import Tensor, nn

from mg.core import (
    BackboneInterface,
    Capability,
    IncompatibleError,
    TaskInterface,
    TokenAdapter,
    check_compatibility,
)
from mg.core.compat import target_class
from mg.core.testing import InMemoryData, ToyBackbone


class PerTokenLinear(TokenAdapter):
    def __init__(self, in_features: int, out_features: int, /) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        return self.linear(hidden_states)


class HeadlessBackbone(ToyBackbone):
    """Like the toy backbone, but declares no masked-LM head."""

    capabilities = frozenset({Capability.MASK_TOKEN, Capability.PER_RESIDUE_TOKENS})


class ToyMLM(ToyRegression):
    uses_lm_head = True
    needs_capabilities = frozenset({Capability.MASK_TOKEN})

    @classmethod
    def required_data_columns(cls, stage: str) -> set[str]:
        return {"sequences"}


def test_compatible_triple_has_no_reasons() -> None:
    report = check_compatibility(ToyRegression, ToyBackbone, MeanPoolLinear)
    assert report.compatible and not report.reasons
    assert "compatible" in str(report)


def test_wrong_adapter_type_names_both_types() -> None:
    report = check_compatibility(ToyRegression, ToyBackbone, PerTokenLinear)
    assert not report.compatible
    (reason,) = report.reasons
    assert "ToyRegression needs an adapter that subclasses SequenceAdapter" in reason
    assert "PerTokenLinear is a TokenAdapter" in reason


def test_missing_lm_head_names_backbone_and_fix() -> None:
    report = check_compatibility(ToyMLM, HeadlessBackbone, MeanPoolLinear)
    (reason,) = report.reasons
    assert "ToyMLM needs a backbone with a masked-LM head" in reason
    assert "HeadlessBackbone has none" in reason
    assert "choose a backbone" in reason


def test_missing_data_column_names_column_and_data_module() -> None:
    unlabelled = [{k: v for k, v in s.items() if k != "labels"} for s in gc_samples(4, 0)]
    data = InMemoryData(train=unlabelled)
    report = check_compatibility(ToyRegression, ToyBackbone, MeanPoolLinear, data=data)
    (reason,) = report.reasons
    assert "'labels' column for fit" in reason and "InMemoryData" in reason
    # Predicting needs no labels.
    predict_data = InMemoryData(predict=unlabelled)
    assert check_compatibility(ToyRegression, ToyBackbone, None, predict_data, "predict").compatible


def test_several_problems_are_all_reported_and_raised_together() -> None:
    report = check_compatibility(ToyMLM, HeadlessBackbone, PerTokenLinear)
    assert len(report.reasons) == 2
    with pytest.raises(IncompatibleError, match=r"(?s)masked-LM head.*SequenceAdapter"):
        report.raise_if_incompatible()


def test_default_adapter_is_checked_when_none_is_given() -> None:
    assert check_compatibility(ToyRegression, ToyBackbone).adapter == "MeanPoolLinear"


def test_target_class_sees_through_partials() -> None:
    assert target_class(partial(ToyBackbone, hidden_size=8)) is ToyBackbone
    assert target_class(partial(partial(MeanPoolLinear, bias=False))) is MeanPoolLinear
    assert target_class(lambda: None) is None
    assert check_compatibility(ToyRegression, partial(HeadlessBackbone), None).compatible


def test_not_a_backbone_is_a_reason() -> None:
    report = check_compatibility(ToyRegression, nn.Linear, MeanPoolLinear)
    assert "is not a backbone" in report.reasons[0]


def test_task_without_adapter_rejects_one() -> None:
    class Embedder(TaskInterface):
        def configure_model(self) -> None: ...
        def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
            return {}

        def forward(self, batch: dict[str, Any]) -> Any: ...
        def evaluate(self, preds: Any, batch: Any, stage: Any) -> dict[str, Tensor]:
            return {}

    assert check_compatibility(Embedder, ToyBackbone).compatible
    report = check_compatibility(Embedder, ToyBackbone, MeanPoolLinear)
    assert "takes no adapter" in report.reasons[0]


def test_backbone_requires_sequences_column() -> None:
    assert BackboneInterface.required_data_columns() == {"sequences"}


def test_a_stage_the_task_cannot_run_is_a_reason() -> None:
    class PredictOnly(ToyRegression):
        supported_stages = frozenset({"predict"})

    data = InMemoryData(train=gc_samples(4, 0), test=gc_samples(4, 1))
    report = check_compatibility(PredictOnly, ToyBackbone, None, data, "fit")
    assert report.reasons == ("PredictOnly cannot fit: it only runs predict.",)
    assert check_compatibility(PredictOnly, ToyBackbone, None, data, "predict").compatible


def test_a_checkpoint_without_the_declared_lm_head_stops_the_build() -> None:
    class HeadLost(ToyBackbone):
        def get_decoder(self) -> None:
            return None

    task = ToyMLM(HeadLost)
    with pytest.raises(IncompatibleError, match="ToyMLM needs the backbone's masked-LM head"):
        task.build_backbone()
