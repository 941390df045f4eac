"""Input kinds: what a backbone reads and what a data source yields.

A modality enters mg as a data source plus a backbone input kind (DESIGN.md section 9):
sequences are strings over an alphabet, cells are expression vectors over a gene
vocabulary. The compatibility layer compares the kinds before anything loads, the way it
compares label kinds.
"""

from __future__ import annotations

from enum import StrEnum


class InputKind(StrEnum):
    """The kind of sample a backbone reads.

    Attributes:
        SEQUENCE: a string of residues (DNA, RNA, protein), in a ``"sequences"`` column.
        CELLS: one cell's expression over genes, in an ``"expression"`` column.
    """

    SEQUENCE = "sequence"
    CELLS = "cells"


INPUT_COLUMNS: dict[InputKind, str] = {
    InputKind.SEQUENCE: "sequences",
    InputKind.CELLS: "expression",
}
"""The sample column that carries each input kind."""

INPUT_NOUNS: dict[InputKind, str] = {
    InputKind.SEQUENCE: "sequences",
    InputKind.CELLS: "cells (expression over genes)",
}
"""How messages name each input kind."""
