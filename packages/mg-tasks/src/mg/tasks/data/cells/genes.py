"""Align a data set's genes to a cell backbone's gene vocabulary.

The data's genes are matched to the model's by symbol or Ensembl id (a version suffix is
ignored); model genes the data lacks read as the vocabulary's fill value; data genes the
model does not know are dropped. mg says once how many of the model's genes the data
has, and stops below a threshold, naming the gene column that would match better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from mg.core.cells import GeneVocabulary, gene_key

MIN_GENE_FRACTION = 0.5
"""Below this share of the model's genes found in the data, alignment stops."""


@dataclass(frozen=True)
class GeneAlignment:
    """Where each model gene sits in the data, and how to fill the rest.

    Attributes:
        data_columns (np.ndarray): for each model gene found, its column in the data.
        model_positions (np.ndarray): the matching positions in the model's vocabulary.
        size (int): the vocabulary's length (the aligned width).
        fill_value (float): what the model's missing genes read as.
        found (int): how many of the model's genes the data has.
    """

    data_columns: np.ndarray
    model_positions: np.ndarray
    size: int
    fill_value: float
    found: int

    @classmethod
    def build(
        cls,
        data_genes: Sequence[str],
        vocabulary: GeneVocabulary,
        *,
        where: str,
        column: str | None = None,
        other_columns: Mapping[str, Sequence[str]] | None = None,
        min_fraction: float = MIN_GENE_FRACTION,
    ) -> GeneAlignment:
        """Match the data's genes to the vocabulary.

        Args:
            data_genes (Sequence[str]): the data's gene names, one per column of its matrix.
            vocabulary (GeneVocabulary): the backbone's genes.
            where (str): the file or URI, for messages.
            column (str | None): the var column the names came from (None: the var index).
            other_columns (Mapping[str, Sequence[str]] | None): the data's other var columns
                of text, to name the one that would match better when too few genes match.
            min_fraction (float): the least share of the model's genes the data must have.

        Returns:
            GeneAlignment: the mapping.

        Raises:
            ValueError: too few of the model's genes are in the data (names the column to use).
        """
        kind = vocabulary.id_kind
        positions = {key: i for i, key in enumerate(vocabulary.keys())}
        data_columns: list[int] = []
        model_positions: list[int] = []
        seen: set[int] = set()
        for j, gene in enumerate(data_genes):
            i = positions.get(gene_key(gene, kind))
            if i is not None and i not in seen:  # a gene listed twice: its first column counts
                seen.add(i)
                data_columns.append(j)
                model_positions.append(i)
        found = len(model_positions)
        if found < min_fraction * len(vocabulary):
            raise ValueError(
                _too_few_message(
                    found, vocabulary, where, column, other_columns or {}, min_fraction
                )
            )
        return cls(
            np.asarray(data_columns, dtype=np.int64),
            np.asarray(model_positions, dtype=np.int64),
            len(vocabulary),
            float(vocabulary.fill_value),
            found,
        )

    def summary(self, where: str) -> str:
        """Say how many of the model's genes the data has (what mg prints once)."""
        share = 100.0 * self.found / self.size
        missing = self.size - self.found
        said = f"{where}: the data has {self.found} of the model's {self.size} genes ({share:.1f}%)"
        if not missing:
            return f"{said}."
        return f"{said}; the {missing} missing read as {self.fill_value:g}."

    def apply(self, rows: sparse.csr_matrix | np.ndarray) -> np.ndarray:
        """Return the rows over the model's vocabulary, as a dense float32 array.

        Args:
            rows (sparse.csr_matrix | np.ndarray): ``(cells, data genes)`` expression.

        Returns:
            np.ndarray: ``(cells, vocabulary size)``, missing genes at the fill value.
        """
        out = np.full((rows.shape[0], self.size), self.fill_value, dtype=np.float32)
        picked = rows[:, self.data_columns]
        out[:, self.model_positions] = (
            picked.toarray() if sparse.issparse(picked) else np.asarray(picked)
        )
        return out


def _too_few_message(
    found: int,
    vocabulary: GeneVocabulary,
    where: str,
    column: str | None,
    other_columns: Mapping[str, Sequence[str]],
    min_fraction: float,
) -> str:
    keys = set(vocabulary.keys())
    named = "the var index (var_names)" if column is None else f"var column {column!r}"
    better = max(
        (
            (sum(gene_key(g, vocabulary.id_kind) in keys for g in genes), name)
            for name, genes in other_columns.items()
            if name != column
        ),
        default=(0, None),
    )
    if better[1] is not None and better[0] > found:
        fix = f"var column {better[1]!r} matches {better[0]} of them: set gene_column: {better[1]}"
    else:
        fix = (
            f"set gene_column to the var column that holds {vocabulary.id_kind.value} names "
            f"(the model's genes look like {vocabulary.genes[0]!r})"
        )
    return (
        f"{where}: {named} matches only {found} of the model's {len(vocabulary)} genes "
        f"(fewer than {min_fraction:.0%}); {fix}."
    )
