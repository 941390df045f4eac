"""`VariantScoreWriter`: `mg predict`'s variant scores as a TSV and a copy of the input VCF.

Add it to the trainer's callbacks when the data is a `VcfVariantData`: every ALT allele's
score goes to a TSV keyed by CHROM/POS/REF/ALT and, optionally, into an INFO field of a
copy of the VCF (``.vcf`` or bgzip ``.vcf.gz``), so a genome browser or bcftools reads
them beside the rest of each record. Under distributed prediction the processes' scores
are gathered to the first one, which writes. Files appear whole or not at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from mg.tasks.data.genome.variants import VcfVariantData, scores_by_id, write_variant_scores
from mg.tasks.data.whole_outputs import ByIdWriter, staged


class VariantScoreWriter(ByIdWriter):
    """Write the predicted score of each variant as a TSV and a VCF copy with an INFO field.

    Args:
        output (str): the TSV to write (``CHROM POS ID REF ALT score``, one row per ALT).
        vcf_output (str | None): a copy of the input VCF with the score in ``info_key``
            (bgzip when it ends in ``.gz``); None writes the TSV alone.
        info_key (str): the INFO field of the score (``Number=A``: one per ALT allele).

    Raises:
        ValueError: the outputs are one path, or ``info_key`` is empty.
    """

    def __init__(
        self, output: str, vcf_output: str | None = None, info_key: str = "MG_SCORE"
    ) -> None:
        if vcf_output is not None and Path(vcf_output) == Path(output):
            raise ValueError(f"output and vcf_output are both {output!r}: give two paths.")
        if not info_key:
            raise ValueError("info_key must name an INFO field, such as MG_SCORE.")
        super().__init__()
        self.output = Path(output)
        self.vcf_output = Path(vcf_output) if vcf_output else None
        self.info_key = info_key

    def _paths(self) -> list[Path]:
        return [self.output, *([self.vcf_output] if self.vcf_output else [])]

    def check(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Refuse data that is not a VCF, and outputs that exist, before the first batch.

        Raises:
            ValueError: the data module is not a `VcfVariantData`.
            FileExistsError: an output exists (nothing is replaced).
        """
        data = getattr(trainer, "datamodule", None)
        if not isinstance(data, VcfVariantData):
            raise ValueError(
                f"VariantScoreWriter writes the scores of a VcfVariantData's variants, but the "
                f"data module is {type(data).__name__}: use mg.cli.writer.PredictionWriter."
            )
        for path in self._paths():
            if path.exists():
                raise FileExistsError(
                    f"{path} exists: give VariantScoreWriter a new path, or remove it."
                )

    def by_id(self, outputs: Any) -> dict[str, float]:
        """Return the batch's scores by variant id (a float each)."""
        return scores_by_id([outputs])

    def write(self, trainer: pl.Trainer, scores: dict[str, Any]) -> None:
        """Write the TSV and, when asked, the VCF copy."""
        data = trainer.datamodule
        assert isinstance(data, VcfVariantData)
        with staged(self._paths()) as temporary:
            write_variant_scores(
                data.vcf,
                scores,
                temporary[self.output],
                temporary[self.vcf_output] if self.vcf_output else None,
                self.info_key,
            )
        shown = f"{self.output}" + (f" and {self.vcf_output}" if self.vcf_output else "")
        print(f"Wrote the scores of {len(scores)} variants to {shown}.", flush=True)
