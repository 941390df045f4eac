"""Scoring variants from a VCF: variants per second and peak memory against the VCF's size.

Run: ``python benchmarks/vcf_scoring.py [--records 10000,100000] [--quick]``

For each size, writes a synthetic reference (four chromosomes) and a bgzip-compressed,
tabix-indexed VCF of that many SNVs, then, in a fresh process per size, times:

- ``pysam``: iterating the VCF's records with pysam alone (the floor any reader pays);
- ``read``: `VcfVariants`, which checks every record's chromosome and REF against the
  reference and keeps each allele in a `VariantTable` (what runs before any weights
  load; windows are cut later, when a sample is asked for);
- ``score``: ``mg predict``'s path without the command line: `VcfVariantData` and
  `VariantLikelihoodRatio` (``marginal="wildtype"``) on a tiny random ``BertDNATiny``
  through a Lightning ``Trainer``, the scores written by `VariantScoreWriter` as a TSV and
  a bgzip VCF copy.

Ratios are against ``pysam`` of the same process. Memory is the process's peak resident
set, and that peak less the resident set after the imports (``above imports``): flat in
the number of records means the second column does not grow with ``--records``.

Needs the genome extra (``uv sync --all-packages --extra genome``).

Measured 2026-12-07 on the shared 2-core x86_64 CPU (1 torch thread), context 120,
batches of 256, ``--records 10000,100000``, before issue #29 (every variant and window
kept in lists) and after (flat arrays, windows cut on demand); the README's section on
this script has both tables and a second run:

======= ======= ========== ====== ======== ===============================
records version read+check scored peak RSS above imports MiB: read / whole
                var/s      var/s  MiB      run
======= ======= ========== ====== ======== ===============================
10000   before  20429      848    979      11 / 146
100000  before  20956      859    1066     102 / 229
10000   after   49256      684    965      2 / 132
100000  after   27193      621    958      3 / 121
======= ======= ========== ====== ======== ===============================

Memory above imports grew ~1060 bytes per record (read) and ~970 (whole run) before;
after, 20 bytes per record (read) and nothing beyond the whole run's ±15 MiB
run-to-run spread. Scored rates move with the shared machine's load (±25%).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMOSOMES = 4
SPACING = 12  # bases between neighbouring variants


def peak_mib() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(records: int, folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """Write the reference FASTA and a bgzip/tabix VCF of ``records`` SNVs; return both."""
    import pysam

    from mg.tasks.data.genome.synthetic import write_fasta

    rng = random.Random(seed)
    per_chromosome = -(-records // CHROMOSOMES)
    length = per_chromosome * SPACING + 400
    genome = {
        f"chr{i + 1}": "".join(rng.choice("ACGT") for _ in range(length))
        for i in range(CHROMOSOMES)
    }
    fasta = write_fasta(folder / f"genome_{records}.fa", genome)
    lines = ["##fileformat=VCFv4.2"]
    lines += [f"##contig=<ID={name},length={length}>" for name in genome]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    written = 0
    for name, sequence in genome.items():
        for k in range(min(per_chromosome, records - written)):
            pos = 200 + k * SPACING
            ref = sequence[pos - 1]
            alt = rng.choice([b for b in "ACGT" if b != ref])
            lines.append(f"{name}\t{pos}\tv{written}\t{ref}\t{alt}\t.\tPASS\t.")
            written += 1
    plain = folder / f"variants_{records}.vcf"
    plain.write_text("\n".join(lines) + "\n")
    vcf = folder / f"variants_{records}.vcf.gz"
    pysam.tabix_compress(str(plain), str(vcf), force=True)
    pysam.tabix_index(str(vcf), preset="vcf", force=True)
    plain.unlink()
    return fasta, vcf


def measure(fasta: Path, vcf: Path, context: int, batch_size: int) -> dict[str, float]:
    """Time pysam, the checked read and the scored predict run; take the memory peaks."""
    import lightning.pytorch as pl
    import pysam
    import torch

    from mg.backbones import BertDNATiny  # imported before the memory baseline
    from mg.tasks import VariantLikelihoodRatio
    from mg.tasks.data.genome import Reference, VariantScoreWriter, VcfVariantData, VcfVariants

    torch.set_num_threads(1)
    after_imports = peak_mib()
    start = time.perf_counter()
    with pysam.VariantFile(str(vcf)) as reader:
        records = sum(1 for _ in reader)
    pysam_s = time.perf_counter() - start

    start = time.perf_counter()
    variants = len(VcfVariants(vcf, Reference(fasta), context))
    read_s = time.perf_counter() - start
    read_peak = peak_mib()

    data = VcfVariantData(str(vcf), str(fasta), context_length=context, batch_size=batch_size)
    task = VariantLikelihoodRatio(BertDNATiny, marginal="wildtype")
    writer = VariantScoreWriter(
        str(vcf.with_suffix(".scores.tsv")), str(vcf.with_suffix(".scored.vcf.gz"))
    )
    trainer = pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[writer],
    )
    start = time.perf_counter()
    trainer.predict(task, datamodule=data, return_predictions=False)
    score_s = time.perf_counter() - start
    return {
        "records": records,
        "variants": variants,
        "pysam_per_s": records / pysam_s,
        "read_per_s": variants / read_s,
        "score_per_s": variants / score_s,
        "after_imports_mib": after_imports,
        "read_peak_mib": read_peak,
        "peak_mib": peak_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="10000,100000", help="comma-separated VCF sizes")
    parser.add_argument("--context", type=int, default=120, help="window length (residues)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--quick", action="store_true", help="1000 and 5000 records")
    parser.add_argument("--child", nargs=2, metavar=("FASTA", "VCF"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        fasta, vcf = (Path(p) for p in options.child)
        print(json.dumps(measure(fasta, vcf, options.context, options.batch_size)))
        return
    sizes = [1000, 5000] if options.quick else [int(n) for n in options.records.split(",")]
    print(f"python {sys.version.split()[0]}, context {options.context}, batch {options.batch_size}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            fasta, vcf = generate(size, Path(folder))
            child = [sys.executable, __file__, "--child", str(fasta), str(vcf)]
            child += ["--context", str(options.context), "--batch-size", str(options.batch_size)]
            done = subprocess.run(child, capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(
        "| records | pysam rec/s | read+check var/s (vs pysam) | scored var/s (vs pysam) "
        "| peak RSS MiB | above imports MiB: read / whole run |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['records']} | {r['pysam_per_s']:.0f} | {r['read_per_s']:.0f} "
            f"({r['read_per_s'] / r['pysam_per_s']:.3f}x) | {r['score_per_s']:.0f} "
            f"({r['score_per_s'] / r['pysam_per_s']:.4f}x) | {r['peak_mib']:.0f} "
            f"| {r['read_peak_mib'] - r['after_imports_mib']:.0f} / "
            f"{r['peak_mib'] - r['after_imports_mib']:.0f} |"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        added = last["records"] - first["records"]
        for name, key in (("read", "read_peak_mib"), ("whole run", "peak_mib")):
            growth = (
                (last[key] - last["after_imports_mib"]) - (first[key] - first["after_imports_mib"])
            ) / added
            print(
                f"{name}: memory above imports grows {growth * 1024 * 1024:.0f} bytes per "
                f"record from {first['records']} to {last['records']} records"
            )


if __name__ == "__main__":
    main()
