"""Residue alphabets, and a fast check of sequences against one.

The alphabets live here, once, so backbones, data generators and tests agree on them.
`AlphabetCheck` finds the first character outside an alphabet with ``bytes.translate`` over
joined chunks of sequences (C speed), instead of a Python set test per sequence.
"""

from __future__ import annotations

from collections.abc import Sequence

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

_CHUNK = 4096
"""Sequences checked per join: bounds the extra memory to one chunk's bytes."""


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
        self._characters = frozenset(self.accepted + "".join(folds))
        self._bytes = "".join(sorted(self._characters)).encode("ascii")

    def fold(self, sequence: str) -> str:
        """Return ``sequence`` with each other-case character turned into the accepted one."""
        return sequence.translate(self._fold) if self._has_folds else sequence

    def find_invalid(self, sequences: Sequence[str]) -> Invalid | None:
        """Return the first character outside the alphabet, or None when there is none.

        Chunks of sequences are joined and run through ``bytes.translate``, which deletes
        every accepted byte in C: an empty remainder clears the whole chunk at once. Only a
        chunk with an offender is searched sequence by sequence.

        Args:
            sequences (Sequence[str]): the sequences to check.

        Returns:
            Invalid | None: ``(sequence index, position, character)`` of the first offender.
        """
        for start in range(0, len(sequences), _CHUNK):
            chunk = sequences[start : start + _CHUNK]
            joined = "".join(chunk)
            if joined.isascii() and not joined.encode("ascii").translate(None, self._bytes):
                continue
            for offset, sequence in enumerate(chunk):
                position = self._first_invalid(sequence)
                if position is not None:
                    return start + offset, position, sequence[position]
        return None

    def _first_invalid(self, sequence: str) -> int | None:
        if sequence.isascii() and not sequence.encode("ascii").translate(None, self._bytes):
            return None
        return next(i for i, c in enumerate(sequence) if c not in self._characters)

    def invalid_characters(self, sequence: str) -> set[str]:
        """Return the characters of one sequence that are outside the alphabet."""
        return set(sequence) - self._characters
