"""`VariantScoreWriter`: `mg predict`'s variant scores as a TSV and a copy of the input VCF.

Add it to the trainer's callbacks when the data is a `VcfVariantData`: every ALT allele's
score goes to a TSV keyed by CHROM/POS/REF/ALT and, optionally, into an INFO field of a
copy of the VCF (``.vcf`` or bgzip ``.vcf.gz``), so a genome browser or bcftools reads
them beside the rest of each record. Under distributed prediction the processes' scores
are gathered to the first one, which writes. Files appear whole or not at all.

Scores are kept as one float per ALT allele in file order (8 bytes each, NaN until
scored), found from each prediction's id through the dataset's
`VariantTable`; the outputs are then written record by record as the VCF is read again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch

from mg.tasks.data.genome.variants import VcfVariantData, VcfVariants, write_variant_scores
from mg.tasks.data.whole_outputs import staged


class VariantScoreWriter(pl.Callback):
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
        self._scores = np.empty(0)  # one per variant, in file order; NaN until scored
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

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Run `check`, then make room for one score per variant."""
        self.check(trainer, pl_module)
        self._scores = np.full(len(self._variants(trainer)), np.nan)

    def on_predict_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Keep the batch's scores at their variants' places in the file."""
        table = self._variants(trainer).variants
        for variant_id, score in zip(outputs["ids"], outputs["predictions"].tolist(), strict=True):
            indices = table.indices_of(variant_id)
            if not indices:
                raise ValueError(
                    f"VariantScoreWriter got a score for {variant_id!r}, which is no variant of "
                    f"{trainer.datamodule.vcf}: the predictions are not of this data."
                )
            self._scores[indices] = float(score)

    def on_predict_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Gather every process's scores; the first process writes them."""
        scores = _merged(self._scores)
        if trainer.is_global_zero:
            self.write(trainer, scores)

    @staticmethod
    def _variants(trainer: pl.Trainer) -> VcfVariants:
        data = trainer.datamodule
        assert isinstance(data, VcfVariantData)
        return data.datasets["predict"]  # type: ignore[return-value]

    def write(self, trainer: pl.Trainer, scores: np.ndarray) -> None:
        """Write the TSV and, when asked, the VCF copy (``scores``: NaN where not scored)."""
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
        scored = int(np.count_nonzero(~np.isnan(scores)))
        print(f"Wrote the scores of {scored} variants to {shown}.", flush=True)


def _merged(scores: np.ndarray) -> np.ndarray:
    """Return every process's scores in one array (this process's alone outside DDP).

    Each process sends only what it scored (index and value), so the transfer and the
    first process's peak are a few bytes per variant whatever the number of processes.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return scores
    where = np.flatnonzero(~np.isnan(scores))
    parts: list[tuple[np.ndarray, np.ndarray] | None] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(parts, (where, scores[where]))
    merged = np.full(len(scores), np.nan)
    for part in parts:
        if part is not None:
            merged[part[0]] = part[1]
    return merged
