"""Borzoi's 32-bp bins meet TrackRegression: BorzoiTiny learns a planted signal from real
FASTA, BED and bigWig files, and tasks that read one state per token refuse it."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch

from mg.backbones import BorzoiTiny, FlashzoiTiny
from mg.core.compat import check_compatibility
from mg.core.testing.contracts import fast_trainer
from mg.tasks import Embed, SequenceRegression, TokenClassification
from mg.tasks.data.genome.synthetic import write_planted_tracks
from mg.tasks.data.genome.tracks import IntervalTrackData
from mg.tasks.tracks import TrackRegression

WINDOW, BIN = 256, 32


def test_borzoi_tiny_learns_a_planted_track_signal(tmp_path: Path) -> None:
    # The signal is high over each TATAAT, planted in about half of the 17-bp slots.
    files = write_planted_tracks(
        tmp_path / "genome", chromosomes={"chr1": 9000}, window=WINDOW, step=37, tracks=1
    )
    torch.manual_seed(0)
    data = IntervalTrackData(
        train=str(files["train"]),
        val=str(files["val"]),
        reference=str(files["fasta"]),
        tracks=[str(p) for p in files["tracks"]],  # type: ignore[union-attr]
        context_length=WINDOW,
        bin_size=BIN,
        batch_size=16,
    )

    def task() -> TrackRegression:
        # bin_size is left unset: it is the backbone's own 32-bp bins.
        return TrackRegression(
            partial(BorzoiTiny, max_length=WINDOW),
            num_tracks=1,
            optimizer=partial(torch.optim.Adam, lr=1e-2),
        )

    assert task().bin_size == BIN
    before = fast_trainer().validate(task(), datamodule=data)[0]["val_pearson"]
    trained = task()
    fast_trainer(max_epochs=12).fit(trained, datamodule=data)
    after = fast_trainer().validate(trained, datamodule=data)[0]["val_pearson"]
    assert after > 0.5 and after > before + 0.3, (before, after)


@pytest.mark.parametrize("tiny", [BorzoiTiny, FlashzoiTiny])
def test_tasks_reading_token_states_refuse_borzoi_with_the_reason(
    tiny: type[BorzoiTiny],
) -> None:
    for task in (TokenClassification, Embed):
        report = check_compatibility(task, tiny)
        assert not report.compatible
        assert any("one per 32-residue bin" in r for r in report.reasons), report.reasons
    for task in (SequenceRegression, TrackRegression):
        assert check_compatibility(task, tiny).compatible
