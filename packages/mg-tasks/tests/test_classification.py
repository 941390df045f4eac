"""SequenceClassification and TokenClassification: learning, labels, metrics, predictions."""

from __future__ import annotations

import pytest
import torch
from task_helpers import (
    adam,
    column,
    composition_samples,
    data_from,
    multilabel_samples,
    predict,
    tiny_backbone,
    token_samples,
    train,
    unlabelled,
)

from mg.adapters import LinearMeanPoolAdapter, MLPTokenAdapter
from mg.core.testing import InMemoryData
from mg.tasks import SequenceClassification, TokenClassification

# ----------------------------------------------------------------- sequence level


def test_learns_three_compositional_classes() -> None:
    task = SequenceClassification(
        tiny_backbone, LinearMeanPoolAdapter, n_classes=3, optimizer=adam(1e-2)
    )
    data = data_from(composition_samples, n_classes=3)
    metrics = train(task, data, epochs=6)
    assert metrics["test_accuracy"] > 0.75, metrics  # chance: 1/3
    assert metrics["test_mcc"] > 0.5, metrics
    assert {"test_f1", "test_auroc"} <= set(metrics)


def test_learns_a_binary_task_with_the_default_cls_adapter() -> None:
    task = SequenceClassification(tiny_backbone, optimizer=adam(1e-2))
    metrics = train(task, data_from(composition_samples), epochs=6)
    assert metrics["test_accuracy"] > 0.8, metrics  # chance: 1/2
    assert metrics["test_auroc"] > 0.85, metrics


def test_multilabel_learns_and_reports_each_label_on_test() -> None:
    task = SequenceClassification(
        tiny_backbone,
        LinearMeanPoolAdapter,
        n_classes=2,
        multilabel=True,
        class_names=["a_rich", "g_rich"],
        optimizer=adam(1e-2),
    )
    metrics = train(task, data_from(multilabel_samples), epochs=8)
    assert metrics["test_accuracy"] > 0.75, metrics
    for name in ("a_rich", "g_rich"):
        for metric in ("accuracy", "f1", "mcc", "auroc"):
            assert f"test_{metric}_{name}" in metrics
        assert metrics[f"test_auroc_{name}"] > 0.75, metrics


def test_multilabel_names_labels_by_index_without_class_names() -> None:
    task = SequenceClassification(tiny_backbone, n_classes=3, multilabel=True)
    assert {"accuracy_label0", "auroc_label2"} <= set(task.configure_metrics("test"))
    assert "accuracy_label0" not in task.configure_metrics("val")


def test_predictions_are_classes_with_their_probabilities() -> None:
    task = SequenceClassification(tiny_backbone, n_classes=3)
    batches = predict(task, InMemoryData(predict=unlabelled(composition_samples(6, 0, 3))))
    probabilities = torch.stack(column(batches, "probabilities"))
    classes = torch.stack(column(batches))
    assert probabilities.shape == (6, 3)
    torch.testing.assert_close(probabilities.sum(-1), torch.ones(6))
    assert torch.equal(classes, probabilities.argmax(-1))


def test_multilabel_predictions_are_one_decision_per_label() -> None:
    task = SequenceClassification(tiny_backbone, n_classes=2, multilabel=True)
    batches = predict(task, InMemoryData(predict=unlabelled(multilabel_samples(4, 0))))
    decisions = torch.stack(column(batches))
    probabilities = torch.stack(column(batches, "probabilities"))
    assert torch.equal(decisions, (probabilities > 0.5).long())


def test_class_weights_change_the_loss() -> None:
    samples = composition_samples(8, 0)
    plain = SequenceClassification(tiny_backbone)
    weighted = SequenceClassification(tiny_backbone, class_weights=[1.0, 5.0])
    plain.configure_model()
    weighted.configure_model()
    weighted.load_state_dict(plain.state_dict())
    batch = plain.collate(samples)
    with torch.no_grad():
        logits = plain(batch)
        loss = plain.evaluate(logits, batch, "train")["loss"]
        reweighted = weighted.evaluate(logits, batch, "train")["loss"]
        expected = torch.nn.functional.cross_entropy(
            logits, batch["labels"], weight=torch.tensor([1.0, 5.0])
        )
    assert not torch.isclose(loss, reweighted)
    torch.testing.assert_close(reweighted, expected)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_classes": 1}, "at least 2"),
        ({"class_weights": [1.0]}, "class_weights has 1 values but n_classes is 2"),
        ({"class_weights": [1.0, -1.0]}, "positive"),
        ({"n_classes": 2, "multilabel": True, "class_names": ["x"]}, "class_names has 1"),
    ],
)
def test_bad_options_fail_at_construction(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SequenceClassification(tiny_backbone, **options)


@pytest.mark.parametrize(
    ("label", "options", "message"),
    [
        (3, {"n_classes": 3}, "label 3 is outside [0, 3)"),
        (-1, {"n_classes": 2}, "label -1 is outside [0, 2)"),
        (1.5, {}, "not a class index"),
        ("cat", {}, "not a class index"),
        ([1, 0, 1], {"n_classes": 2, "multilabel": True}, "has 3 values, but n_classes is 2"),
        ([1, 2], {"n_classes": 2, "multilabel": True}, "other than 0 and 1"),
        (1, {"n_classes": 2, "multilabel": True}, "not a list of 2 0/1 values"),
    ],
)
def test_label_problems_are_named(label: object, options: dict, message: str) -> None:
    problem = SequenceClassification(tiny_backbone, **options).label_problem(label)
    assert problem is not None and message in problem


def test_good_labels_have_no_problem() -> None:
    assert SequenceClassification(tiny_backbone, n_classes=3).label_problem(2) is None
    multilabel = SequenceClassification(tiny_backbone, n_classes=2, multilabel=True)
    assert multilabel.label_problem([0, 1]) is None
    assert multilabel.label_problem([True, False]) is None


# ----------------------------------------------------------------- token level


def test_token_classification_learns_per_residue_classes() -> None:
    task = TokenClassification(tiny_backbone, MLPTokenAdapter, optimizer=adam(1e-2))
    metrics = train(task, data_from(token_samples), epochs=4)
    assert metrics["test_accuracy"] > 0.9, metrics  # chance: about 1/2
    assert metrics["test_mcc"] > 0.8, metrics


def test_token_labels_skip_special_tokens_and_follow_truncation() -> None:
    task = TokenClassification(tiny_backbone, n_classes=3)
    task.configure_model()
    long = "ACGT" * 15  # 60 residues; the backbone keeps 38 (40 tokens with CLS and EOS)
    samples = [
        {"ids": "short", "sequences": "ACG", "labels": [0, 1, 2]},
        {"ids": "long", "sequences": long, "labels": [i % 3 for i in range(60)]},
    ]
    batch = task.collate(samples)
    labels = batch["labels"]
    assert labels.shape == batch["input_ids"].shape == (2, 40)
    assert labels[0].tolist() == [-100, 0, 1, 2, -100] + [-100] * 35  # CLS, 3 residues, EOS, pad
    assert labels[1, 0] == -100 and labels[1, -1] == -100  # CLS and EOS
    assert labels[1, 1:-1].tolist() == [i % 3 for i in range(38)]


def test_token_loss_and_metrics_ignore_special_tokens_and_padding() -> None:
    task = TokenClassification(tiny_backbone)
    task.configure_model()
    batch = task.collate(token_samples(4, 0))
    labels = batch["labels"]
    right = torch.nn.functional.one_hot(labels.clamp(min=0), 2).float() * 20
    # Confidently wrong wherever there is no label: neither loss nor metrics may notice.
    logits = torch.where((labels == -100)[..., None], torch.tensor([-20.0, 20.0]), right)
    outputs = task.evaluate(logits, batch, "val")
    assert outputs["loss"] < 1e-6
    assert task.stage_metrics("val")["accuracy"].compute() == 1.0


def test_token_focal_loss_and_smoothing_count_labelled_residues_only() -> None:
    task = TokenClassification(tiny_backbone, n_classes=3, focal_gamma=2.0, label_smoothing=0.1)
    task.configure_model()
    batch = task.collate(
        [
            {"ids": "a", "sequences": "ACGTA", "labels": [0, 1, 2, -100, 1]},
            {"ids": "b", "sequences": "AC", "labels": [2, 0]},
        ]
    )
    labels = batch["labels"]
    logits = torch.randn(*labels.shape, 3, generator=torch.Generator().manual_seed(0))
    kept = labels != -100
    # The same formula written out over the six labelled residues alone.
    rows, targets = logits[kept], labels[kept]
    smoothed = torch.nn.functional.cross_entropy(
        rows, targets, label_smoothing=0.1, reduction="none"
    )
    p_true = rows.softmax(-1).gather(-1, targets[:, None]).squeeze(-1)
    expected = ((1 - p_true) ** 2 * smoothed).mean()
    assert task.evaluate(logits, batch, "val")["loss"].item() == pytest.approx(expected.item())
    # Whatever sits at special tokens and padding changes nothing.
    noisy = torch.where(kept[..., None], logits, torch.full_like(logits, 50.0))
    assert task.evaluate(noisy, batch, "val")["loss"].item() == pytest.approx(expected.item())


def test_token_classification_learns_with_focal_loss_and_smoothing() -> None:
    task = TokenClassification(
        tiny_backbone, MLPTokenAdapter, focal_gamma=2.0, label_smoothing=0.1, optimizer=adam(1e-2)
    )
    metrics = train(task, data_from(token_samples), epochs=4)
    assert metrics["test_accuracy"] > 0.9, metrics  # chance: about 1/2


def test_token_predictions_are_trimmed_to_each_item() -> None:
    task = TokenClassification(tiny_backbone, n_classes=3)
    samples = unlabelled(token_samples(5, 0))
    batches = predict(task, InMemoryData(predict=samples, batch_size=5))
    for sample, classes, probabilities in zip(
        samples, column(batches), column(batches, "probabilities"), strict=True
    ):
        assert classes.shape == (len(sample["sequences"]),)
        assert probabilities.shape == (len(sample["sequences"]), 3)


def test_token_labels_of_the_wrong_length_are_named() -> None:
    task = TokenClassification(tiny_backbone)
    task.configure_model()
    with pytest.raises(ValueError, match="'bad' has 2 labels for a sequence of 4 residues"):
        task.collate([{"ids": "bad", "sequences": "ACGT", "labels": [0, 1]}])


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ([0, 1, 2], "label 2 at residue 2 is not a class index in [0, 2)"),
        ([0, "x"], "label 'x' at residue 1"),
        (1, "not a list of class indices"),
    ],
)
def test_token_label_problems_are_named(label: object, message: str) -> None:
    problem = TokenClassification(tiny_backbone).label_problem(label)
    assert problem is not None and message in problem


def test_token_labels_may_leave_residues_unlabelled() -> None:
    assert TokenClassification(tiny_backbone).label_problem([0, -100, 1]) is None


def test_pad_to_multiple_of_rounds_the_batch_and_never_changes_a_prediction() -> None:
    samples = unlabelled(composition_samples(6, 0, 3))
    plain = SequenceClassification(tiny_backbone, n_classes=3)
    rounded = SequenceClassification(tiny_backbone, n_classes=3, pad_to_multiple_of=16)
    for task in (plain, rounded):
        task.configure_model()
        task.eval()
    rounded.load_state_dict(plain.state_dict())
    batch = rounded.collate(samples)
    assert batch["input_ids"].shape[1] % 16 == 0
    assert batch["input_ids"].shape[1] > plain.collate(samples)["input_ids"].shape[1]
    with torch.no_grad():
        torch.testing.assert_close(rounded(batch), plain(plain.collate(samples)))
