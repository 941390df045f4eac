"""Genome coordinates: reference FASTA, VCF and BED on real indexed files; every error one line."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np
import pytest
from genome_helpers import random_chromosomes, write_bed, write_bgzip_fasta, write_fasta, write_vcf

from mg.tasks.data.genome import (
    Reference,
    VcfVariants,
    read_bed,
    read_variants,
    reverse_complement,
    write_variant_scores,
)

LENGTHS = {"chr1": 300, "chr2": 150}


@pytest.fixture
def genome(tmp_path: Path) -> dict[str, str]:
    return random_chromosomes(LENGTHS, seed=1)


@pytest.fixture
def fasta(tmp_path: Path, genome: dict[str, str]) -> Path:
    return write_fasta(tmp_path / "genome.fa", genome)


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


def snv(genome: dict[str, str], chrom: str, pos: int, alt: str | None = None) -> tuple:
    ref = genome[chrom][pos - 1]
    return (chrom, pos, ref, (alt or next(b for b in "ACGT" if b != ref),), {})


# ------------------------------------------------------------------ reference


def test_index_is_written_when_missing_and_reads_match(fasta: Path, genome: dict[str, str]) -> None:
    assert not Path(f"{fasta}.fai").exists()
    reference = Reference(fasta)
    assert Path(f"{fasta}.fai").exists()
    assert reference.lengths == LENGTHS
    assert reference.fetch("chr1", 61, 130) == genome["chr1"][61:130]  # crosses line breaks
    assert Reference(fasta).fetch("chr2", 0, 150) == genome["chr2"]  # the index is reused


def test_bgzip_reference_reads_like_plain(tmp_path: Path, genome: dict[str, str]) -> None:
    reference = Reference(write_bgzip_fasta(tmp_path / "genome.fa.gz", genome))
    assert reference.fetch("chr1", 100, 250) == genome["chr1"][100:250]
    assert reference.window("chr2", 75, 20).sequence == genome["chr2"][65:85]


def test_plain_gzip_reference_is_refused_with_the_fix(tmp_path: Path, fasta: Path) -> None:
    zipped = tmp_path / "plain.fa.gz"
    zipped.write_bytes(gzip.compress(fasta.read_bytes()))
    with pytest.raises(ValueError) as error:
        Reference(zipped)
    assert "not with bgzip" in one_line(error) and "bgzip plain.fa" in str(error.value)


def test_missing_reference_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as error:
        Reference(tmp_path / "absent.fa")
    assert "absent.fa" in one_line(error) and "does not exist" in str(error.value)


def test_windows_centre_reverse_complement_and_pad(
    fasta: Path, genome: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    reference = Reference(fasta)
    plus = reference.window("chr1", 150, 21)
    assert plus.sequence == genome["chr1"][140:161] and plus.sequence[10] == genome["chr1"][150]
    minus = reference.window("chr1", 150, 21, strand="-")
    assert minus.sequence == reverse_complement(plus.sequence)
    assert reverse_complement("AACGTN") == "NACGTT"
    left = reference.window("chr2", 3, 20)
    assert left.sequence == "N" * 7 + genome["chr2"][:13] and left.padded == 7
    right = reference.window("chr2", 148, 20)
    assert right.sequence == genome["chr2"][138:] + "N" * 8 and right.padded == 8
    assert reference.span("chr2", 500, 5).sequence == "NNNNN"
    short = reference.span("chr2", -5, 160)  # longer than the chromosome: both ends padded
    assert short.sequence == "N" * 5 + genome["chr2"] + "N" * 5 and short.padded == 10


# ------------------------------------------------------------------ chromosome names


def test_other_chromosome_spelling_is_mapped_and_said_once(
    tmp_path: Path, fasta: Path, genome: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    records = [
        ("1", 10, genome["chr1"][9], ("A" if genome["chr1"][9] != "A" else "C",), {}),
        ("1", 20, genome["chr1"][19], ("A" if genome["chr1"][19] != "A" else "C",), {}),
        ("2", 5, genome["chr2"][4], ("A" if genome["chr2"][4] != "A" else "C",), {}),
    ]
    vcf = write_vcf(tmp_path / "ensembl.vcf", {"1": 300, "2": 150}, records)
    with caplog.at_level(logging.INFO):
        variants = read_variants(vcf, Reference(fasta))
    assert [v.ref_chrom for v in variants] == ["chr1", "chr1", "chr2"]
    assert variants[0].key.startswith("1:10:")  # outputs keep the VCF's names
    said = [r.getMessage() for r in caplog.records if "mapped" in r.getMessage()]
    assert len(said) == 1 and "'1'" in said[0] and "'chr1'" in said[0], said


def test_unknown_chromosome_names_both_spellings(
    tmp_path: Path, fasta: Path, genome: dict[str, str]
) -> None:
    vcf = write_vcf(tmp_path / "x.vcf", {"chrZ": 100}, [("chrZ", 3, "A", ("G",), {})])
    with pytest.raises(ValueError) as error:
        read_variants(vcf, Reference(fasta))
    message = one_line(error)
    assert "x.vcf line" in message and "'chrZ'" in message and "'Z'" in message, message
    assert "'chr1'" in message  # what the reference does have


# ------------------------------------------------------------------ VCF


def test_ref_mismatch_names_line_position_ref_and_reference_base(
    tmp_path: Path, fasta: Path, genome: dict[str, str]
) -> None:
    held = genome["chr1"][41]
    wrong = next(b for b in "ACGT" if b != held)
    records = [snv(genome, "chr1", 10), ("chr1", 42, wrong, ("T" if wrong != "T" else "G",), {})]
    vcf = write_vcf(tmp_path / "calls.vcf", LENGTHS, records)
    header_lines = sum(1 for line in vcf.read_text().splitlines() if line.startswith("#"))
    with pytest.raises(ValueError) as error:
        read_variants(vcf, Reference(fasta))
    message = one_line(error)
    assert f"calls.vcf line {header_lines + 2}" in message, message
    assert "chr1:42" in message and f"REF {wrong!r}" in message and f"holds {held!r}" in message


def test_ref_past_the_chromosome_end_is_named(tmp_path: Path, fasta: Path) -> None:
    vcf = write_vcf(tmp_path / "far.vcf", LENGTHS, [("chr2", 151, "A", ("G",), {})])
    with pytest.raises(ValueError) as error:
        read_variants(vcf, Reference(fasta))
    assert "chr2:151" in one_line(error) and "past the end" in str(error.value)


def test_bgzip_tabix_vcf_reads_like_plain_and_splits_multiallelic_records(
    tmp_path: Path, fasta: Path, genome: dict[str, str]
) -> None:
    ref = genome["chr1"][99]
    alts = tuple(b for b in "ACGT" if b != ref)[:2]
    records = [snv(genome, "chr1", 50), ("chr1", 100, ref, alts, {}), snv(genome, "chr2", 7)]
    plain = read_variants(write_vcf(tmp_path / "a.vcf", LENGTHS, records), Reference(fasta))
    zipped_path = write_vcf(tmp_path / "b.vcf.gz", LENGTHS, records)
    assert Path(f"{zipped_path}.tbi").exists()
    zipped = read_variants(zipped_path, Reference(fasta))
    assert [v.key for v in plain] == [v.key for v in zipped]
    assert [(v.pos, v.alt, v.allele) for v in plain[1:3]] == [
        (100, alts[0], 1),
        (100, alts[1], 2),
    ]
    assert plain[1].line == plain[2].line == plain[0].line + 1


def test_symbolic_alleles_are_named(tmp_path: Path, fasta: Path, genome: dict[str, str]) -> None:
    ref = genome["chr1"][9]
    vcf = write_vcf(tmp_path / "sv.vcf", LENGTHS, [("chr1", 10, ref, ("<DEL>",), {})])
    with pytest.raises(ValueError) as error:
        read_variants(vcf, Reference(fasta))
    assert "sv.vcf line" in one_line(error) and "'<DEL>'" in str(error.value)


def test_variant_samples_hold_window_mutation_and_labels(
    tmp_path: Path, fasta: Path, genome: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    chrom = genome["chr1"]
    insertion = ("chr1", 200, chrom[199], (chrom[199] + "TT",), {"CLNSIG": "Benign"})
    records = [
        ("chr1", 60, chrom[59], ("A" if chrom[59] != "A" else "C",), {"CLNSIG": "Pathogenic"}),
        insertion,
        (
            "chr2",
            2,
            genome["chr2"][1],
            ("A" if genome["chr2"][1] != "A" else "C",),
            {"CLNSIG": "Benign"},
        ),
    ]
    vcf = write_vcf(tmp_path / "clin.vcf.gz", LENGTHS, records, info={"CLNSIG": ("1", "String")})
    with caplog.at_level(logging.INFO):
        variants = VcfVariants(vcf, fasta, 16, label_tag="CLNSIG", positive=["Pathogenic"])
    first = variants[0]
    assert first["sequences"] == chrom[51:67] and first["sequences"][8] == chrom[59]
    assert first["mutations"] == f"{chrom[59]}9{records[0][3][0]}" and first["labels"] == 1.0
    indel = variants[1]
    assert indel["indel"] and "mutations" not in indel and indel["labels"] == 0.0
    assert indel["alternatives"] == (chrom[191:199] + chrom[199] + "TT" + chrom[200:])[:16]
    assert variants[2]["sequences"].startswith("N" * 7)  # position 2 of chr2: padded left
    said = [r.getMessage() for r in caplog.records if "ran off" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("1 window(s)"), said
    assert variants.origin(1).startswith("clin.vcf.gz line") and "chr1:200" in variants.origin(1)


def test_vcf_samples_are_the_windows_cut_by_hand_at_chromosome_ends_and_per_allele(
    tmp_path: Path, fasta: Path, genome: dict[str, str]
) -> None:
    """Each sample is cut when asked for: the same ids, windows, mutations and labels as the
    reference sliced by hand, padded with N off either end, one per ALT allele; and the same
    again from DataLoader workers, which read the reference through their own handle."""
    from torch.utils.data import DataLoader

    one, two = genome["chr1"], genome["chr2"]
    others = [b for b in "ACGT" if b != one[149]]
    records = [
        (*snv(genome, "chr1", 1)[:4], {"CLNSIG": "Pathogenic"}),  # first base: 5 padded
        ("chr1", 150, one[149], tuple(others), {"CLNSIG": "Benign"}),  # three ALT alleles
        (*snv(genome, "chr2", 148)[:4], {"CLNSIG": "Benign"}),  # 3rd-last base: 2 padded
        (*snv(genome, "chr2", 150)[:4], {"CLNSIG": "Pathogenic"}),  # last base: 4 padded
    ]
    vcf = write_vcf(tmp_path / "ends.vcf", LENGTHS, records, info={"CLNSIG": ("1", "String")})
    variants = VcfVariants(vcf, fasta, 11, label_tag="CLNSIG", positive=["Pathogenic"])

    def by_hand(sequence: str, pos: int) -> str:  # 11 residues, the variant at index 5
        padded = "N" * 11 + sequence + "N" * 11
        return padded[11 + pos - 1 - 5 : 11 + pos - 1 + 6]

    expected = []
    for chrom, pos, ref, alts, fields in records:
        for alt in alts:
            sequence = one if chrom == "chr1" else two
            expected.append(
                {
                    "ids": f"{chrom}:{pos}:{ref}:{alt}",
                    "sequences": by_hand(sequence, pos),
                    "mutations": f"{ref}6{alt}",
                    "labels": 1.0 if fields["CLNSIG"] == "Pathogenic" else 0.0,
                }
            )
    assert expected[0]["sequences"] == "NNNNN" + one[:6]  # the hand cut pads as documented

    def kept(sample: dict) -> dict:
        return {key: sample[key] for key in ("ids", "sequences", "mutations", "labels")}

    assert len(variants) == 6
    assert [kept(variants[i]) for i in range(len(variants))] == expected
    assert [variants.origin(i).split(" (")[0] for i in (1, 2, 3)] == [
        variants.origin(1).split(" (")[0]
    ] * 3  # one record, one line
    assert "chr1:150 " in variants.origin(3) and "chr2:150" in variants.origin(5)
    with pytest.raises(IndexError):
        variants[6]
    loader = DataLoader(variants, batch_size=2, num_workers=2, collate_fn=list)
    assert [kept(sample) for batch in loader for sample in batch] == expected


def test_label_value_outside_the_lists_is_named(
    tmp_path: Path, fasta: Path, genome: dict[str, str]
) -> None:
    record = snv(genome, "chr1", 30)
    vcf = write_vcf(
        tmp_path / "l.vcf",
        LENGTHS,
        [(*record[:4], {"CLNSIG": "Uncertain"})],
        info={"CLNSIG": ("1", "String")},
    )
    with pytest.raises(ValueError) as error:
        VcfVariants(vcf, fasta, 16, "CLNSIG", positive=["Pathogenic"], negative=["Benign"])
    assert "l.vcf line" in one_line(error) and "'Uncertain'" in str(error.value)


def test_scores_are_written_as_tsv_and_vcf_info(
    tmp_path: Path, fasta: Path, genome: dict[str, str]
) -> None:
    import pysam

    ref = genome["chr1"][99]
    alts = tuple(b for b in "ACGT" if b != ref)[:2]
    records = [snv(genome, "chr1", 50), ("chr1", 100, ref, alts, {})]
    vcf = write_vcf(tmp_path / "in.vcf.gz", LENGTHS, records)
    variants = read_variants(vcf, Reference(fasta))
    scores = {v.key: -float(i + 1) for i, v in enumerate(variants) if i != 2}  # one unscored
    write_variant_scores(vcf, scores, tmp_path / "s.tsv", tmp_path / "s.vcf.gz", "LLR")
    rows = [line.split("\t") for line in (tmp_path / "s.tsv").read_text().splitlines()]
    assert rows[0] == ["CHROM", "POS", "ID", "REF", "ALT", "score"]
    assert [r[5] for r in rows[1:]] == ["-1", "-2", ""]
    assert rows[2][:5] == ["chr1", "100", "vchr1_100", ref, alts[0]]
    with pysam.VariantFile(str(tmp_path / "s.vcf.gz")) as copied:
        written = [record.info.get("LLR") for record in copied]
    assert written == [(-1.0,), (-2.0, None)]
    # Scores in allele order (what VariantScoreWriter gathers) write the same files.
    ordered = np.array([-1.0, -2.0, np.nan])
    write_variant_scores(vcf, ordered, tmp_path / "o.tsv", tmp_path / "o.vcf.gz", "LLR")
    assert (tmp_path / "o.tsv").read_text() == (tmp_path / "s.tsv").read_text()
    with pysam.VariantFile(str(tmp_path / "o.vcf.gz")) as copied:
        assert [record.info.get("LLR") for record in copied] == written
    with pytest.raises(ValueError) as error:
        write_variant_scores(vcf, ordered[:2], tmp_path / "p.tsv", None, "LLR")
    assert "more ALT alleles than the 2 scores" in one_line(error)
    with pytest.raises(ValueError) as error:
        write_variant_scores(tmp_path / "s.vcf.gz", scores, tmp_path / "t.tsv", None, "LLR")
    assert "'LLR'" in one_line(error)


# ------------------------------------------------------------------ BED


def test_bed_intervals_and_their_errors(tmp_path: Path, fasta: Path) -> None:
    reference = Reference(fasta)
    bed = write_bed(tmp_path / "r.bed", [("chr1", 10, 30, "a", 0, "-"), ("2", 0, 5)])
    first, second = read_bed(bed, reference)
    assert (first.start, first.end, first.name, first.strand, first.center) == (
        10,
        30,
        "a",
        "-",
        20,
    )
    assert second.ref_chrom == "chr2" and second.name == "2:0-5" and second.line == 3
    for row, expected in [
        (("chr1", 30, 10), "start 30 and end 10"),
        (("chr1", "x", 10), "'x'"),
        (("chr1", 0, 301), "past chr1's 300 bases"),
        (("chr1", 0, 3, "n", 0, "*"), "strand '*'"),
        (("chr1 0 3",), "1 tab-separated column"),
    ]:
        with pytest.raises(ValueError) as error:
            read_bed(write_bed(tmp_path / "bad.bed", [row]), reference)
        assert "bad.bed line 2" in one_line(error) and expected in str(error.value), error.value
