"""Zero-shot variant effect from a VCF on a reference: planted motif, indels, outputs."""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch
from genome_helpers import write_fasta, write_vcf
from task_helpers import adam, column, tiny_backbone

from mg.core.testing import InMemoryData
from mg.core.testing.contracts import fast_trainer
from mg.tasks import MLM, VariantEmbeddingDistance, VariantLikelihoodRatio
from mg.tasks.data.genome import VcfVariantData
from mg.tasks.data.genome.variants import scores_by_id

MOTIF = "TATAAT"
WINDOW = 24
backbone = partial(tiny_backbone, hidden_size=32)


def motif_genome(rng: random.Random, sites: int) -> tuple[str, list[int]]:
    """One chromosome: random stretches without the motif, the motif between them."""
    parts, starts, position = [], [], 0
    for _ in range(sites):
        gap = rng.randint(8, 20)
        background = "".join(rng.choice("ACGT") for _ in range(gap))
        while "TATA" in background:
            background = "".join(rng.choice("ACGT") for _ in range(gap))
        parts += [background, MOTIF]
        starts.append(position + gap)
        position += gap + len(MOTIF)
    return "".join(parts) + "C" * 30, starts


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A genome with a planted motif, a VCF of motif-breaking and other SNVs, a trained MLM."""
    folder = tmp_path_factory.mktemp("motif")
    rng = random.Random(0)
    sequence, starts = motif_genome(rng, 200)
    fasta = write_fasta(folder / "genome.fa", {"chr1": sequence})
    held_out = starts[100:160]  # the variants' sites; the MLM never sees their windows
    records = []
    for start in held_out:
        inside, outside = start + rng.randrange(len(MOTIF)), start - 1 - rng.randrange(6)
        for position, label in ((inside, "Pathogenic"), (outside, "Benign")):
            alt = rng.choice([b for b in "ACGT" if b != sequence[position]])
            records.append(("chr1", position + 1, sequence[position], (alt,), {"CLNSIG": label}))
    records.sort(key=lambda r: r[1])
    vcf = write_vcf(
        folder / "clinvar.vcf.gz", {"chr1": len(sequence)}, records, {"CLNSIG": ("1", "String")}
    )
    seen = starts[:100] + starts[160:]
    windows = [s - WINDOW // 2 + rng.randint(-8, 8) for s in seen for _ in range(20)]
    train = [{"ids": f"w{i}", "sequences": sequence[w : w + WINDOW]} for i, w in enumerate(windows)]
    torch.manual_seed(0)
    mlm = MLM(backbone, mask_rate=0.2, optimizer=adam(1e-2))
    fast_trainer(max_epochs=6, limit_val_batches=0).fit(
        mlm, datamodule=InMemoryData(train=train, batch_size=32)
    )
    return {"fasta": fasta, "vcf": vcf, "backbone": mlm.backbone, "folder": folder}


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


def test_motif_breaking_variants_from_a_vcf_score_lower(planted: dict[str, Any]) -> None:
    task = VariantLikelihoodRatio(backbone)
    task.backbone = planted["backbone"]
    data = vcf_data(planted)
    metrics = fast_trainer().test(task, datamodule=data)[0]
    predictions = fast_trainer().predict(task, datamodule=data)
    scores = torch.stack(column(predictions))
    labels = torch.tensor([s["labels"] for s in data.datasets["test"]])
    assert scores[labels == 1].mean() < scores[labels == 0].mean() - 0.3, scores
    assert metrics["test_auroc"] > 0.65, metrics
    # The same windows through an untrained backbone: no motif knowledge, chance ranking.
    untrained = VariantLikelihoodRatio(backbone)
    assert fast_trainer().test(untrained, datamodule=vcf_data(planted))[0]["test_auroc"] < (
        metrics["test_auroc"] - 0.15
    )
    # Scores go back out keyed by CHROM/POS/REF/ALT, and into the VCF's INFO.
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
    task.backbone = planted["backbone"]
    data = vcf_data(planted, indel_vcf(planted))
    scores = torch.stack(column(fast_trainer().predict(task, datamodule=data)))
    assert scores.shape == (2,) and bool((scores > 0).all()), scores
