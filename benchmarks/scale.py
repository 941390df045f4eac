"""Wall time, throughput and peak memory of ``mg predict`` as the number of rows grows.

Run: ``python benchmarks/scale.py [--rows 100000 1000000] [--batch-size 256]``

For each row count, random proteins of 50-300 residues are written to one CSV, then
``mg predict`` runs ``Embed`` on ``OneHotProtein`` (the compute is trivial, so the numbers
are mg's own data path: reading, checking, tokenizing, collating, writing) in a fresh
process. The table gives wall time, sequences/s, residues/s and the process's peak
resident memory (``ru_maxrss`` of the child), so growth per row shows at a glance.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mg.core.alphabets import PROTEIN

CONFIG = """\
model:
  class_path: Embed
  init_args:
    backbone:
      class_path: OneHotProtein
      init_args:
        max_length: 512
data:
  class_path: SequenceData
  init_args:
    predict_file: {data}
    batch_size: {batch_size}
trainer:
  logger: false
  enable_progress_bar: false
"""


def write_proteins(path: Path, rows: int, seed: int = 0) -> int:
    """Write ``rows`` random proteins (50-300 residues); return the number of residues."""
    rng = random.Random(seed)
    pool = "".join(rng.choices(PROTEIN, k=400_000))
    residues = 0
    with path.open("w") as handle:
        handle.write("id,sequence\n")
        for i in range(rows):
            length = rng.randint(50, 300)
            start = rng.randrange(0, len(pool) - length)
            handle.write(f"p{i},{pool[start : start + length]}\n")
            residues += length
    return residues


def run_predict(folder: Path, rows: int, batch_size: int) -> tuple[float, float, int]:
    """Predict ``rows`` proteins in a child process; return (seconds, peak RSS MiB, residues)."""
    data = folder / f"proteins_{rows}.csv"
    residues = write_proteins(data, rows)
    config = folder / "embed.yaml"
    config.write_text(CONFIG.format(data=data, batch_size=batch_size))
    output = folder / f"embeddings_{rows}.parquet"
    command = [sys.executable, "-m", "mg.cli", "predict", "--config", str(config)]
    command += ["--output", str(output), "--overwrite", "true"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=folder, capture_output=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far: runs go from small to large.
    return seconds, max(peak, before) / 1024, residues


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--batch-size", type=int, default=256)
    options = parser.parse_args()
    print(f"{'rows':>10} {'seconds':>8} {'sequences/s':>12} {'residues/s':>12} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sorted(options.rows):
            seconds, peak, residues = run_predict(Path(tmp), rows, options.batch_size)
            print(
                f"{rows:>10,} {seconds:>8.1f} {rows / seconds:>12,.0f} "
                f"{residues / seconds:>12,.0f} {peak:>9,.0f}"
            )


if __name__ == "__main__":
    main()
