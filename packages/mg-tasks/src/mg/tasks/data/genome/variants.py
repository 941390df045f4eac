"""VCF variants as samples for the zero-shot variant tasks, and their scores written back.

Each ALT allele becomes one sample: the reference window of ``context_length`` residues
centred on the variant (``"sequences"``), and either its substitution in window
coordinates (``"mutations"``, e.g. ``A65G``) or, for an insertion or deletion, the
variant's own window of the same length (``"alternatives"``) with ``"indel": True``, so a
task that scores substitutions only refuses it by name. ``"labels"`` come from an INFO
field when asked. Scores go back out as a TSV keyed by CHROM/POS/REF/ALT and as a copy of
the VCF with the score in an INFO field.
"""

from __future__ import annotations

import csv
import math
import os
from array import array
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mg.core.data import DataInterface, Sample
from mg.tasks.data.genome.reference import PaddingCount, Reference
from mg.tasks.data.genome.variant_table import VariantTable
from mg.tasks.data.genome.vcf import Variant, iter_variants


def variant_sample(
    variant: Variant, reference: Reference, context_length: int, path: str | Path
) -> tuple[Sample, int]:
    """Cut a variant's reference window and say how its allele changes it.

    The window starts ``context_length // 2`` residues before the variant's first REF
    base. Substitutions (SNVs, MNVs) are written as mutations in window coordinates;
    indels as the variant's window (the ALT spliced in, cut to the same length).

    Args:
        variant (Variant): the allele.
        reference (Reference): the genome.
        context_length (int): residues per window.
        path (str | Path): the VCF, for messages.

    Returns:
        tuple[Sample, int]: the sample, and how many residues of it are padding.

    Raises:
        ValueError: REF does not fit in the half-window after its first base.
    """
    check_fits(variant, context_length, path)
    offset = context_length // 2
    start = variant.pos - 1 - offset
    window = reference.span(variant.ref_chrom, start, context_length)
    sample: Sample = {
        "ids": variant.key,
        "sequences": window.sequence,
        "variant": variant.describe(path),
    }
    if variant.is_substitution:
        sample["mutations"] = (
            ":".join(
                f"{r}{offset + i + 1}{a}"
                for i, (r, a) in enumerate(zip(variant.ref, variant.alt, strict=True))
                if r != a
            )
            or "WT"
        )
        return sample, window.padded
    # The variant's window: what precedes REF, ALT, then what follows REF, cut to length.
    after = reference.span(
        variant.ref_chrom, variant.pos - 1 + len(variant.ref), context_length
    ).sequence
    alternative = (window.sequence[:offset] + variant.alt + after)[:context_length]
    sample["alternatives"] = alternative
    sample["indel"] = True
    return sample, window.padded


def check_fits(variant: Variant, context_length: int, path: str | Path) -> None:
    """Refuse a variant whose REF (or ALT) does not fit in its window.

    Raises:
        ValueError: REF does not fit in the half-window after its first base, or ALT in
            the window with REF taken out; the message names the record.
    """
    offset = context_length // 2
    if offset + len(variant.ref) > context_length or offset + len(
        variant.alt
    ) > context_length + len(variant.ref):
        raise ValueError(
            f"{variant.describe(path)}: REF and ALT do not fit in a {context_length}-residue "
            "window centred on the variant; raise context_length."
        )


def window_padding(variant: Variant, lengths: Mapping[str, int], context_length: int) -> int:
    """Count the residues of a variant's window that lie off its chromosome (as `variant_sample`).

    Args:
        variant (Variant): the allele.
        lengths (Mapping[str, int]): chromosome lengths by the reference's names.
        context_length (int): residues per window.

    Returns:
        int: residues padded, without reading the reference.
    """
    start = variant.pos - 1 - context_length // 2
    off = max(0, -start) + max(0, start + context_length - lengths[variant.ref_chrom])
    return min(context_length, off)


def info_label(
    variant: Variant,
    tag: str,
    path: str | Path,
    positive: Sequence[str] | None = None,
    negative: Sequence[str] | None = None,
) -> float:
    """Read a variant's label from an INFO field.

    With ``positive`` (and optionally ``negative``) values the label is 1 for a positive
    value, 0 for a negative one (or any other value when ``negative`` is not given);
    without, the field must be a number. Per-ALT fields (``Number=A``) are read for the
    variant's allele.

    Raises:
        ValueError: the field is missing, or is not a listed value or a number.
    """
    if tag not in variant.info:
        raise ValueError(
            f"{variant.describe(path)}: INFO has no {tag!r} field to read the label from."
        )
    value = variant.info[tag]
    if isinstance(value, tuple):
        value = value[variant.allele - 1] if len(value) > 1 else value[0]
    if positive is not None:
        text = str(value)
        if text in positive:
            return 1.0
        if negative is None or text in negative:
            return 0.0
        raise ValueError(
            f"{variant.describe(path)}: INFO {tag}={text!r} is neither a positive "
            f"({', '.join(positive)}) nor a negative ({', '.join(negative)}) value."
        )
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"{variant.describe(path)}: INFO {tag}={value!r} is not a finite number.")
    return number


class VcfVariants:
    """The variants of a VCF as samples: one per ALT allele, every record checked first.

    Reading checks every record against the reference (chromosome, REF) and reads every
    label before any sample is cut, and says once how many windows run off a chromosome
    end. Each allele is then kept in a `VariantTable` (a few dozen bytes; labels one byte
    each for ``positive`` values, eight for numbers), and its window is cut from the
    reference when the sample is asked for, so memory stays flat in the VCF's size.

    Args:
        vcf (str | Path): ``.vcf`` or bgzip ``.vcf.gz``.
        reference (str | Path | Reference): the genome FASTA.
        context_length (int): residues per window (the backbone's context).
        label_tag (str | None): INFO field holding each variant's label.
        positive (Sequence[str] | None): values of ``label_tag`` that mean 1 (damaging).
        negative (Sequence[str] | None): values that mean 0 (others are errors).

    Raises:
        ValueError: any problem `iter_variants`, `variant_sample` or `info_label` names.
    """

    def __init__(
        self,
        vcf: str | Path,
        reference: str | Path | Reference,
        context_length: int,
        label_tag: str | None = None,
        positive: Sequence[str] | None = None,
        negative: Sequence[str] | None = None,
    ) -> None:
        if context_length < 1:
            raise ValueError(
                f"context_length must be a positive number of residues, not {context_length}."
            )
        self.path = Path(vcf)
        self._reference: Reference | None = (
            reference if isinstance(reference, Reference) else Reference(reference)
        )
        self._reference_path = self._reference.path
        self._opened_by = os.getpid()
        self.context_length = context_length
        self.labelled = label_tag is not None
        self.variants = VariantTable()
        labels = array("b" if positive is not None else "d")
        padding = PaddingCount()
        for variant in iter_variants(self.path, self._reference):
            check_fits(variant, context_length, self.path)
            padding.add(window_padding(variant, self._reference.lengths, context_length))
            if label_tag is not None:
                label = info_label(variant, label_tag, self.path, positive, negative)
                labels.append(int(label) if positive is not None else label)
            self.variants.append(variant)
        if not len(self.variants):
            raise ValueError(f"{self.path.name} holds no variant record.")
        padding.say(self.path.name)
        self.labels: np.ndarray | None = (
            np.frombuffer(labels, labels.typecode) if label_tag is not None else None
        )

    @property
    def reference(self) -> Reference:
        """The genome, opened again in each process that reads it (DataLoader workers).

        pyfaidx reads through one file position, which forked processes would share.
        """
        if self._reference is None or self._opened_by != os.getpid():
            self._reference = Reference(self._reference_path)
            self._opened_by = os.getpid()
        return self._reference

    def __getstate__(self) -> dict[str, Any]:
        # The open FASTA stays behind; a process that unpickles the dataset opens its own.
        return {**self.__dict__, "_reference": None}

    def __len__(self) -> int:
        return len(self.variants)

    def __getitem__(self, index: int) -> Sample:
        sample, _ = variant_sample(
            self.variants[index], self.reference, self.context_length, self.path
        )
        if self.labels is not None:
            sample["labels"] = float(self.labels[index])
        return sample

    def origin(self, index: int) -> str:
        """Say where sample ``index`` came from: ``"file.vcf line 12 (chr1:100 A>G)"``."""
        return self.variants[index].describe(self.path)


class VcfVariantData(DataInterface):
    """Variants from a VCF on a reference genome, for the zero-shot variant tasks.

    Feeds `VariantLikelihoodRatio` and `VariantEmbeddingDistance` (``mg test`` with
    labels, ``mg predict``).

    Each ALT allele is one sample: its reference window of ``context_length`` residues and
    its substitution (or, for an indel, its own window; only embedding distance scores
    those). Every record's chromosome and REF are checked against the reference when the
    data is set up, before any weights load.

    Args:
        vcf (str): ``.vcf`` or bgzip ``.vcf.gz``.
        reference (str): the genome FASTA (plain or bgzip; indexed if it has no ``.fai``).
        context_length (int): residues per window; the backbone's context at most.
        label_tag (str | None): INFO field with each variant's label (needed by ``mg test``).
        positive (list[str] | None): values of ``label_tag`` meaning damaging (label 1).
        negative (list[str] | None): values meaning benign (label 0); others are errors.
        batch_size (int): variants per batch.
        num_workers (int): DataLoader workers.
    """

    def __init__(
        self,
        vcf: str,
        reference: str,
        context_length: int = 128,
        label_tag: str | None = None,
        positive: list[str] | None = None,
        negative: list[str] | None = None,
        batch_size: int = 16,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        self.vcf = vcf
        self.reference = reference
        self.context_length = context_length
        self.label_tag = label_tag
        self.positive = positive
        self.negative = negative
        self._variants: VcfVariants | None = None

    def provided_columns(self, stage: str) -> set[str]:
        """``ids``, ``sequences``, ``mutations``/``alternatives``, and ``labels`` when read."""
        columns = {"ids", "sequences", "mutations", "alternatives"}
        return columns | {"labels"} if self.label_tag is not None else columns

    def setup(self, stage: str | None = None) -> None:
        """Read and check the VCF once; the same variants serve ``test`` and ``predict``."""
        if self._variants is None:
            self._variants = VcfVariants(
                self.vcf,
                self.reference,
                self.context_length,
                self.label_tag,
                self.positive,
                self.negative,
            )
        self.datasets = {"test": self._variants, "predict": self._variants}  # type: ignore[dict-item]

    def write_scores(
        self,
        scores: Mapping[str, float] | np.ndarray,
        tsv: str | Path,
        vcf: str | Path | None = None,
        info_key: str = "MG_SCORE",
    ) -> None:
        """Write scores as a TSV and a VCF copy (see `write_variant_scores`)."""
        write_variant_scores(self.vcf, scores, tsv, vcf, info_key)


def write_variant_scores(
    source_vcf: str | Path,
    scores: Mapping[str, float] | np.ndarray,
    tsv: str | Path,
    vcf: str | Path | None = None,
    info_key: str = "MG_SCORE",
) -> None:
    """Write variant scores as a TSV keyed by CHROM/POS/REF/ALT, and as a VCF copy.

    The TSV has one row per ALT allele of the source VCF: ``CHROM POS ID REF ALT score``
    (an empty score for an allele that was not scored). The VCF copy keeps every record
    and adds ``info_key`` (``Number=A``, one score per ALT; ``.`` where not scored). Both
    are written record by record as the source is read: nothing but ``scores`` is held.

    Args:
        source_vcf (str | Path): the VCF the variants were read from.
        scores (Mapping[str, float] | np.ndarray): score of each variant id
            (``CHROM:POS:REF:ALT``), or one float per ALT allele in file order (the order
            of `VcfVariants`), NaN where not scored.
        tsv (str | Path): where the TSV goes.
        vcf (str | Path | None): where the VCF copy goes (``.vcf.gz``: bgzip), or None.
        info_key (str): the INFO field to hold the score.

    Raises:
        ValueError: ``info_key`` is already an INFO field of the source VCF, or an array
            of scores does not have one score per ALT allele of the source.
    """
    import pysam

    ordered = isinstance(scores, np.ndarray)
    with pysam.VariantFile(str(source_vcf)) as reader:
        if info_key in reader.header.info:
            raise ValueError(
                f"{Path(source_vcf).name} already has an INFO field {info_key!r}: "
                "choose another info_key."
            )
        header = reader.header.copy()
        header.add_meta(
            "INFO",
            items=[
                ("ID", info_key),
                ("Number", "A"),
                ("Type", "Float"),
                ("Description", "Variant score written by mg"),
            ],
        )
        writer = (
            pysam.VariantFile(str(vcf), "wz" if str(vcf).endswith(".gz") else "w", header=header)
            if vcf
            else None
        )
        allele_index = 0
        with open(tsv, "w", newline="", encoding="utf-8") as handle:
            table = csv.writer(handle, delimiter="\t", lineterminator="\n")
            table.writerow(["CHROM", "POS", "ID", "REF", "ALT", "score"])
            for record in reader:
                alleles = []
                for alt in record.alts or ():
                    if ordered:
                        score = _ordered_score(scores, allele_index, source_vcf)  # type: ignore[arg-type]
                    else:
                        score = scores.get(  # type: ignore[union-attr]
                            f"{record.chrom}:{record.pos}:{record.ref.upper()}:{alt.upper()}"
                        )
                    allele_index += 1
                    alleles.append(score)
                    table.writerow(
                        [
                            record.chrom,
                            record.pos,
                            record.id or ".",
                            record.ref,
                            alt,
                            "" if score is None else f"{score:.6g}",
                        ]
                    )
                if writer is not None:
                    copy = record.copy()
                    copy.translate(header)
                    if any(s is not None for s in alleles):
                        copy.info[info_key] = tuple(alleles)
                    writer.write(copy)
        if writer is not None:
            writer.close()
    if ordered and allele_index != len(scores):
        raise ValueError(
            f"{Path(source_vcf).name} has {allele_index} ALT alleles but {len(scores)} scores "
            "were given: was the VCF changed since it was read?"
        )


def _ordered_score(scores: np.ndarray, index: int, source_vcf: str | Path) -> float | None:
    if index >= len(scores):
        raise ValueError(
            f"{Path(source_vcf).name} has more ALT alleles than the {len(scores)} scores "
            "given: was the VCF changed since it was read?"
        )
    score = float(scores[index])
    return None if math.isnan(score) else score


def scores_by_id(predictions: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Gather ``{"ids", "predictions"}`` batches (what the variant tasks predict) by id."""
    gathered: dict[str, float] = {}
    for batch in predictions:
        for variant_id, score in zip(batch["ids"], batch["predictions"].tolist(), strict=True):
            gathered[variant_id] = float(score)
    return gathered
