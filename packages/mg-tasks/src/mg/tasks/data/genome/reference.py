"""A reference genome read by random access, chromosome names matched, windows cut from it.

The FASTA is opened through ``pyfaidx``: an index (``.fai``) is written beside it when
missing, and bgzip-compressed references (``.fa.gz`` with their ``.gzi``) are read in place.
Files that name chromosomes differently from the reference (``1`` against ``chr1``) are
mapped once, and said once; a name found under neither spelling is an error naming both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lightning.pytorch.utilities import rank_zero_info

Strand = Literal["+", "-"]
"""The strand a window is read on: ``-`` windows are reverse-complemented."""

PAD = "N"
"""What fills the part of a window that runs off a chromosome end."""

_COMPLEMENT = str.maketrans("ACGTNacgtnRYKMSWBDHVrykmswbdhv", "TGCANtgcanYRMKSWVHDByrmkswvhdb")


def reverse_complement(sequence: str) -> str:
    """Return the reverse complement of a DNA sequence (IUPAC codes and case kept)."""
    return sequence.translate(_COMPLEMENT)[::-1]


def other_spelling(name: str) -> str:
    """Return a chromosome name in the other spelling: ``chr1`` <-> ``1``, ``chrM`` <-> ``MT``."""
    if name in ("chrM", "chrMT"):
        return "MT"
    if name in ("MT", "M"):
        return "chrM"
    return name[3:] if name.startswith("chr") else f"chr{name}"


@dataclass(frozen=True)
class Window:
    """A stretch of the reference around a site.

    Attributes:
        chrom (str): the reference's chromosome name.
        start (int): 0-based start on the forward strand (may be negative: padded).
        sequence (str): the window's residues, read on ``strand``, upper case.
        strand (Strand): ``+`` or ``-``.
        padded (int): how many residues are padding (off a chromosome end).
    """

    chrom: str
    start: int
    sequence: str
    strand: Strand
    padded: int


class Reference:
    """A reference genome FASTA with indexed random access.

    Args:
        path (str | Path): FASTA file, plain or bgzip-compressed.

    Raises:
        ValueError: no path is given, the file is missing, is gzip but not bgzip, or is not a
            FASTA; each message names the file and the fix.
    """

    def __init__(self, path: str | Path) -> None:
        import pyfaidx

        if not str(path):  # an export leaves the genome to the machine it runs on
            raise ValueError(
                "No reference genome given: set the data's reference to the genome FASTA "
                "(--data.init_args.reference genome.fa)."
            )
        self.path = Path(path)
        if not self.path.is_file():
            raise ValueError(f"reference FASTA {str(self.path)!r} does not exist.")
        _refuse_plain_gzip(self.path)
        index = Path(f"{self.path}.fai")
        if not index.exists():
            rank_zero_info(f"Indexing reference {self.path} (writing {index.name}).")
        try:
            self._fasta = pyfaidx.Fasta(
                str(self.path), as_raw=True, sequence_always_upper=True, rebuild=False
            )
        except (pyfaidx.FastaIndexingError, pyfaidx.UnsupportedCompressionFormat) as error:
            raise ValueError(
                f"reference {str(self.path)!r} could not be indexed: {_one_line(error)}"
            ) from None
        except (pyfaidx.IndexNotFoundError, OSError) as error:
            # No index could be read or written beside the FASTA (read-only folder, a
            # broken index in the way): mg never reads a whole genome without one.
            raise ValueError(
                f"reference {str(self.path)!r} has no readable index and none could be written "
                f"({_one_line(error)}): write one with `samtools faidx {self.path.name}` where "
                f"the folder is writable, or remove a broken {index.name}."
            ) from None
        if not self._fasta.keys():
            raise ValueError(f"reference {str(self.path)!r} holds no sequence (is it a FASTA?).")
        self.lengths: dict[str, int] = {name: len(self._fasta[name]) for name in self._fasta.keys()}
        self._mapped: dict[str, str] = {}

    @property
    def names(self) -> list[str]:
        """The chromosome names, in file order."""
        return list(self.lengths)

    def chromosome(self, name: str, where: str) -> str:
        """Return the reference's name for a chromosome as another file writes it.

        ``1`` matches ``chr1`` (and ``MT`` matches ``chrM``) when only the other spelling is
        in the reference; the first such mapping of each file is said once.

        Args:
            name (str): the chromosome as written in the other file.
            where (str): the file (and line) it comes from, for messages.

        Returns:
            str: the chromosome's name in this reference.

        Raises:
            ValueError: neither spelling is in the reference.
        """
        if name in self.lengths:
            return name
        if name in self._mapped:
            return self._mapped[name]
        other = other_spelling(name)
        if other in self.lengths:
            if not self._mapped:
                rank_zero_info(
                    f"{where.split(',')[0]} names chromosomes like {name!r}, the reference "
                    f"{self.path.name} like {other!r}: mapped."
                )
            self._mapped[name] = other
            return other
        shown = ", ".join(repr(n) for n in self.names[:5]) + (
            ", ..." if len(self.names) > 5 else ""
        )
        raise ValueError(
            f"{where}: chromosome {name!r} is not in the reference {self.path.name}, nor is "
            f"{other!r} (it has {shown}); is the file for another genome build?"
        )

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Return the forward-strand residues of ``[start, end)`` (0-based, inside the chrom)."""
        return self._fasta[chrom][start:end]

    def window(self, chrom: str, center: int, length: int, strand: Strand = "+") -> Window:
        """Cut ``length`` residues around a 0-based position, padding off the chromosome ends.

        The window starts at ``center - length // 2``, so position ``center`` lands at index
        ``length // 2`` of a ``+`` window (the mirrored index on ``-``).

        Args:
            chrom (str): the reference's chromosome name.
            center (int): 0-based position the window is centred on.
            length (int): residues in the window.
            strand (Strand): ``-`` reverse-complements the window.

        Returns:
            Window: the window, with how many residues were padding.
        """
        return self.span(chrom, center - length // 2, length, strand)

    def span(self, chrom: str, start: int, length: int, strand: Strand = "+") -> Window:
        """Cut ``length`` residues from a 0-based ``start`` (may lie off the ends: padded)."""
        size = self.lengths[chrom]
        left = max(0, -start)
        right = max(0, start + length - size)
        inside = (
            self.fetch(chrom, max(0, start), min(size, start + length))
            if left + right < length
            else ""
        )
        sequence = PAD * min(left, length) + inside + PAD * min(right, length - left - len(inside))
        if strand == "-":
            sequence = reverse_complement(sequence)
        return Window(chrom, start, sequence, strand, len(sequence) - len(inside))


class PaddingCount:
    """Count windows that ran off a chromosome end, to say it once at the end of a read."""

    def __init__(self) -> None:
        self.windows = 0
        self.residues = 0

    def add(self, padded: int) -> None:
        """Count one window by its padded residues (windows without padding count nothing)."""
        if padded:
            self.windows += 1
            self.residues += padded

    def say(self, source: str) -> None:
        """Say, once, how many windows of ``source`` were padded."""
        if self.windows:
            rank_zero_info(
                f"{self.windows} window(s) of {source} ran off a chromosome end: "
                f"{self.residues} residue(s) padded with {PAD!r}."
            )


def _refuse_plain_gzip(path: Path) -> None:
    """Refuse a gzip (not bgzip) reference, which cannot be read by random access."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    if head[:2] != b"\x1f\x8b":
        return
    # A BGZF block carries the 'BC' extra subfield; plain gzip does not.
    if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC":
        return
    raise ValueError(
        f"reference {str(path)!r} is gzip-compressed but not with bgzip, so it cannot be read "
        f"by position: recompress it (gunzip {path.name}; bgzip {path.name[:-3]})."
    )


def _one_line(error: Any) -> str:
    return " ".join(str(error).split())


__all__ = [
    "PAD",
    "PaddingCount",
    "Reference",
    "Strand",
    "Window",
    "other_spelling",
    "reverse_complement",
]
