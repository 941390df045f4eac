"""PairwiseTokenClassification and the top-L precision metric."""

from __future__ import annotations

import pytest
import torch
from task_helpers import (
    PAIR_LENGTH,
    adam,
    column,
    data_from,
    hairpin_samples,
    predict,
    tiny_backbone,
    train,
    unlabelled,
)

from mg.core.testing import InMemoryData
from mg.tasks import PairwiseTokenClassification
from mg.tasks.metrics import TopLPrecision


def test_learns_hairpin_stems_well_above_chance() -> None:
    task = PairwiseTokenClassification(
        tiny_backbone, min_separation=4, pos_weight=5.0, optimizer=adam(1e-2)
    )
    metrics = train(task, data_from(hairpin_samples), epochs=6)
    # 5 true pairs among 190 with |i - j| >= 4: a random ranking scores about 0.03.
    assert metrics["test_top_l5_precision"] > 0.6, metrics
    assert metrics["test_top_l2_precision"] > 0.3, metrics


def test_predictions_are_symmetric_maps_trimmed_to_each_item() -> None:
    task = PairwiseTokenClassification(tiny_backbone)
    samples = unlabelled(hairpin_samples(3, 0))
    samples[1]["sequences"] = samples[1]["sequences"][:9]
    maps = column(predict(task, InMemoryData(predict=samples, batch_size=3)))
    assert [m.shape for m in maps] == [(24, 24), (9, 9), (24, 24)]
    for m in maps:
        torch.testing.assert_close(m, m.T)
        assert ((m >= 0) & (m <= 1)).all()


def test_pairs_draw_a_symmetric_residue_map_and_truncation_drops_pairs() -> None:
    task = PairwiseTokenClassification(tiny_backbone)
    task.configure_model()
    long = "A" * 50  # the backbone keeps 38 residues
    batch = task.collate(
        [
            {"ids": "a", "sequences": "ACGUACGU".replace("U", "T"), "labels": [[0, 7], [2, 5]]},
            {"ids": "b", "sequences": long, "labels": [[1, 30], [10, 45]]},
        ]
    )
    labels = batch["labels"]
    assert labels.shape == (2, 38, 38)
    assert labels[0, 0, 7] == labels[0, 7, 0] == labels[0, 2, 5] == 1
    assert labels[0].sum() == 4
    assert labels[1, 1, 30] == 1 and labels[1].sum() == 2  # (10, 45) fell off the end


def test_loss_only_reads_real_pairs_at_least_min_separation_apart() -> None:
    task = PairwiseTokenClassification(tiny_backbone, min_separation=6)
    task.configure_model()
    samples = hairpin_samples(2, 0)
    samples[1]["sequences"] = samples[1]["sequences"][:12]
    samples[1]["labels"] = [[0, 11]]
    batch = task.collate(samples)
    logits = torch.randn(2, PAIR_LENGTH, PAIR_LENGTH)
    logits = (logits + logits.transpose(1, 2)) / 2
    before = task.evaluate(logits, batch, "train")["loss"]
    changed = logits.clone()
    near = (torch.arange(24)[:, None] - torch.arange(24)[None, :]).abs() < 6
    changed[:, near] = 50.0  # near the diagonal
    changed[1, 12:, :] = -50.0  # beyond the short item's end
    changed[1, :, 12:] = -50.0
    after = task.evaluate(changed, batch, "train")["loss"]
    torch.testing.assert_close(before, after)


def test_a_pair_past_the_end_is_named() -> None:
    task = PairwiseTokenClassification(tiny_backbone)
    task.configure_model()
    with pytest.raises(ValueError, match=r"'x': pair \[1, 9\] points past the end of its 4"):
        task.collate([{"ids": "x", "sequences": "ACGT", "labels": [[1, 9]]}])


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ([[1, 2, 3]], "not an [i, j] pair"),
        ([[1, -2]], "does not hold two 0-based residue indices"),
        ([[4, 4]], "pairs a residue with itself"),
        ("0-5", "not a list of [i, j] residue pairs"),
    ],
)
def test_label_problems_are_named(label: object, message: str) -> None:
    problem = PairwiseTokenClassification(tiny_backbone).label_problem(label)
    assert problem is not None and message in problem


def test_good_pairs_have_no_problem() -> None:
    assert PairwiseTokenClassification(tiny_backbone).label_problem([[0, 9], (3, 7)]) is None
    assert PairwiseTokenClassification(tiny_backbone).label_problem([]) is None


# ----------------------------------------------------------------- the metric


def _item(length: int, true_pairs: list[tuple[int, int]], ranked: list[tuple[int, int]]):
    """A map whose scores rank ``ranked`` first (in order), and its truth."""
    scores = torch.zeros(length, length)
    truth = torch.zeros(length, length)
    for rank, (i, j) in enumerate(ranked):
        scores[i, j] = scores[j, i] = 100.0 - rank
    for i, j in true_pairs:
        truth[i, j] = truth[j, i] = 1.0
    return scores, truth


def test_top_l_precision_by_hand() -> None:
    # L = 10, min_separation = 3: top-L/5 = 2 pairs, top-L/2 = 5 pairs.
    scores, truth = _item(10, [(0, 9), (1, 8)], [(0, 9), (2, 4), (1, 8), (0, 5), (3, 9)])
    mask = torch.ones(1, 10, dtype=torch.bool)
    l5, l2 = TopLPrecision(5, 3), TopLPrecision(2, 3)
    l5.update(scores[None], truth[None], mask)
    l2.update(scores[None], truth[None], mask)
    # (2, 4) is closer than 3 apart, so it is not ranked: the top 2 are (0, 9) and (1, 8).
    assert l5.compute() == pytest.approx(1.0)
    assert l2.compute() == pytest.approx(2 / 5)


def test_top_l_precision_averages_items_whatever_the_batching() -> None:
    first = _item(10, [(0, 9)], [(0, 9), (1, 8)])
    second = _item(6, [(0, 5)], [(1, 5), (0, 5)])
    width = 10
    padded = torch.zeros(width, width)
    padded[:6, :6] = second[0]
    padded_truth = torch.zeros(width, width)
    padded_truth[:6, :6] = second[1]
    padded[6:, :] = 1e3  # padding may hold anything
    mask = torch.tensor([[True] * 10, [True] * 6 + [False] * 4])

    together = TopLPrecision(5, 3)
    together.update(torch.stack([first[0], padded]), torch.stack([first[1], padded_truth]), mask)
    apart = TopLPrecision(5, 3)
    apart.update(first[0][None], first[1][None], mask[:1])
    apart.update(second[0][None], second[1][None], torch.ones(1, 6, dtype=torch.bool))
    # Item 1: top-2 = (0,9) true, (1,8) false → 0.5. Item 2: top-1 = (1,5) false → 0.
    assert together.compute() == pytest.approx(0.25)
    assert apart.compute() == pytest.approx(0.25)


def test_top_l_precision_skips_items_without_distant_pairs() -> None:
    metric = TopLPrecision(1, 6)
    metric.update(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4), torch.ones(1, 4, dtype=torch.bool))
    assert metric.compute() == 0.0 and metric.count == 0
