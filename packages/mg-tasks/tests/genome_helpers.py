"""Small real genome files for tests: a FASTA (pyfaidx-indexed), a bgzip/tabix VCF, a BED."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from mg.tasks.data.genome.synthetic import write_fasta

DNA = "ACGT"


def random_chromosomes(lengths: dict[str, int], seed: int = 0) -> dict[str, str]:
    """Random DNA chromosomes of the given lengths."""
    rng = random.Random(seed)
    return {name: "".join(rng.choice(DNA) for _ in range(n)) for name, n in lengths.items()}


def write_bgzip_fasta(path: Path, chromosomes: dict[str, str]) -> Path:
    """Write a bgzip-compressed FASTA (``path`` ends in ``.gz``)."""
    import pysam

    plain = write_fasta(path.with_suffix(""), chromosomes)
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    return path


Record = tuple[str, int, str, Sequence[str], dict[str, object]]
"""``(chrom, pos (1-based), ref, alts, info)``."""


def write_vcf(
    path: Path,
    contigs: dict[str, int],
    records: Sequence[Record],
    info: dict[str, tuple[str, str]] | None = None,
    index: bool = True,
) -> Path:
    """Write a VCF through pysam; a ``.vcf.gz`` path is bgzip-compressed and tabix-indexed.

    Args:
        path (Path): ``.vcf`` or ``.vcf.gz``.
        contigs (dict[str, int]): contig names and lengths for the header.
        records (Sequence[Record]): the records, in order.
        info (dict[str, tuple[str, str]] | None): INFO fields declared, id -> (Number, Type).
        index (bool): tabix-index a ``.vcf.gz``.
    """
    import pysam

    header = pysam.VariantHeader()
    for name, length in contigs.items():
        header.contigs.add(name, length=length)
    for key, (number, kind) in (info or {}).items():
        header.add_meta(
            "INFO", items=[("ID", key), ("Number", number), ("Type", kind), ("Description", key)]
        )
    plain = path.with_suffix("") if path.suffix == ".gz" else path
    with pysam.VariantFile(str(plain), "w", header=header) as out:
        for chrom, pos, ref, alts, fields in records:
            record = out.new_record(
                contig=chrom, start=pos - 1, alleles=(ref, *alts), id=f"v{chrom}_{pos}"
            )
            for key, value in fields.items():
                record.info[key] = value
            out.write(record)
    if plain != path:
        pysam.tabix_compress(str(plain), str(path), force=True)
        plain.unlink()
        if index:
            pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


def write_bed(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    """Write BED rows (tab-separated), with a header comment line."""
    with open(path, "w") as handle:
        handle.write("# intervals\n")
        for row in rows:
            handle.write("\t".join(str(v) for v in row) + "\n")
    return path
