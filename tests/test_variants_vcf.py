"""Variants from a real VCF on a real FASTA through the mg command: `mg test` scores them
against ClinVar-style labels, `mg predict` writes a TSV keyed by CHROM/POS/REF/ALT and a
bgzip VCF copy with the score in INFO, and a REF that disagrees with the reference stops
the run before any weights load, naming the line."""

from __future__ import annotations

import contextlib
import csv
import io
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from mg.cli.main import main
from mg.tasks.data.genome.synthetic import write_motif_variants

CHROMOSOMES = {"chr1": 400, "chr2": 300}


def _genome(folder: Path) -> dict[str, str]:
    rng = random.Random(7)
    genome = {
        name: "".join(rng.choice("ACGT") for _ in range(n)) for name, n in CHROMOSOMES.items()
    }
    with (folder / "genome.fa").open("w") as handle:
        for name, sequence in genome.items():
            handle.write(f">{name}\n")
            handle.writelines(sequence[i : i + 60] + "\n" for i in range(0, len(sequence), 60))
    return genome


def _vcf(folder: Path, genome: dict[str, str], wrong_ref_at: int | None = None) -> Path:
    """Twenty SNVs (one record with two ALT alleles), labelled Pathogenic or Benign."""
    rng = random.Random(3)
    lines = ["##fileformat=VCFv4.2"]
    lines += [f"##contig=<ID={name},length={n}>" for name, n in CHROMOSOMES.items()]
    lines.append('##INFO=<ID=CLNSIG,Number=1,Type=String,Description="Clinical significance">')
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    for k, (chrom, pos) in enumerate(
        sorted((c, p) for c in genome for p in rng.sample(range(20, len(genome[c]) - 20), 10))
    ):
        ref = genome[chrom][pos - 1]
        if k == wrong_ref_at:
            ref = next(b for b in "ACGT" if b != ref)
        others = [b for b in "ACGT" if b != genome[chrom][pos - 1]]
        alts = ",".join(others[:2]) if k == 0 else others[k % 3]
        label = "Pathogenic" if k % 2 else "Benign"
        lines.append(f"{chrom}\t{pos}\tv{k}\t{ref}\t{alts}\t.\tPASS\tCLNSIG={label}")
    path = folder / "variants.vcf"
    path.write_text("\n".join(lines) + "\n")
    return path


def _config(folder: Path, vcf: Path, **extra: Any) -> Path:
    config = {
        "trainer": {
            "enable_progress_bar": False,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(folder / "runs"), "name": "vcf"},
            },
            **extra,
        },
        "model": {
            "class_path": "VariantLikelihoodRatio",
            "init_args": {"backbone": "BertDNATiny", "labels": "binary"},
        },
        "data": {
            "class_path": "VcfVariantData",
            "init_args": {
                "vcf": str(vcf),
                "reference": str(folder / "genome.fa"),
                "context_length": 32,
                "label_tag": "CLNSIG",
                "positive": ["Pathogenic"],
                "negative": ["Benign"],
            },
        },
    }
    path = folder / "vcf.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _mg(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


def test_vcf_variants_are_tested_and_their_scores_written_as_tsv_and_vcf(tmp_path: Path) -> None:
    import pysam

    vcf = _vcf(tmp_path, _genome(tmp_path))
    status, _, err = _mg("test", "--config", str(_config(tmp_path, vcf)))
    assert status == 0, err
    (run,) = (tmp_path / "runs" / "vcf").iterdir()
    logged = [r for r in csv.DictReader((run / "metrics.csv").open()) if r.get("test_auroc")]
    assert logged and 0.0 <= float(logged[-1]["test_auroc"]) <= 1.0

    table, copy = tmp_path / "scores.tsv", tmp_path / "scored.vcf.gz"
    writer = {
        "class_path": "mg.tasks.data.genome.score_writer.VariantScoreWriter",
        "init_args": {"output": str(table), "vcf_output": str(copy), "info_key": "LLR"},
    }
    config = _config(tmp_path, vcf, callbacks=[writer])
    status, out, err = _mg("predict", "--config", str(config))
    assert status == 0, err
    assert "Wrote the scores of 21 variants" in out  # 20 records, one with two ALT alleles
    with table.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) == 21 and all(r["score"] for r in rows)
    by_key = {(r["CHROM"], int(r["POS"]), r["ALT"]): float(r["score"]) for r in rows}
    with pysam.VariantFile(str(copy)) as scored:
        records = list(scored)
    assert len(records) == 20
    for record in records:
        for alt, score in zip(record.alts, record.info["LLR"], strict=True):
            assert score == pytest.approx(by_key[(record.chrom, record.pos, alt)], rel=1e-5)
    # Outputs are never replaced: a second run stops and leaves the first run's files.
    before = table.read_text()
    status, _, err = _mg("predict", "--config", str(config))
    assert status != 0 and f"{table} exists" in err
    assert table.read_text() == before


def test_a_ref_that_disagrees_with_the_reference_stops_before_any_weights_load(
    tmp_path: Path,
) -> None:
    vcf = _vcf(tmp_path, _genome(tmp_path), wrong_ref_at=4)
    status, _, err = _mg("test", "--config", str(_config(tmp_path, vcf)))
    assert status != 0
    assert "variants.vcf line" in err and "REF" in err and "Traceback" not in err, err
    assert not (tmp_path / "runs").exists()


def test_two_process_ddp_writes_every_variant_once_with_the_single_process_scores(
    tmp_path: Path,
) -> None:
    """Under DDP each process scores its share; the first writes all 21 alleles in file
    order, each with the score one process gives it (the same seeded weights)."""
    import subprocess
    import sys

    vcf = _vcf(tmp_path, _genome(tmp_path))

    def writer(name: str) -> dict[str, Any]:
        return {
            "class_path": "mg.tasks.data.genome.score_writer.VariantScoreWriter",
            "init_args": {"output": str(tmp_path / f"{name}.tsv")},
        }

    single = _config(tmp_path, vcf, callbacks=[writer("single")])
    status, _, err = _mg("predict", "--config", str(single))
    assert status == 0, err
    ddp = _config(
        tmp_path,
        vcf,
        callbacks=[writer("ddp")],
        accelerator="cpu",
        devices=2,
        strategy="ddp",
    )
    # Lightning relaunches the command for the second process: run it as a command.
    done = subprocess.run(
        [sys.executable, "-m", "mg.cli", "predict", "--config", str(ddp)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Wrote the scores of 21 variants" in done.stdout

    def rows(name: str) -> list[dict[str, str]]:
        with (tmp_path / f"{name}.tsv").open() as handle:
            return list(csv.DictReader(handle, delimiter="\t"))

    alone, shared = rows("single"), rows("ddp")
    keys = [(r["CHROM"], r["POS"], r["REF"], r["ALT"]) for r in shared]
    assert keys == [(r["CHROM"], r["POS"], r["REF"], r["ALT"]) for r in alone]
    assert len(keys) == 21 and all(r["score"] for r in shared)
    assert [float(r["score"]) for r in shared] == pytest.approx(
        [float(r["score"]) for r in alone], rel=1e-4
    )


def test_motif_breaking_variants_score_lower_after_an_mlm_learns_the_motif(
    tmp_path: Path,
) -> None:
    """`mg fit` an MLM on windows of a genome, then `mg test` its VCF from the checkpoint.

    The benign variants change the same bases as the pathogenic ones, so only a model
    that learned the motif from its context ranks them apart.
    """
    files = write_motif_variants(tmp_path)
    backbone = {"class_path": "BertDNATiny", "init_args": {"hidden_size": 128}}
    mlm = {
        "seed_everything": 0,
        "trainer": {
            "max_epochs": 10,
            "enable_progress_bar": False,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(tmp_path / "runs"), "name": "mlm"},
            },
        },
        "model": {
            "class_path": "MLM",
            "init_args": {
                "backbone": backbone,
                "mask_rate": 0.2,
                "optimizer": {
                    "class_path": "torch.optim.Adam",
                    "init_args": {"lr": 0.001, "weight_decay": 0.0},
                },
            },
        },
        "data": {
            "class_path": "SequenceData",
            "init_args": {
                "train_file": str(files["train"]),
                "val_file": str(files["val"]),
                "batch_size": 32,
            },
        },
    }
    mlm_config = tmp_path / "mlm.yaml"
    mlm_config.write_text(yaml.safe_dump(mlm))
    status, _, err = _mg("fit", "--config", str(mlm_config))
    assert status == 0, err
    config = _config(tmp_path, files["vcf"])  # the genome.fa beside it, windows of 32
    scoring = yaml.safe_load(config.read_text())
    scoring["model"]["init_args"]["backbone"] = backbone
    config.write_text(yaml.safe_dump(scoring))

    def test_auroc(*extra: str) -> float:
        status, out, err = _mg("test", "--config", str(config), *extra)
        assert status == 0, err
        return float(out.split("test_auroc ")[1].split()[0])

    last = tmp_path / "runs" / "mlm" / "version_0" / "checkpoints" / "last.ckpt"
    learned = test_auroc("--ckpt_path", str(last))
    assert learned > 0.75
    # The same variants through the untrained backbone: it knows no motif.
    assert test_auroc() < learned - 0.15
