"""Genome coordinates: a reference FASTA, VCF variants, BED intervals, bigWig tracks.

Needs the ``genome`` extra (``pip install 'mg-tasks[genome]'``: pyfaidx, biopython for
bgzip references, pysam, pyBigWig).
"""

from mg.tasks.data.genome.bed import Interval, read_bed
from mg.tasks.data.genome.reference import PAD, Reference, Window, reverse_complement
from mg.tasks.data.genome.score_writer import VariantScoreWriter
from mg.tasks.data.genome.variants import VcfVariantData, VcfVariants, write_variant_scores
from mg.tasks.data.genome.vcf import Variant, read_variants

__all__ = [
    "PAD",
    "Interval",
    "Reference",
    "Variant",
    "VariantScoreWriter",
    "VcfVariantData",
    "VcfVariants",
    "Window",
    "read_bed",
    "read_variants",
    "reverse_complement",
    "write_variant_scores",
]
