"""`VariantTable`: a VCF's ALT alleles held as a few flat arrays, a fixed cost per allele.

A `Variant` carries Python strings and the record's INFO dict (about a kilobyte each);
a table of a hundred thousand of them is a hundred megabytes. The table keeps what a
sample and a message need (chromosome index, position, line, REF and ALT bytes) in
typed arrays instead, some forty bytes per SNV, and gives a `Variant` back on demand.
"""

from __future__ import annotations

from array import array

import numpy as np

from mg.tasks.data.genome.vcf import Variant


class VariantTable:
    """ALT alleles appended in file order, read back by index or found by id.

    The table keeps neither the record's ID column nor its INFO fields: read what you
    need of those (a label, say) while appending.
    """

    def __init__(self) -> None:
        self._chromosomes: list[tuple[str, str]] = []  # (as the VCF writes it, reference's)
        self._chromosome_index: dict[str, int] = {}
        # array.array grows in place without a Python object per item; frozen to numpy.
        self._chrom = array("i")
        self._pos = array("q")
        self._line = array("q")
        self._ref_length = array("i")
        self._allele = array("H")
        self._start = array("q", [0])  # where each allele's REF+ALT bytes start
        self._alleles = bytearray()
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None

    def append(self, variant: Variant) -> None:
        """Keep one allele (its INFO and ID are dropped)."""
        index = self._chromosome_index.get(variant.chrom)
        if index is None:
            index = self._chromosome_index[variant.chrom] = len(self._chromosomes)
            self._chromosomes.append((variant.chrom, variant.ref_chrom))
        self._chrom.append(index)
        self._pos.append(variant.pos)
        self._line.append(variant.line)
        self._ref_length.append(len(variant.ref))
        self._allele.append(variant.allele)
        self._alleles += (variant.ref + variant.alt).encode("ascii")
        self._start.append(len(self._alleles))
        self._sorted = None

    def __len__(self) -> int:
        return len(self._chrom)

    def __getitem__(self, index: int) -> Variant:
        """Return allele ``index`` as a `Variant` (no ``vcf_id``: ``.``; no ``info``)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"variant {index} of {len(self)}")
        index %= len(self)
        chrom, ref_chrom = self._chromosomes[self._chrom[index]]
        start, split, end = (
            self._start[index],
            self._start[index] + self._ref_length[index],
            self._start[index + 1],
        )
        return Variant(
            chrom=chrom,
            ref_chrom=ref_chrom,
            pos=self._pos[index],
            ref=self._alleles[start:split].decode("ascii"),
            alt=self._alleles[split:end].decode("ascii"),
            allele=self._allele[index],
            vcf_id=".",
            line=self._line[index],
            info={},
        )

    def indices_of(self, key: str) -> list[int]:
        """Return the indices of the alleles whose id (``CHROM:POS:REF:ALT``) is ``key``.

        Several when the VCF repeats an allele; none for an id not in the file.
        """
        # Chromosome names may hold ':' (HLA contigs); POS, REF and ALT never do.
        parts = key.rsplit(":", 3)
        if len(parts) != 4 or parts[0] not in self._chromosome_index or not parts[1].isdigit():
            return []
        chrom, pos, ref, alt = parts
        keys, order = self._sorted_keys()
        wanted = (self._chromosome_index[chrom] << 40) | int(pos)
        low, high = np.searchsorted(keys, [wanted, wanted + 1])
        found = []
        for index in order[low:high].tolist():
            variant = self[index]
            if variant.ref == ref and variant.alt == alt:
                found.append(index)
        return found

    def _sorted_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """(chromosome, position) as one sorted int64 per allele, and the order sorting it.

        Built on the first look-up (``mg test`` never asks): 12 bytes per allele.
        """
        if self._sorted is None:
            # 2**40 positions per chromosome: more than any genome's longest.
            keys = (np.frombuffer(self._chrom, dtype=np.int32).astype(np.int64) << 40) | (
                np.frombuffer(self._pos, dtype=np.int64)
            )
            order = np.argsort(keys, kind="stable").astype(
                np.int32 if len(self) < 2**31 else np.int64
            )
            self._sorted = (keys[order], order)
        return self._sorted
