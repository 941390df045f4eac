"""Intervals read from a BED file (0-based, end-exclusive), with the line each came from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mg.tasks.data.genome.reference import Reference, Strand

_SKIPPED = ("#", "track", "browser")


@dataclass(frozen=True)
class Interval:
    """One BED interval.

    Attributes:
        chrom (str): the chromosome as the BED writes it.
        ref_chrom (str): the reference's name for it.
        start (int): 0-based start.
        end (int): 0-based exclusive end.
        name (str): the name column, or ``chrom:start-end`` when absent or ``.``.
        strand (Strand): ``-`` for minus-strand intervals, else ``+``.
        line (int): 1-based line in the BED file.
    """

    chrom: str
    ref_chrom: str
    start: int
    end: int
    name: str
    strand: Strand
    line: int

    @property
    def center(self) -> int:
        """The 0-based middle position (right of the middle for even lengths).

        A window of the interval's own length centred here covers the interval exactly.
        """
        return (self.start + self.end) // 2


def read_bed(path: str | Path, reference: Reference) -> list[Interval]:
    """Read a BED file's intervals, matching its chromosome names to the reference.

    Args:
        path (str | Path): BED file (3 to 12 tab-separated columns; ``#``, ``track`` and
            ``browser`` lines skipped).
        reference (Reference): the genome its coordinates refer to.

    Returns:
        list[Interval]: the intervals, in file order.

    Raises:
        ValueError: a line has fewer than 3 columns, a start or end that is not a whole
            number, ``start >= end``, an end past the chromosome, a strand other than
            ``+``, ``-`` or ``.``, or a chromosome not in the reference.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"BED file {str(path)!r} does not exist.")
    intervals = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            if not text.strip() or text.startswith(_SKIPPED):
                continue
            intervals.append(_interval(text, line_number, path, reference))
    if not intervals:
        raise ValueError(f"BED file {path.name} holds no interval.")
    return intervals


def _interval(text: str, line: int, path: Path, reference: Reference) -> Interval:
    where = f"{path.name} line {line}"
    fields = text.split("\t")
    if len(fields) < 3:
        raise ValueError(
            f"{where}: {text!r} has {len(fields)} tab-separated column(s); BED needs chrom, "
            "start and end."
        )
    chrom = reference.chromosome(fields[0], where)
    try:
        start, end = int(fields[1]), int(fields[2])
    except ValueError:
        raise ValueError(
            f"{where}: start {fields[1]!r} and end {fields[2]!r} must be whole numbers."
        ) from None
    if not 0 <= start < end:
        raise ValueError(
            f"{where}: start {start} and end {end} do not make an interval (0 <= start < end; "
            "BED is 0-based, end-exclusive)."
        )
    if end > reference.lengths[chrom]:
        raise ValueError(
            f"{where}: end {end} lies past {chrom}'s {reference.lengths[chrom]} bases; is the "
            "BED for another genome build?"
        )
    name = (
        fields[3]
        if len(fields) > 3 and fields[3] not in ("", ".")
        else f"{fields[0]}:{start}-{end}"
    )
    strand_text = fields[5] if len(fields) > 5 else "."
    if strand_text not in ("+", "-", "."):
        raise ValueError(f"{where}: strand {strand_text!r} is not '+', '-' or '.'.")
    strand: Strand = "-" if strand_text == "-" else "+"
    return Interval(fields[0], chrom, start, end, name, strand, line)
