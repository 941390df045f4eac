"""The task's optimizer: torch's fused Adam/AdamW kernel when the user chose none, safely."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import torch
from core_toys import ToyRegression, gc_samples, toy_data
from torch import nn

from mg.core.optimizers import build_optimizer, fused_kernel_devices
from mg.core.testing import ToyBackbone
from mg.core.testing.contracts import fast_trainer

CPU_FUSED = "cpu" in fused_kernel_devices()  # torch >= 2.4


def weights() -> list[nn.Parameter]:
    return list(nn.Linear(4, 3).parameters())


class MyAdamW(torch.optim.AdamW):
    """A subclass may not take ``fused``: it is left as built."""


@pytest.mark.parametrize(
    "optimizer_fn",
    [torch.optim.AdamW, torch.optim.Adam, partial(torch.optim.AdamW, lr=1e-3, fused=None)],
    ids=["AdamW", "Adam", "partial"],
)
def test_adam_family_left_to_its_defaults_gets_the_fused_kernel(optimizer_fn: Any) -> None:
    optimizer = build_optimizer(optimizer_fn, weights())
    assert optimizer.defaults["fused"] is (True if CPU_FUSED else None)


@pytest.mark.parametrize(
    ("optimizer_fn", "option", "expected"),
    [
        (partial(torch.optim.AdamW, foreach=True), "foreach", True),
        (partial(torch.optim.AdamW, fused=False), "fused", False),
        (partial(torch.optim.SGD, lr=0.1), "fused", None),
        (MyAdamW, "fused", None),
        (lambda params: torch.optim.AdamW(params), "fused", None),
    ],
    ids=["foreach-chosen", "fused-off", "SGD", "subclass", "function"],
)
def test_a_chosen_implementation_or_another_optimizer_is_left_alone(
    optimizer_fn: Any, option: str, expected: Any
) -> None:
    assert build_optimizer(optimizer_fn, weights()).defaults[option] is expected


def test_may_fuse_false_keeps_the_default_kernel() -> None:
    assert build_optimizer(torch.optim.AdamW, weights(), may_fuse=False).defaults["fused"] is None


def fitted(optimizer: Any, **trainer_options: Any) -> tuple[ToyRegression, Any]:
    torch.manual_seed(0)
    task = ToyRegression(partial(ToyBackbone, max_length=32), optimizer=optimizer)
    trainer = fast_trainer(max_epochs=2, limit_val_batches=0, **trainer_options)
    trainer.fit(task, datamodule=toy_data(batch_size=4))
    return task, trainer.optimizers[0]


def predictions(task: ToyRegression) -> torch.Tensor:
    task.eval()
    with torch.no_grad():
        return task(task.collate(gc_samples(10, 2)))


def test_fused_training_predicts_what_the_default_kernel_does() -> None:
    fused_task, fused = fitted(partial(torch.optim.AdamW, lr=1e-2))
    loop_task, loop = fitted(partial(torch.optim.AdamW, lr=1e-2, foreach=False))
    assert fused.defaults["fused"] is (True if CPU_FUSED else None)
    assert loop.defaults["fused"] is None
    # The kernels round differently (weights agree to about 1e-7), except where the exact
    # gradient is zero (the attention's key bias, which no output depends on): there Adam
    # scales rounding noise up to the learning rate, with either kernel.
    torch.testing.assert_close(predictions(fused_task), predictions(loop_task), rtol=0, atol=1e-5)


def test_mixed_precision_with_clipping_trains_with_the_unfused_kernel() -> None:
    # Lightning's mixed-precision plugin refuses to clip for an optimizer that unscales
    # gradients in its step (a fused one): mg must not pick it there.
    _, optimizer = fitted(torch.optim.AdamW, precision="bf16-mixed", gradient_clip_val=1.0)
    assert optimizer.defaults["fused"] is None
    _, optimizer = fitted(torch.optim.AdamW, precision="bf16-mixed")
    assert optimizer.defaults["fused"] is (True if CPU_FUSED else None)
