"""Classification recipes from the config: balanced class weights (said once, with the
weights), focal loss and label smoothing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from cli_helpers import write_config

from mg.cli.main import main
from mg.cli.outputs import load_test_outputs
from mg.tasks import SequenceClassification
from mg.tasks.losses import balanced_class_weights, balanced_pos_weight, classification_loss


def _imbalanced_csv(path: Path, n: int, positives: int, seed: int) -> Path:
    """DNA 24-mers over A, C, G; the positives (label 1) carry TATAAT, the only Ts."""
    rng = random.Random(seed)
    lines = ["id,sequence,label"]
    for i in range(n):
        seq = [rng.choice("ACG") for _ in range(24)]
        label = int(i < positives)
        if label:
            start = rng.randrange(0, 18)
            seq[start : start + 6] = "TATAAT"
        lines.append(f"r{seed}_{i},{''.join(seq)},{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _minority_recall(folder: Path, capfd: pytest.CaptureFixture[str], **options: object) -> float:
    folder.mkdir()
    train = _imbalanced_csv(folder / "imbalanced_train.csv", 200, 16, 0)
    held_out = _imbalanced_csv(folder / "held_out.csv", 40, 20, 1)
    config = write_config(
        folder,
        **{
            "trainer.max_epochs": 4,
            "model.init_args.optimizer": {
                "class_path": "torch.optim.AdamW",
                "init_args": {"lr": 0.1},
            },
            "data.init_args.train_file": str(train),
            "data.init_args.val_file": str(held_out),
            "data.init_args.test_file": str(held_out),
            **options,
        },
    )
    assert main(["fit", "--config", str(config)]) == 0
    assert main(["test", "--config", str(config), "--ckpt_path", "last"]) == 0
    (tested,) = [
        p for p in (folder / "runs" / "test").iterdir() if (p / "test_outputs.pt").exists()
    ]
    outputs = load_test_outputs(tested)
    assert outputs is not None
    scores = outputs["scores"]
    p_minority = scores[:, 1] if scores.dim() == 2 else scores
    positive = outputs["labels"] == 1
    return float((p_minority[positive] > 0.5).float().mean())


def test_balanced_class_weights_are_said_once_and_raise_minority_recall(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    plain = _minority_recall(tmp_path / "plain", capfd)
    assert "class_weights: balanced" not in capfd.readouterr().err
    balanced = _minority_recall(
        tmp_path / "balanced", capfd, **{"model.init_args.class_weights": "balanced"}
    )
    said = [
        line for line in capfd.readouterr().err.splitlines() if "class_weights: balanced" in line
    ]
    # 200 rows, 184 of class 0 and 16 of class 1: 200 / (2 * count).
    assert said == [
        "class_weights: balanced -> class weights 0=0.5435, 1=6.25 (from 200 training rows)"
    ]
    assert balanced > plain + 0.3, (plain, balanced)


def test_balanced_weights_and_pos_weight_follow_the_counts() -> None:
    weights = balanced_class_weights([0, 0, 0, 1, 2, 2], 3)
    assert weights.tolist() == pytest.approx([6 / 9, 6 / 3, 6 / 6])
    pos = balanced_pos_weight([[1, 0], [0, 0], [1, 1], [0, 0]], 2)
    assert pos.tolist() == pytest.approx([2 / 2, 3 / 1])
    with pytest.raises(ValueError, match=r"class\(s\) \[2\] have no training row"):
        balanced_class_weights([0, 1, 1], 3)


def test_focal_loss_weighs_confident_right_rows_less_and_gamma_zero_is_cross_entropy() -> None:
    logits = torch.tensor([[4.0, -4.0], [0.2, 0.0], [-1.0, 1.0]])
    labels = torch.tensor([0, 0, 0])
    plain = torch.nn.functional.cross_entropy(logits, labels)
    assert classification_loss(logits, labels) == pytest.approx(plain.item())
    assert classification_loss(logits, labels, focal_gamma=0.0).item() == pytest.approx(
        plain.item()
    )
    # Each row's share: the confident right row almost vanishes under focus.
    per_row = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    p = logits.softmax(-1)[:, 0]
    expected = ((1 - p) ** 2 * per_row).mean()
    assert classification_loss(logits, labels, focal_gamma=2.0).item() == pytest.approx(
        expected.item()
    )
    smoothed = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
    assert classification_loss(logits, labels, label_smoothing=0.1).item() == pytest.approx(
        smoothed.item()
    )


def test_focal_loss_and_label_smoothing_train_from_yaml(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        **{
            "model.init_args.focal_gamma": 2.0,
            "model.init_args.label_smoothing": 0.1,
        },
    )
    assert main(["fit", "--config", str(config)]) == 0
    (run,) = (tmp_path / "runs" / "test").iterdir()
    text = (run / "config.yaml").read_text()
    assert "focal_gamma: 2.0" in text and "label_smoothing: 0.1" in text


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"label_smoothing": 1.0}, "label_smoothing must be in [0, 1)"),
        ({"focal_gamma": -1.0}, "focal_gamma must be 0 or more"),
    ],
)
def test_bad_loss_options_are_refused(options: dict, named: str) -> None:
    with pytest.raises(ValueError, match=__import__("re").escape(named)):
        SequenceClassification(backbone=lambda *a: None, **options)  # type: ignore[arg-type]
