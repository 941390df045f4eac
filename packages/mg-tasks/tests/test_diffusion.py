"""Diffusion and ConditionalDiffusion: training, generation, conditioning."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from task_helpers import (
    adam,
    column,
    conditional_samples,
    data_from,
    gc_fraction,
    predict,
    run_samples,
    templates,
    tiny_backbone,
    train,
)

from mg.core.testing import InMemoryData
from mg.core.testing.contracts import fast_trainer
from mg.tasks import ConditionalDiffusion, Diffusion
from mg.tasks.masking import mask_for_diffusion

wider_backbone = partial(tiny_backbone, hidden_size=32)


def test_training_lowers_the_loss_below_guessing_the_alphabet() -> None:
    task = Diffusion(wider_backbone, num_steps=8, optimizer=adam(3e-3))
    data = data_from(run_samples, n_train=256, predict=templates(6, 16))
    before = fast_trainer().test(task, datamodule=data)[0]["test_loss"]
    after = train(task, data, epochs=14)["test_loss"]
    # Knowing only the alphabet gives log(4); lower needs the neighbours (runs of a base).
    assert after < 0.8 * math.log(4) and after < before - 1.0, (before, after)


def test_generation_uses_the_alphabet_and_keeps_template_residues() -> None:
    task = Diffusion(tiny_backbone, num_steps=5)
    samples = [
        {"ids": "scratch", "sequences": "?" * 12},
        {"ids": "partial", "sequences": "AC??GT???T"},
        {"ids": "fixed", "sequences": "GATTACA"},
    ]
    batches = predict(task, InMemoryData(predict=samples))
    sequences, tokens = column(batches, "sequences"), column(batches)
    assert [len(s) for s in sequences] == [12, 10, 7]
    assert all(set(s) <= set("ACGT") for s in sequences)
    assert sequences[1][:2] == "AC" and sequences[1][4:6] == "GT" and sequences[1][9] == "T"
    assert sequences[2] == "GATTACA"
    assert all(set(t.tolist()) <= {5, 6, 7, 8} for t in tokens)


def test_generation_is_reproducible_and_greedy_at_temperature_zero() -> None:
    data = InMemoryData(predict=templates(4, 10))
    first = column(predict(Diffusion(tiny_backbone, num_steps=4), data), "sequences")
    again = column(predict(Diffusion(tiny_backbone, num_steps=4), data), "sequences")
    other_seed = column(predict(Diffusion(tiny_backbone, num_steps=4, seed=1), data), "sequences")
    assert first == again and first != other_seed
    greedy = column(
        predict(Diffusion(tiny_backbone, num_steps=4, temperature=0.0, seed=1), data),
        "sequences",
    )
    greedy_again = column(
        predict(Diffusion(tiny_backbone, num_steps=4, temperature=0.0, seed=2), data),
        "sequences",
    )
    assert greedy == greedy_again


def test_one_step_reveals_everything_and_more_steps_reveal_gradually() -> None:
    task = Diffusion(tiny_backbone, num_steps=4)
    task.configure_model()
    batch = task.collate(templates(1, 8))
    mask_id = task.mask_id()
    revealed = []
    original = task.denoise_logits

    def spy(input_ids, batch):
        revealed.append(int((input_ids != mask_id).sum()) - 2)  # minus CLS and EOS
        return original(input_ids, batch)

    task.denoise_logits = spy  # type: ignore[method-assign]
    task.eval()
    out = task.generate(batch)
    assert revealed == [0, 2, 4, 6]  # floor(8 * (1 - s/4)) stay masked after step s
    assert not (out == mask_id).any()


def test_diffusion_masks_only_residues_at_a_rate_per_item() -> None:
    task = Diffusion(tiny_backbone)
    task.configure_model()
    batch = task.collate(run_samples(300, 0))
    residues = batch["attention_mask"] & ~batch["special_tokens_mask"]
    torch.manual_seed(0)
    masked, targets, rate = mask_for_diffusion(batch["input_ids"], residues, mask_id=4)
    chosen = targets != -100
    assert not (chosen & ~residues).any() and chosen.any(1).all()
    assert ((rate > 0) & (rate <= 1)).all()
    share = chosen.sum(1) / residues.sum(1)
    assert torch.corrcoef(torch.stack([share, rate]))[0, 1] > 0.9
    assert (masked[chosen] == 4).all() and torch.equal(masked[~chosen], batch["input_ids"][~chosen])


def test_inverse_rate_weighting_weights_each_item_by_one_over_t() -> None:
    plain = Diffusion(tiny_backbone)
    weighted = Diffusion(tiny_backbone, inverse_rate_weighting=True)
    plain.configure_model()
    weighted.configure_model()
    batch = plain.collate(run_samples(1, 0))
    logits = torch.randn(1, batch["input_ids"].shape[1], 9)
    targets = torch.full_like(batch["input_ids"], -100)
    targets[0, 1:5] = 5  # 4 of the item's residues asked for
    preds = {"logits": logits, "targets": targets, "rate": torch.tensor([0.25])}
    residues = int((batch["attention_mask"] & ~batch["special_tokens_mask"]).sum())
    mean_loss = plain.evaluate(preds, batch, "train")["loss"]
    elbo = weighted.evaluate(preds, batch, "train")["loss"]
    torch.testing.assert_close(elbo, mean_loss * 4 / (residues * 0.25))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_steps": 0}, "num_steps must be at least 1"),
        ({"temperature": -1.0}, "temperature must be 0"),
        ({"mask_character": "<m>"}, "one character"),
    ],
)
def test_bad_generation_options_fail_at_construction(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Diffusion(tiny_backbone, **options)


# ----------------------------------------------------------------- conditional


def test_conditional_generation_follows_the_condition() -> None:
    task = ConditionalDiffusion(tiny_backbone, num_steps=8, optimizer=adam(1e-2))
    data = data_from(conditional_samples, predict=templates(20, 16, labels=[0, 1]))
    train(task, data, epochs=4)
    generated = column(predict(task, data), "sequences")
    assert all(len(s) == 16 and set(s) <= set("ACGT") for s in generated)
    at_rich = sum(gc_fraction(s) for s in generated[0::2]) / 10  # condition 0
    gc_rich = sum(gc_fraction(s) for s in generated[1::2]) / 10  # condition 1
    assert gc_rich - at_rich > 0.5, (at_rich, gc_rich)


def test_continuous_conditions_are_read_as_vectors() -> None:
    task = ConditionalDiffusion(tiny_backbone, condition="continuous", condition_size=2)
    task.configure_model()
    batch = task.collate([{"ids": "a", "sequences": "AC", "labels": [0.5, -1.0]}])
    assert batch["condition"].tolist() == [[0.5, -1.0]]
    classes = ConditionalDiffusion(tiny_backbone, n_classes=3)
    classes.configure_model()
    batch = classes.collate([{"ids": "a", "sequences": "AC", "labels": 2}])
    assert batch["condition"].tolist() == [[0.0, 0.0, 1.0]]


def test_conditional_diffusion_needs_labels_in_every_stage() -> None:
    for stage in ("fit", "validate", "test", "predict"):
        assert ConditionalDiffusion.required_data_columns(stage) == {"sequences", "labels"}
    assert Diffusion.required_data_columns("fit") == {"sequences"}


@pytest.mark.parametrize(
    ("label", "options", "message"),
    [
        (2, {}, "label 2 is outside [0, 2)"),
        ([0.1, 0.2], {"condition": "continuous"}, "has 2 value(s), but the task reads 1"),
        (float("nan"), {"condition": "continuous"}, "NaN or infinite"),
    ],
)
def test_condition_problems_are_named(label: object, options: dict, message: str) -> None:
    problem = ConditionalDiffusion(tiny_backbone, **options).label_problem(label)
    assert problem is not None and message in problem


def test_a_bad_condition_stops_prediction_before_the_model_is_built() -> None:
    class Checked(InMemoryData):
        def check_labels(self, stage, problem):
            for sample in self.datasets["predict"].samples:
                if (found := problem(sample["labels"])) is not None:
                    raise ValueError(found)

    task = ConditionalDiffusion(tiny_backbone)
    with pytest.raises(ValueError, match="label 7 is outside"):
        fast_trainer().predict(task, datamodule=Checked(predict=templates(2, 5, labels=[7])))
    assert task.backbone is None
