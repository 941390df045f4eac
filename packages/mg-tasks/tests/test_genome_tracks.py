"""Track regression on real bigWig files: binned targets, strands, a planted signal learned."""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from genome_helpers import write_bed, write_fasta
from task_helpers import adam, tiny_backbone

from mg.core.testing.contracts import fast_trainer
from mg.tasks.data.genome import Reference
from mg.tasks.data.genome.tracks import BigWigTracks, IntervalTrackData, IntervalTracks
from mg.tasks.tracks import TrackRegression, multinomial_loss, poisson_loss

MOTIFS = ("TATAAT", "GCGCGC")  # track 0 rises over the first, track 1 over the second
WINDOW, BIN = 32, 8


def write_bigwig(path: Path, chroms: dict[str, int], signal: dict[str, np.ndarray]) -> Path:
    """Write per-base signal as a bigWig (one entry per base) with pyBigWig."""
    import pyBigWig

    handle = pyBigWig.open(str(path), "w")
    handle.addHeader(list(chroms.items()))
    for chrom, values in signal.items():
        handle.addEntries(chrom, 0, values=[float(v) for v in values], span=1, step=1)
    handle.close()
    return path


def planted_genome(rng: random.Random, length: int) -> tuple[str, np.ndarray]:
    """Random DNA with both motifs planted often; per-base signal of each track."""
    bases = [rng.choice("ACT") for _ in range(length)]  # no G: GCGCGC only where planted
    for start in range(5, length - 10, 17):
        motif = rng.choice((*MOTIFS, ""))
        bases[start : start + len(motif)] = motif
    sequence = "".join(bases)
    signal = np.full((2, length), 0.5, dtype=np.float32)
    for track, motif in enumerate(MOTIFS):
        at = sequence.find(motif)
        while at != -1:
            signal[track, at : at + len(motif)] = 12.0
            at = sequence.find(motif, at + 1)
    return sequence, signal


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tracks")
    rng = random.Random(0)
    sequence, signal = planted_genome(rng, 6000)
    fasta = write_fasta(folder / "genome.fa", {"chr1": sequence})
    # The bigWigs name the chromosome '1': matched to the reference's 'chr1'.
    bigwigs = [
        write_bigwig(folder / f"t{i}.bw", {"1": len(sequence)}, {"1": signal[i]}) for i in (0, 1)
    ]
    rows = {"train": [], "val": []}
    for start in range(0, 6000 - WINDOW, 11):
        split = "val" if start > 4800 else "train"
        rows[split].append(("chr1", start, start + WINDOW, f"r{start}", 0, "+-"[start % 2]))
    beds = {k: write_bed(folder / f"{k}.bed", v) for k, v in rows.items()}
    return {"fasta": fasta, "bw0": bigwigs[0], "bw1": bigwigs[1], "sequence": sequence, **beds}


def test_bigwig_bins_and_minus_strand_windows(files: dict[str, Path]) -> None:
    tracks = BigWigTracks([files["bw0"], files["bw1"]])
    binned = tracks.binned("chr1", -4, 3, 4)  # first bin lies off the chromosome start
    assert binned.shape == (3, 2) and binned[0, 0] == 0.0 and binned[1, 0] > 0
    bed = write_bed(
        files["fasta"].parent / "two.bed",
        [("chr1", 100, 132, "p", 0, "+"), ("chr1", 100, 132, "m", 0, "-")],
    )
    plus, minus = IntervalTracks(
        bed, Reference(files["fasta"]), [files["bw0"], files["bw1"]], 32, 8
    )
    assert plus["sequences"] == files["sequence"][100:132]
    assert minus["sequences"] == plus["sequences"][::-1].translate(str.maketrans("ACGT", "TGCA"))
    assert np.array_equal(minus["labels"], plus["labels"][::-1])
    assert plus["labels"].shape == (4, 2)


def test_bad_bin_size_and_missing_bigwig_are_one_line(files: dict[str, Path]) -> None:
    with pytest.raises(ValueError) as error:
        IntervalTracks(files["val"], files["fasta"], [files["bw0"]], 30, 8)
    assert "\n" not in str(error.value) and "multiple of bin_size 8" in str(error.value)
    with pytest.raises(ValueError) as error:
        BigWigTracks([files["fasta"].parent / "absent.bw"])
    assert "'" in str(error.value) and "absent.bw" in str(error.value)


def test_losses_are_lowest_at_the_target() -> None:
    target = torch.rand(2, 4, 3) * 5 + 0.1
    for loss in (poisson_loss, multinomial_loss):
        assert loss(target, target) < loss(target * 2, target)
        assert loss(target, target) < loss(target.flip(1), target)


@pytest.mark.parametrize("loss", ["poisson", "multinomial"])
def test_track_model_learns_the_planted_signal(files: dict[str, Path], loss: str) -> None:
    torch.manual_seed(0)
    data = IntervalTrackData(
        train=str(files["train"]),
        val=str(files["val"]),
        reference=str(files["fasta"]),
        tracks=[str(files["bw0"]), str(files["bw1"])],
        context_length=WINDOW,
        bin_size=BIN,
        batch_size=32,
    )

    def task() -> TrackRegression:
        return TrackRegression(
            partial(tiny_backbone, hidden_size=32),
            num_tracks=2,
            bin_size=BIN,
            loss=loss,
            optimizer=adam(3e-3),
        )

    before = fast_trainer().validate(task(), datamodule=data)[0]["val_pearson"]
    trained = task()
    fast_trainer(max_epochs=4).fit(trained, datamodule=data)
    after = fast_trainer().validate(trained, datamodule=data)[0]["val_pearson"]
    assert after > 0.5 and after > before + 0.3, (before, after)
