"""Small synthetic genomes with a planted signal, for tests, examples and benchmarks.

- Tracks (`write_planted_tracks`): one motif per track is planted along random
  chromosomes, and each track's signal is high exactly over its motif, so a track model
  that reads the sequence can learn it.
- Variants (`write_motif_variants`): a ClinVar-style VCF whose "pathogenic" variants break
  a planted motif and whose "benign" ones fall just beside it, with windows of the rest of
  the genome for a masked LM to learn the motif from.
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


VARIANT_MOTIF = "TATAAT"
"""The motif `write_motif_variants` plants; its variants break it or fall beside it."""


def motif_chromosome(rng: random.Random, sites: int) -> tuple[str, list[int]]:
    """Random stretches that never hold ``TATA``, with `VARIANT_MOTIF` between them.

    Returns:
        tuple[str, list[int]]: the chromosome and the 0-based start of every motif.
    """
    parts, starts, position = [], [], 0
    for _ in range(sites):
        gap = rng.randint(8, 20)
        background = "".join(rng.choice("ACGT") for _ in range(gap))
        while "TATA" in background:
            background = "".join(rng.choice("ACGT") for _ in range(gap))
        parts += [background, VARIANT_MOTIF]
        starts.append(position + gap)
        position += gap + len(VARIANT_MOTIF)
    return "".join(parts) + "C" * 30, starts


def write_motif_variants(
    folder: str | Path,
    *,
    sites: int = 200,
    scored_sites: tuple[int, int] = (100, 160),
    window: int = 24,
    windows_per_site: int = 20,
    seed: int = 0,
) -> dict[str, Path]:
    """Write ``genome.fa``, ``clinvar.vcf`` and masked-LM windows ``mlm_train/val.csv``.

    For each scored site, one SNV inside the motif (``CLNSIG=Pathogenic``) and one within
    eight bases before it (``Benign``), of the same REF base where there is one. The
    masked-LM windows (columns ``id``, ``sequence``) are cut around the other sites only,
    so a model that learns them never sees a scored window.

    Args:
        folder (str | Path): where to write (created if needed).
        sites (int): motifs planted on the one chromosome, ``chr1``.
        scored_sites (tuple[int, int]): the range of sites that get variants.
        window (int): length of each masked-LM window.
        windows_per_site (int): windows per unscored site, each shifted up to 8 bases.
        seed (int): random seed.

    Returns:
        dict[str, Path]: ``fasta``, ``vcf``, ``train`` and ``val``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    sequence, starts = motif_chromosome(rng, sites)
    fasta = write_fasta(folder / "genome.fa", {"chr1": sequence})
    lines = [
        "##fileformat=VCFv4.2",
        f"##contig=<ID=chr1,length={len(sequence)}>",
        '##INFO=<ID=CLNSIG,Number=1,Type=String,Description="Clinical significance">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    first, last = scored_sites
    variants = []
    for start in starts[first:last]:
        inside = start + rng.randrange(len(VARIANT_MOTIF))
        # The benign variant changes the same base when the gap holds one, so that REF
        # composition alone (A/T in the motif) cannot tell the two classes apart.
        same = [p for p in range(start - 8, start) if sequence[p] == sequence[inside]]
        beside = rng.choice(same) if same else start - 1 - rng.randrange(6)
        for position, label in ((inside, "Pathogenic"), (beside, "Benign")):
            alt = rng.choice([b for b in "ACGT" if b != sequence[position]])
            variants.append((position + 1, sequence[position], alt, label))
    for pos, ref, alt, label in sorted(variants):
        lines.append(f"chr1\t{pos}\tv{pos}\t{ref}\t{alt}\t.\tPASS\tCLNSIG={label}")
    vcf = folder / "clinvar.vcf"
    vcf.write_text("\n".join(lines) + "\n")
    learned = starts[:first] + starts[last:]
    rows = [
        sequence[max(0, begin) : max(0, begin) + window]
        for site in learned
        for begin in (site - window // 2 + rng.randint(-8, 8) for _ in range(windows_per_site))
    ]
    rng.shuffle(rows)
    held = len(rows) // 10
    tables = {}
    for split, part in (("val", rows[:held]), ("train", rows[held:])):
        tables[split] = folder / f"mlm_{split}.csv"
        tables[split].write_text(
            "id,sequence\n" + "".join(f"{split}{i},{row}\n" for i, row in enumerate(part))
        )
    return {"fasta": fasta, "vcf": vcf, **tables}
