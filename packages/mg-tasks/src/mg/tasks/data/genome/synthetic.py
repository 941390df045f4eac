"""A small synthetic genome with a planted signal: FASTA, BED intervals and bigWig tracks.

For tests, examples and benchmarks of the coordinate route: one motif per track is
planted along random chromosomes, and each track's signal is high exactly over its motif,
so a track model that reads the sequence can learn it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MOTIFS = ("TATAAT", "GCGCGC")
"""Track ``i`` rises over ``MOTIFS[i]``."""

HIGH, LOW = 12.0, 0.5
"""Signal over a planted motif, and everywhere else."""


def planted_chromosome(rng: random.Random, length: int, motifs: Sequence[str]) -> str:
    """Random DNA without G (so ``GCGCGC`` appears only where planted), motifs every 17 bp."""
    bases = [rng.choice("ACT") for _ in range(length)]
    for start in range(5, length - 10, 17):
        motif = rng.choice((*motifs, ""))
        bases[start : start + len(motif)] = motif
    return "".join(bases)


def motif_signal(sequence: str, motif: str) -> np.ndarray:
    """Per-base signal: `HIGH` over every occurrence of ``motif``, `LOW` elsewhere."""
    signal = np.full(len(sequence), LOW, dtype=np.float32)
    at = sequence.find(motif)
    while at != -1:
        signal[at : at + len(motif)] = HIGH
        at = sequence.find(motif, at + 1)
    return signal


def write_fasta(path: Path, chromosomes: dict[str, str], width: int = 60) -> Path:
    """Write chromosomes as a FASTA with fixed-width lines."""
    with open(path, "w", encoding="utf-8") as handle:
        for name, sequence in chromosomes.items():
            handle.write(f">{name}\n")
            handle.writelines(
                sequence[i : i + width] + "\n" for i in range(0, len(sequence), width)
            )
    return path


def write_bigwig(path: Path, signal: dict[str, np.ndarray]) -> Path:
    """Write per-base signal of each chromosome as a bigWig (one entry per base)."""
    import pyBigWig

    handle = pyBigWig.open(str(path), "w")
    handle.addHeader([(name, len(values)) for name, values in signal.items()])
    for name, values in signal.items():
        handle.addEntries(name, 0, values=values.astype(float).tolist(), span=1, step=1)
    handle.close()
    return path


def write_planted_tracks(
    folder: str | Path,
    *,
    chromosomes: dict[str, int] | None = None,
    window: int = 32,
    step: int = 11,
    tracks: int = 2,
    val_share: float = 0.2,
    seed: int = 0,
) -> dict[str, Path | list[Path]]:
    """Write ``genome.fa``, ``train.bed``/``val.bed``/``test.bed`` and one bigWig per track.

    Intervals of ``window`` bases start every ``step`` bases, strands alternating; the
    last ``val_share`` of each chromosome is split between validation and test.

    Args:
        folder (str | Path): where to write (created if needed).
        chromosomes (dict[str, int] | None): names and lengths; ``{"chr1": 6000}`` by default.
        window (int): interval length.
        step (int): distance between interval starts.
        tracks (int): tracks, one motif each (at most ``len(MOTIFS)``).
        val_share (float): share of each chromosome's end held out.
        seed (int): random seed.

    Returns:
        dict[str, Path | list[Path]]: ``fasta``, ``train``, ``val``, ``test`` and ``tracks``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    motifs = MOTIFS[:tracks]
    genome = {
        name: planted_chromosome(rng, length, motifs)
        for name, length in (chromosomes or {"chr1": 6000}).items()
    }
    fasta = write_fasta(folder / "genome.fa", genome)
    bigwigs = [
        write_bigwig(
            folder / f"track{i}.bw", {n: motif_signal(s, motif) for n, s in genome.items()}
        )
        for i, motif in enumerate(motifs)
    ]
    rows: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for name, sequence in genome.items():
        held_out = int(len(sequence) * (1 - val_share))
        for k, start in enumerate(range(0, len(sequence) - window, step)):
            split = "train" if start < held_out else ("val", "test")[k % 2]
            strand = "+-"[(k // 2) % 2]
            rows[split].append(f"{name}\t{start}\t{start + window}\t{name}_{start}\t0\t{strand}")
    beds = {}
    for split, lines in rows.items():
        beds[split] = folder / f"{split}.bed"
        beds[split].write_text("".join(f"{line}\n" for line in lines))
    return {"fasta": fasta, **beds, "tracks": bigwigs}
