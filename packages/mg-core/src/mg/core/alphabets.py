"""Residue alphabets, and a fast check of sequences against one.

The alphabets live here, once, so backbones, data generators and tests agree on them.
`AlphabetCheck` checks a whole batch in one C-level pass over its bytes (deleting every
accepted byte and looking at what is left), instead of Python work per sequence.
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
        self._bytes = (self.accepted + "".join(folds)).encode("ascii")

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
        # Deleting the accepted bytes leaves nothing in a clean batch: one pass, in C.
        if not "".join(sequences).encode("utf-8").translate(None, self._bytes):
            return None
        for index, sequence in enumerate(sequences):
            bad = self.invalid_characters(sequence)
            if bad:
                position = min(sequence.find(c) for c in bad)
                return index, position, sequence[position]
        return None

    def invalid_characters(self, sequence: str) -> set[str]:
        """Return the characters of one sequence that are outside the alphabet."""
        left = sequence.encode("utf-8").translate(None, self._bytes)
        return set(left.decode("utf-8")) if left else set()
