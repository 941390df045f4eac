"""Warmup schedules: the curves of transformers' schedule functions, sized to the run."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from cli_helpers import write_config
from transformers import (
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_linear_schedule_with_warmup,
)

from mg.cli.main import main
from mg.tasks import ConstantWarmupLR, CosineWarmupLR, LinearWarmupLR

BASE_LR = 0.01


def _optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=BASE_LR)


def _rates(scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int) -> list[float]:
    rates = []
    for _ in range(steps):
        rates.append(scheduler.get_last_lr()[0])
        scheduler.optimizer.step()
        scheduler.step()
    return rates


def _constant(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> object:
    """transformers' constant schedule takes no run length."""
    return get_constant_schedule_with_warmup(optimizer, warmup)


@pytest.mark.parametrize(
    ("ours", "reference", "options", "warmup"),
    [
        (LinearWarmupLR, get_linear_schedule_with_warmup, {"warmup_steps": 7}, 7),
        (LinearWarmupLR, get_linear_schedule_with_warmup, {"warmup_ratio": 0.1}, 5),
        (CosineWarmupLR, get_cosine_schedule_with_warmup, {"warmup_steps": 7}, 7),
        (CosineWarmupLR, get_cosine_schedule_with_warmup, {"warmup_ratio": 0.0}, 0),
        (ConstantWarmupLR, _constant, {"warmup_steps": 7}, 7),
        (ConstantWarmupLR, _constant, {"warmup_ratio": 0.1}, 5),
    ],
)
def test_schedules_follow_the_transformers_curves_step_by_step(
    ours: type, reference: object, options: dict, warmup: int
) -> None:
    total = 43
    scheduler = ours(_optimizer(), **options)
    scheduler.set_total_steps(total)
    expected = _rates(reference(_optimizer(), warmup, total), total + 1)  # type: ignore[operator]
    assert _rates(scheduler, total + 1) == pytest.approx(expected, abs=1e-12)
    assert max(expected) == pytest.approx(BASE_LR)


def test_a_resumed_schedule_continues_where_it_stopped() -> None:
    first = CosineWarmupLR(_optimizer(), warmup_ratio=0.2)
    first.set_total_steps(30)
    _rates(first, 11)
    saved = first.state_dict()
    uninterrupted = _rates(first, 10)

    resumed = CosineWarmupLR(_optimizer(), warmup_ratio=0.2)
    resumed.set_total_steps(30)
    resumed.load_state_dict(saved)
    resumed.optimizer.param_groups[0]["lr"] = saved["_last_lr"][0]  # as the optimizer's state
    assert _rates(resumed, 10) == pytest.approx(uninterrupted)


def test_unclear_warmup_options_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"warmup_steps .* or warmup_ratio .*, not both"):
        LinearWarmupLR(_optimizer(), warmup_steps=3, warmup_ratio=0.1)
    with pytest.raises(ValueError, match="lower warmup_steps or warmup_ratio"):
        LinearWarmupLR(_optimizer(), warmup_steps=50).set_total_steps(40)
    with pytest.raises(ValueError, match=r"set trainer\.max_epochs or trainer\.max_steps"):
        LinearWarmupLR(_optimizer(), warmup_steps=5).set_total_steps(float("inf"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("schedule", "options", "factors"),
    [
        # Warmup over 3 of the 6 steps, then linear decay that would reach 0 at step 6.
        ("LinearWarmupLR", {"warmup_ratio": 0.5}, (0, 1 / 3, 2 / 3, 1, 2 / 3, 1 / 3)),
        # Warmup over 2 steps, then the base rate to the end.
        ("ConstantWarmupLR", {"warmup_steps": 2}, (0, 1 / 2, 1, 1, 1, 1)),
    ],
)
def test_a_schedule_named_in_yaml_steps_every_optimizer_step_over_the_whole_run(
    tmp_path: Path, schedule: str, options: dict, factors: tuple[float, ...]
) -> None:
    # 48 training rows in batches of 8, two epochs, two batches per step: 6 optimizer steps.
    config = write_config(
        tmp_path,
        **{
            "trainer.max_epochs": 2,
            "trainer.accumulate_grad_batches": 2,
            "trainer.log_every_n_steps": 1,
            "trainer.callbacks": [
                {
                    "class_path": "lightning.pytorch.callbacks.LearningRateMonitor",
                    "init_args": {"logging_interval": "step"},
                }
            ],
            "model.init_args.optimizer": {
                "class_path": "torch.optim.SGD",
                "init_args": {"lr": BASE_LR},
            },
            "model.init_args.lr_scheduler": {
                "class_path": schedule,
                "init_args": options,
            },
        },
    )
    assert main(["fit", "--config", str(config)]) == 0
    (metrics,) = (tmp_path / "runs" / "test").glob("*/metrics.csv")
    with metrics.open() as handle:
        # The monitor logs every batch; two batches share each optimizer step.
        by_step = {
            int(r["step"]): float(r["lr-SGD"]) for r in csv.DictReader(handle) if r["lr-SGD"]
        }
    rates = [by_step[step] for step in sorted(by_step)]
    expected = [BASE_LR * f for f in factors]
    assert rates == pytest.approx(expected)
