"""The cell input kind: backbones that read one cell's expression over a gene vocabulary.

A cell backbone declares its gene vocabulary (symbols or Ensembl ids, in the model's
order) and whether it reads raw counts. The data side aligns each cell's expression to
that vocabulary (missing genes read as the vocabulary's fill value) and yields samples
``{"ids": ..., "expression": float vector over the vocabulary, "labels": ...}``; the
backbone's `CellBackboneInterface.batch_cells` turns a stack of them into model inputs
(normalisation, ranking, read-depth tokens) inside the DataLoader workers, the way
`BackboneInterface.batch` tokenizes sequences.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from torch import Tensor

from mg.core.backbone import BackboneInterface
from mg.core.inputs import InputKind
from mg.core.padding import TokenizedBatch


class GeneIdKind(StrEnum):
    """How a gene vocabulary names genes.

    Attributes:
        SYMBOL: HGNC-style symbols (``"CD3E"``); matched case-sensitively.
        ENSEMBL: Ensembl gene ids (``"ENSG00000198851"``); a version suffix (``.12``) is
            ignored when matching.
    """

    SYMBOL = "symbol"
    ENSEMBL = "ensembl"


def gene_key(gene: str, kind: GeneIdKind) -> str:
    """Return the form of a gene name used for matching.

    Args:
        gene (str): the name as written.
        kind (GeneIdKind): how the vocabulary names genes.

    Returns:
        str: the name stripped of spaces; an Ensembl id without its version suffix.
    """
    gene = str(gene).strip()
    if kind is GeneIdKind.ENSEMBL:
        return gene.split(".", 1)[0].upper()
    return gene


def looks_like_ensembl(genes: Iterable[str]) -> bool:
    """Whether most of a few names look like Ensembl gene ids (``ENSG...``, ``ENSMUSG...``)."""
    sample = [str(g) for g, _ in zip(genes, range(200), strict=False)]
    return bool(sample) and sum(g.upper().startswith("ENS") for g in sample) > len(sample) / 2


@dataclass(frozen=True)
class GeneVocabulary:
    """The genes a cell backbone reads, in the order its inputs use them.

    Attributes:
        genes (tuple[str, ...]): gene names in model order.
        id_kind (GeneIdKind): whether ``genes`` are symbols or Ensembl ids.
        fill_value (float): what a gene absent from the data reads as.
    """

    genes: tuple[str, ...]
    id_kind: GeneIdKind = GeneIdKind.SYMBOL
    fill_value: float = 0.0

    def __post_init__(self) -> None:
        if not self.genes:
            raise ValueError("A gene vocabulary needs at least one gene.")
        keys = [gene_key(g, self.id_kind) for g in self.genes]
        if len(set(keys)) != len(keys):
            seen: set[str] = set()
            twice = next(k for k in keys if k in seen or seen.add(k))  # type: ignore[func-returns-value]
            raise ValueError(f"The gene vocabulary names {twice!r} twice; each gene once.")

    def __len__(self) -> int:
        return len(self.genes)

    @classmethod
    def from_names(cls, genes: Sequence[str], fill_value: float = 0.0) -> GeneVocabulary:
        """Build a vocabulary, telling symbols from Ensembl ids by the names themselves."""
        kind = GeneIdKind.ENSEMBL if looks_like_ensembl(genes) else GeneIdKind.SYMBOL
        return cls(tuple(str(g) for g in genes), kind, fill_value)

    @classmethod
    def from_file(cls, path: str | Path, fill_value: float = 0.0) -> GeneVocabulary:
        """Read a vocabulary from a text file with one gene per line (blank lines skipped).

        Raises:
            FileNotFoundError: the file does not exist (the message names it).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"Gene list {str(path)!r} does not exist: give a text file "
                "with one gene symbol or Ensembl id per line."
            )
        lines = path.read_text(encoding="utf-8").splitlines()
        return cls.from_names([g.strip() for g in lines if g.strip()], fill_value)

    def keys(self) -> list[str]:
        """Return the matching form of every gene, in model order."""
        return [gene_key(g, self.id_kind) for g in self.genes]


class CellBackboneInterface(BackboneInterface):
    """Base class of backbones that read cells: expression vectors over a gene vocabulary.

    Subclasses implement `gene_vocabulary` and `batch_cells` on top of `forward`,
    `get_embedding_size` and `get_num_layer`. `forward` takes what `batch_cells` returns
    (``input_ids`` may hold floats: expression values rather than token ids) and returns
    one hidden state per position, so the sequence adapters (pooling, CLS) read cells too.

    Class attributes:
        expects_counts: the model reads raw integer counts (it normalises them itself);
            the data checks refuse non-integer or log-normalised values for it.
    """

    input_kind: ClassVar[InputKind] = InputKind.CELLS
    expects_counts: ClassVar[bool] = True

    @classmethod
    def required_data_columns(cls) -> set[str]:
        """Return the data columns a cell backbone reads: ``{"expression"}``."""
        return {"expression"}

    @abstractmethod
    def gene_vocabulary(self) -> GeneVocabulary:
        """Return the genes the model reads, in order (the data is aligned to them)."""

    @classmethod
    def declared_gene_vocabulary(cls, options: Mapping[str, Any]) -> GeneVocabulary | None:
        """Return the genes the backbone will read, from its options, before any weights load.

        The data checks and the gene alignment run on it before the model is built. The
        default says it cannot be known before building (None); backbones whose genes come
        from an option or a shipped list override it.

        Args:
            options (Mapping[str, Any]): the backbone's keyword options as configured.

        Returns:
            GeneVocabulary | None: the genes, or None when only the built backbone knows them.
        """
        return None

    @abstractmethod
    def batch_cells(self, expression: Tensor) -> TokenizedBatch:
        """Turn aligned expression into model inputs; what a cell task's ``collate`` calls.

        Args:
            expression (Tensor): ``(cells, len(gene_vocabulary()))`` float tensor, one row
                per cell, columns in vocabulary order.

        Returns:
            TokenizedBatch: ``input_ids`` (expression values or gene token ids) and masks,
            ready for `forward`.
        """

    def get_vocab(self) -> dict[str, int]:
        """Return gene → position in the vocabulary."""
        return {gene: i for i, gene in enumerate(self.gene_vocabulary().genes)}

    def tokenize(
        self, sequences: Sequence[str], *, add_special_tokens: bool = True
    ) -> list[list[int]]:
        """Refuse sequences: a cell backbone reads expression (`batch_cells`)."""
        raise TypeError(self._no_sequences())

    def batch(
        self,
        sequences: Sequence[str],
        *,
        add_special_tokens: bool = True,
        pad_to_multiple_of: int | None = None,
    ) -> TokenizedBatch:
        """Refuse sequences: a cell backbone reads expression (`batch_cells`)."""
        raise TypeError(self._no_sequences())

    def _no_sequences(self) -> str:
        return (
            f"{type(self).__name__} reads cells (expression over genes), not sequences: give "
            "it a cell data source (.h5ad or TileDB-SOMA) and call batch_cells."
        )

    def get_max_context(self) -> int:
        """Return the number of positions the model reads: its genes by default."""
        return len(self.gene_vocabulary())
