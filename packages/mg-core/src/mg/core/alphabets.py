"""Residue alphabets, and a fast check of sequences against one.

The alphabets live here, once, so backbones, data generators and tests agree on them.
`AlphabetCheck` finds the first character outside an alphabet with one byte-table lookup
over the whole batch, instead of a Python set test per character.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence

import torch

DNA = "ACGT"
"""DNA residues."""

RNA = "ACGU"
"""RNA residues."""

PROTEIN = "ACDEFGHIKLMNPQRSTVWY"
"""The twenty standard amino acids."""

NUCLEOTIDE_AMBIGUITY = "N"
"""Accepted in DNA and RNA input (any nucleotide); never generated."""

PROTEIN_AMBIGUITY = "XBUZO"
"""Accepted in protein input (unknown, Asx, selenocysteine, Glx, pyrrolysine); never generated."""

RESIDUES: dict[str, str] = {"dna": DNA, "rna": RNA, "protein": PROTEIN}
"""Residues by modality value (``Modality.DNA`` looks up ``"dna"``)."""

Invalid = tuple[int, int, str]
"""Where a sequence leaves its alphabet: (sequence index, position, character)."""


class AlphabetCheck:
    """Check sequences against a set of ASCII characters, optionally ignoring case.

    Args:
        accepted (str): the characters sequences may hold.
        fold_case (bool): also accept the other case of each character, where that case is
            not itself accepted (``fold`` turns it into the accepted one).

    Raises:
        ValueError: ``accepted`` holds a character that is not ASCII (biological alphabets
            are; the byte table relies on it).
    """

    def __init__(self, accepted: str, *, fold_case: bool = True) -> None:
        wide = [c for c in accepted if not c.isascii()]
        if wide:
            raise ValueError(
                f"Alphabet characters must be ASCII; {wide[0]!r} is not. Set the alphabet to "
                "the residue letters alone."
            )
        self.accepted = "".join(dict.fromkeys(accepted))
        folds: dict[str, str] = {}
        if fold_case:
            for char in self.accepted:
                for variant in (char.lower(), char.upper()):
                    if variant not in self.accepted:
                        folds[variant] = char
        self._fold = str.maketrans(folds)
        self._has_folds = bool(folds)
        table = torch.zeros(256, dtype=torch.bool)
        table[[ord(c) for c in self.accepted + "".join(folds)]] = True
        self._table = table

    def fold(self, sequence: str) -> str:
        """Return ``sequence`` with each other-case character turned into the accepted one."""
        return sequence.translate(self._fold) if self._has_folds else sequence

    def find_invalid(self, sequences: Sequence[str]) -> Invalid | None:
        """Return the first character outside the alphabet, or None when there is none.

        Args:
            sequences (Sequence[str]): the sequences to check.

        Returns:
            Invalid | None: ``(sequence index, position, character)`` of the first offender.
        """
        encoded = [s.encode("utf-8") for s in sequences]
        joined = b"".join(encoded)
        if not joined:
            return None
        codes = torch.frombuffer(bytearray(joined), dtype=torch.uint8)
        bad = ~self._table[codes.long()]
        if not bool(bad.any()):
            return None
        first = int(bad.to(torch.uint8).argmax())
        ends = list(itertools.accumulate(len(e) for e in encoded))
        index = bisect.bisect_right(ends, first)
        # Every byte before the offender is an accepted ASCII character, so the byte
        # offset is also the character position.
        position = first - (ends[index - 1] if index else 0)
        return index, position, sequences[index][position]

    def invalid_characters(self, sequence: str) -> set[str]:
        """Return the characters of one sequence that are outside the alphabet."""
        return {c for c in set(sequence) if not (c.isascii() and self._table[ord(c)])}
