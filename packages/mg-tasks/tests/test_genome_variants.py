"""Zero-shot variant effect from a VCF on a reference: planted motif, indels, outputs."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch
from genome_helpers import write_vcf
from task_helpers import column, tiny_backbone

from mg.core.testing.contracts import fast_trainer
from mg.tasks import VariantEmbeddingDistance, VariantLikelihoodRatio
from mg.tasks.data.genome import VcfVariantData
from mg.tasks.data.genome.synthetic import write_motif_variants
from mg.tasks.data.genome.variants import scores_by_id

WINDOW = 24
backbone = partial(tiny_backbone, hidden_size=32)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A genome with a planted motif and a ClinVar-style VCF of 120 SNVs around it.

    Whether a masked LM that learned the motif ranks the motif-breaking variants lower is
    tested through ``mg fit`` and ``mg test`` (tests/test_variants_vcf.py).
    """
    folder = tmp_path_factory.mktemp("motif")
    return {**write_motif_variants(folder, window=WINDOW), "folder": folder}


def vcf_data(planted: dict[str, Any], vcf: Path | None = None) -> VcfVariantData:
    return VcfVariantData(
        str(vcf or planted["vcf"]),
        str(planted["fasta"]),
        context_length=WINDOW,
        label_tag="CLNSIG",
        positive=["Pathogenic"],
        negative=["Benign"],
        batch_size=32,
    )


def test_vcf_scores_go_out_keyed_by_variant_and_into_info(planted: dict[str, Any]) -> None:
    task = VariantLikelihoodRatio(backbone)
    data = vcf_data(planted)
    metrics = fast_trainer().test(task, datamodule=data)[0]
    assert {"test_auroc", "test_auprc"} <= set(metrics)
    predictions = fast_trainer().predict(task, datamodule=data)
    by_id = scores_by_id(predictions)
    data.write_scores(by_id, planted["folder"] / "s.tsv", planted["folder"] / "s.vcf", "LLR")
    rows = (planted["folder"] / "s.tsv").read_text().splitlines()[1:]
    first = rows[0].split("\t")
    assert float(first[5]) == pytest.approx(by_id[f"chr1:{first[1]}:{first[3]}:{first[4]}"], 1e-5)
    assert len(rows) == len(by_id) == 120
    copied = (planted["folder"] / "s.vcf").read_text()
    assert "##INFO=<ID=LLR,Number=A,Type=Float" in copied and copied.count("LLR=") == 120


def indel_vcf(planted: dict[str, Any]) -> Path:
    sequence = "".join(line.strip() for line in planted["fasta"].read_text().splitlines()[1:])
    records = [
        ("chr1", 300, sequence[299], ("G" if sequence[299] != "G" else "C",), {"CLNSIG": "Benign"}),
        ("chr1", 400, sequence[399], (sequence[399] + "GG",), {"CLNSIG": "Pathogenic"}),
    ]
    return write_vcf(
        planted["folder"] / "indel.vcf",
        {"chr1": len(sequence)},
        records,
        {"CLNSIG": ("1", "String")},
    )


def test_likelihood_ratio_refuses_an_indel_naming_the_record(planted: dict[str, Any]) -> None:
    task = VariantLikelihoodRatio(backbone)
    with pytest.raises(ValueError) as error:
        fast_trainer().test(task, datamodule=vcf_data(planted, indel_vcf(planted)))
    message = str(error.value)
    assert "\n" not in message and "indel.vcf line" in message and "chr1:400" in message
    assert "substitutions only" in message and task.backbone is None  # before weights load


def test_embedding_distance_scores_an_indel(planted: dict[str, Any]) -> None:
    task = VariantEmbeddingDistance(backbone)
    data = vcf_data(planted, indel_vcf(planted))
    scores = torch.stack(column(fast_trainer().predict(task, datamodule=data)))
    assert scores.shape == (2,) and bool((scores > 0).all()), scores
