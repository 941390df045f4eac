"""Wall time, throughput and peak memory of ``mg predict`` (and a training epoch) as rows grow.

Run: ``python benchmarks/scale.py [--rows 100000 1000000] [--storage memory disk] [--fit]``
(``--quick``: 20,000 and 100,000 rows; ``--huge`` adds 10,000,000 rows).

For each row count, random proteins of 50-300 residues are written to one CSV, then, for
each ``storage`` of ``SequenceData`` (``memory``: Python lists; ``disk``: the disk store of
`mg.tasks.data.store`), a fresh process runs ``mg predict`` with ``Embed`` on
``OneHotProtein`` (the compute is trivial, so the numbers are mg's own data path: reading,
checking, tokenizing, collating, writing). With ``--fit`` it also runs ``mg fit`` for one
epoch of ``SequenceClassification`` (same backbone, a linear head) on the same rows.

The table gives wall time, sequences/s, residues/s and the child's own peak resident
memory (from ``wait4``), and the ratio of disk to memory measured in the same run, so
growth per row and the cost of the disk store show at a glance.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mg.core.alphabets import PROTEIN

PREDICT = """\
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
    storage: {storage}
trainer:
  logger: false
  enable_progress_bar: false
  accelerator: cpu
"""

FIT = """\
model:
  class_path: SequenceClassification
  init_args:
    backbone:
      class_path: OneHotProtein
      init_args:
        max_length: 512
    adapter:
      class_path: LinearMeanPoolAdapter
    n_classes: 2
data:
  class_path: SequenceData
  init_args:
    train_file: {data}
    label_columns: label
    batch_size: {batch_size}
    storage: {storage}
trainer:
  max_epochs: 1
  logger: false
  enable_progress_bar: false
  accelerator: cpu
"""


def write_proteins(path: Path, rows: int, seed: int = 0) -> int:
    """Write ``rows`` random proteins (50-300 residues) with a 0/1 label; return residues."""
    rng = random.Random(seed)
    pool = "".join(rng.choices(PROTEIN, k=400_000))
    residues = 0
    with path.open("w") as handle:
        handle.write("id,sequence,label\n")
        for i in range(rows):
            length = rng.randint(50, 300)
            start = rng.randrange(0, len(pool) - length)
            handle.write(f"p{i},{pool[start : start + length]},{i % 2}\n")
            residues += length
    return residues


def run_child(folder: Path, command: str, config_text: str) -> tuple[float, float]:
    """Run one ``mg`` command in a child process; return (seconds, its peak RSS in MiB)."""
    config = folder / f"{command}.yaml"
    config.write_text(config_text)
    argv = [sys.executable, "-m", "mg.cli", command, "--config", str(config)]
    if command == "predict":
        argv += ["--output", str(folder / "embeddings.npy"), "--overwrite", "true"]
    log = folder / f"{command}.log"
    start = time.perf_counter()
    with log.open("w") as out:
        # In the run's folder: mg writes the config and versions it ran with where it runs.
        child = subprocess.Popen(argv, cwd=folder, stdout=out, stderr=out)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory
        child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"mg {command} failed:\n{log.read_text()[-3000:]}")
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--storage", nargs="+", default=["memory", "disk"])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--fit", action="store_true", help="also time one training epoch")
    parser.add_argument("--quick", action="store_true", help="20,000 and 100,000 rows")
    parser.add_argument("--huge", action="store_true", help="add 10,000,000 rows")
    options = parser.parse_args()
    rows_list = [20_000, 100_000] if options.quick else list(options.rows)
    if options.huge:
        rows_list.append(10_000_000)
    import torch

    print(
        f"python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}, {platform.platform()}"
    )
    print()
    print(
        "| command | rows | storage | seconds | sequences/s | residues/s | peak MiB | "
        "seconds vs memory | peak vs memory |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    commands = ["predict", "fit"] if options.fit else ["predict"]
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sorted(rows_list):
            data = Path(tmp) / f"proteins_{rows}.csv"
            residues = write_proteins(data, rows)
            for command in commands:
                baseline: tuple[float, float] | None = None
                for storage in options.storage:
                    folder = Path(tmp) / f"{command}_{rows}_{storage}"
                    folder.mkdir()
                    template = PREDICT if command == "predict" else FIT
                    text = template.format(
                        data=data, batch_size=options.batch_size, storage=storage
                    )
                    seconds, peak = run_child(folder, command, text)
                    if storage == "memory":
                        baseline = (seconds, peak)
                    ratios = (
                        f"{seconds / baseline[0]:.2f} | {peak / baseline[1]:.2f}"
                        if baseline is not None
                        else "- | -"
                    )
                    print(
                        f"| {command} | {rows:,} | {storage} | {seconds:.1f} | "
                        f"{rows / seconds:,.0f} | {residues / seconds:,.0f} | {peak:,.0f} | "
                        f"{ratios} |",
                        flush=True,
                    )
            data.unlink()


if __name__ == "__main__":
    main()
