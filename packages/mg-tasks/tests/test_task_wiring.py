"""Compatibility declarations, registration and scheduler wiring of the nine tasks."""

from __future__ import annotations

import inspect
from functools import partial

import pytest
import torch
from task_helpers import composition_samples, tiny_backbone

from mg.adapters import LinearCLSAdapter, LinearTokenAdapter
from mg.core import Capability, check_compatibility
from mg.core.registry import plugins
from mg.core.testing import InMemoryData, ToyBackbone
from mg.core.testing.contracts import fast_trainer
from mg.tasks import (
    MLM,
    ConditionalDiffusion,
    Diffusion,
    Embed,
    Inference,
    PairwiseTokenClassification,
    SequenceClassification,
    SequenceRegression,
    TokenClassification,
)

TASKS = [
    Inference,
    MLM,
    SequenceClassification,
    TokenClassification,
    PairwiseTokenClassification,
    Diffusion,
    ConditionalDiffusion,
    SequenceRegression,
    Embed,
]


class NoLMHead(ToyBackbone):
    """A backbone that cannot give masked-LM logits."""

    capabilities = frozenset({Capability.MASK_TOKEN, Capability.PER_RESIDUE_TOKENS})


class KmerLike(ToyBackbone):
    """A backbone that does not promise one token per residue."""

    capabilities = frozenset({Capability.MASKED_LM_HEAD, Capability.MASK_TOKEN})


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.__name__)
def test_every_task_fits_the_toy_backbone_with_its_default_adapter(task: type) -> None:
    report = check_compatibility(task, ToyBackbone)
    assert report.compatible, str(report)


def test_a_token_adapter_is_refused_for_regression_with_its_type_named() -> None:
    report = check_compatibility(SequenceRegression, ToyBackbone, LinearTokenAdapter)
    assert not report.compatible
    assert "TokenAdapter" in report.reasons[0] and "SequenceAdapter" in report.reasons[0]


@pytest.mark.parametrize(
    "task", [MLM, Diffusion, Inference, ConditionalDiffusion], ids=lambda t: t.__name__
)
def test_a_backbone_without_an_lm_head_is_refused(task: type) -> None:
    report = check_compatibility(task, NoLMHead)
    assert not report.compatible
    assert any("masked-LM head" in reason and "NoLMHead" in reason for reason in report.reasons)


@pytest.mark.parametrize(
    "task", [TokenClassification, PairwiseTokenClassification], ids=lambda t: t.__name__
)
def test_per_residue_tasks_refuse_backbones_without_one_token_per_residue(task: type) -> None:
    report = check_compatibility(task, KmerLike)
    assert any("one token per residue" in reason for reason in report.reasons)


def test_tasks_without_an_adapter_refuse_one() -> None:
    report = check_compatibility(Embed, ToyBackbone, LinearCLSAdapter)
    assert "takes no adapter" in report.reasons[0]


def test_the_nine_tasks_are_registered_by_their_defining_module() -> None:
    registered = plugins("tasks")
    assert set(registered) >= {t.__name__ for t in TASKS}
    for task in TASKS:
        plugin = registered[task.__name__]
        assert plugin.load() is task
        assert plugin.module == task.__module__
        assert plugin.summary()  # the docstring's first line, read without importing


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.__name__)
def test_user_options_are_keyword_only_and_kwargs_reach_the_base(task: type) -> None:
    parameters = inspect.signature(task.__init__).parameters
    assert list(parameters)[1] == "backbone"
    assert parameters["kwargs"].kind is inspect.Parameter.VAR_KEYWORD
    instance = task(tiny_backbone, lr_scheduler_interval="step")
    assert instance.lr_scheduler_interval == "step"


@pytest.mark.parametrize(("interval", "decays"), [("epoch", 1), ("step", 4)])
def test_the_scheduler_interval_is_honoured(interval: str, decays: int) -> None:
    task = SequenceClassification(
        tiny_backbone,
        optimizer=partial(torch.optim.SGD, lr=1.0),
        lr_scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5),
        lr_scheduler_interval=interval,
    )
    data = InMemoryData(train=composition_samples(16, 0), batch_size=4)  # 4 steps per epoch
    trainer = fast_trainer(max_epochs=1)
    trainer.fit(task, datamodule=data)
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.5**decays)
