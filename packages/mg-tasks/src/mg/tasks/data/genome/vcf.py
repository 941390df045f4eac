"""Variants read from a VCF (plain or bgzip), checked against the reference, split per ALT.

Every record's REF is compared with the reference before anything else happens (before
any weights load): a mismatch names the VCF line, the position, the REF as written and
the reference's bases there. Multi-allelic records become one `Variant` per ALT.
Insertions and deletions are kept and flagged (`Variant.is_substitution` is False), so a
task that scores substitutions only can refuse them by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mg.tasks.data.genome.reference import Reference

_BASES = frozenset("ACGTN")


@dataclass(frozen=True)
class Variant:
    """One ALT allele of a VCF record.

    Attributes:
        chrom (str): the chromosome as the VCF writes it.
        ref_chrom (str): the reference's name for that chromosome.
        pos (int): 1-based position, as in the VCF.
        ref (str): REF as written.
        alt (str): this ALT allele.
        allele (int): 1-based index of this ALT among the record's ALTs.
        vcf_id (str): the record's ID column (``.`` when none).
        line (int): the record's 1-based line in the VCF file.
        info (dict[str, Any]): the record's INFO fields.
    """

    chrom: str
    ref_chrom: str
    pos: int
    ref: str
    alt: str
    allele: int
    vcf_id: str
    line: int
    info: dict[str, Any]

    @property
    def key(self) -> str:
        """``CHROM:POS:REF:ALT``, the variant's id in outputs."""
        return f"{self.chrom}:{self.pos}:{self.ref}:{self.alt}"

    @property
    def is_substitution(self) -> bool:
        """True for SNVs and same-length substitutions (MNVs); False for indels."""
        return len(self.ref) == len(self.alt)

    def describe(self, path: str | Path) -> str:
        """Name the record for messages: ``file.vcf line 12 (chr1:100 A>AT)``."""
        return f"{Path(path).name} line {self.line} ({self.chrom}:{self.pos} {self.ref}>{self.alt})"


def read_variants(path: str | Path, reference: Reference) -> list[Variant]:
    """Read every ALT allele of a VCF, checking each record against the reference.

    Args:
        path (str | Path): ``.vcf`` or bgzip ``.vcf.gz``.
        reference (Reference): the genome the VCF's positions refer to.

    Returns:
        list[Variant]: one per ALT allele, in file order.

    Raises:
        ValueError: the file cannot be read as a VCF; a chromosome is not in the reference
            (under either spelling); a REF differs from the reference or runs past the
            chromosome end; an ALT is symbolic (``<DEL>``), a breakend, ``*`` or not DNA.
    """
    return list(iter_variants(path, reference))


def iter_variants(path: str | Path, reference: Reference) -> Iterator[Variant]:
    """Yield `read_variants`' variants one by one (memory flat in the number of records)."""
    import pysam

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"VCF {str(path)!r} does not exist.")
    try:
        vcf = pysam.VariantFile(str(path))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path.name} could not be read as a VCF: {error}") from None
    # pysam reads records in order; header lines come first, one record per line after.
    first_line = len(str(vcf.header).splitlines()) + 1
    with vcf:
        for offset, record in enumerate(vcf):
            line = first_line + offset
            where = f"{path.name} line {line}"
            chrom = reference.chromosome(record.chrom, where)
            ref = record.ref.upper()
            _check_ref(reference, chrom, record.pos, record.ref, where)
            info = dict(record.info.items())
            for allele, alt in enumerate(record.alts or (), start=1):
                problem = _alt_problem(alt)
                if problem is not None:
                    raise ValueError(
                        f"{where} ({record.chrom}:{record.pos}): ALT {alt!r} {problem}; "
                        "remove the record or normalise the VCF (bcftools norm)."
                    )
                yield Variant(
                    chrom=record.chrom,
                    ref_chrom=chrom,
                    pos=record.pos,
                    ref=ref,
                    alt=alt.upper(),
                    allele=allele,
                    vcf_id=record.id or ".",
                    line=line,
                    info=info,
                )


def _check_ref(reference: Reference, chrom: str, pos: int, ref: str, where: str) -> None:
    """Compare a record's REF with the reference's bases at its position."""
    size = reference.lengths[chrom]
    if pos < 1 or pos - 1 + len(ref) > size:
        raise ValueError(
            f"{where}: {chrom}:{pos} REF {ref!r} runs past the end of {chrom} "
            f"({size} bases); is the VCF for another genome build?"
        )
    held = reference.fetch(chrom, pos - 1, pos - 1 + len(ref))
    if held != ref.upper():
        raise ValueError(
            f"{where}: at {chrom}:{pos} the VCF writes REF {ref!r} but the reference holds "
            f"{held!r}; is the VCF for another genome build, or 0-based?"
        )


def _alt_problem(alt: str) -> str | None:
    if alt.startswith("<") or "[" in alt or "]" in alt:
        return "is a symbolic or breakend allele, which has no sequence to score"
    if alt == "*":
        return "is a spanning deletion ('*'), which has no sequence to score"
    if not alt or set(alt.upper()) - _BASES:
        return "is not a DNA allele (A, C, G, T, N)"
    return None
