"""mg's data path alone (read -> tokenize -> collate -> write, no model), against a baseline.

Run: ``python benchmarks/data_path.py [--sequences 200000] [--quick] [--baseline fde4232]``

Writes N random proteins (lengths 50-300, seeded) to a CSV file, then times what
``mg predict`` does around the model, for each backbone:

- **read**: ``mg.tasks.data.readers.read_file`` (the public reader);
- **collate**: a ``DataLoader`` over the samples with ``Embed``'s ``collate`` (the
  backbone's check, tokenization and padding), ``num_workers=0`` as ``mg predict`` runs;
- **write**: ``PredictionWriter`` writing a TSV, batch by batch, of a stand-in prediction
  per batch (``--columns`` random floats per sequence, like a pooled embedding) with ids.

Backbones: ``onehot`` (``OneHotProtein``) and ``esm`` (``ESM2`` loaded from a temporary
folder holding a tiny random model and transformers' ``EsmTokenizer`` over the ESM-2
vocabulary, which is what published ESM-2 folders ship: a slow Python tokenizer with a
character-level vocabulary). The model itself is never called.

With ``--baseline COMMIT`` the same measurement runs, in a subprocess, against the mg
packages of that commit (extracted with ``git archive`` to a temporary folder and put first
on ``PYTHONPATH``), alternating with this checkout round by round, and the table gives
this checkout's speed over the baseline's.

``--workers 0,1,2`` adds a training-like loop (shuffled batches, a one-hot linear model's
forward and backward pass per batch on the main process) for each ``num_workers``
(persistent workers), in batches/s, to choose the data module's default.

Torch runs on one thread (``--threads``): on a shared 2-core machine two intra-op threads
make small tensor operations ~100x slower, which would measure the contention, not mg.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch.utils.data import DataLoader

PROTEIN = "ACDEFGHIKLMNPQRSTVWY"
REPO = Path(__file__).resolve().parent.parent


def write_proteins(path: Path, count: int, low: int, high: int, seed: int) -> int:
    """Write ``count`` random proteins to a CSV file; return the number of residues."""
    rng = random.Random(seed)
    # Slices of one long random string: drawing every letter would take longer than mg.
    pool = "".join(rng.choices(PROTEIN, k=200_000))
    residues = 0
    with path.open("w") as handle:
        handle.write("id,sequence\n")
        for index in range(count):
            length = rng.randint(low, high)
            start = rng.randrange(len(pool) - length)
            handle.write(f"protein_{index},{pool[start : start + length]}\n")
            residues += length
    return residues


def esm_folder(folder: Path) -> Path:
    """Save a tiny ESM-2 with transformers' slow EsmTokenizer, as published folders hold."""
    from transformers import EsmTokenizer

    from mg.backbones import ESM2Tiny
    from mg.backbones.tokenization import ESM_VOCAB

    folder.mkdir(parents=True, exist_ok=True)
    ESM2Tiny(max_length=512).exportable_model().save_pretrained(folder)
    (folder / "vocab.txt").write_text("\n".join(ESM_VOCAB))
    EsmTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


def build_task(backbone: str, workdir: Path) -> Any:
    """Return an ``Embed`` task with its backbone built (no weights used)."""
    from functools import partial

    from mg.backbones import ESM2, OneHotProtein
    from mg.tasks import Embed

    if backbone == "onehot":
        task = Embed(backbone=partial(OneHotProtein, max_length=512))
    else:
        folder = workdir / "esm"
        if not (folder / "config.json").exists():
            esm_folder(folder)
        task = Embed(backbone=partial(ESM2, model_path=str(folder), max_length=512))
    task.configure_model()
    return task


class _Strategy:
    def barrier(self, *args: Any) -> None:
        pass

    def reduce(self, value: Any, reduce_op: str = "sum") -> Any:
        return value


def predict_path(task: Any, csv_path: Path, out: Path, batch_size: int, columns: int) -> dict:
    """Read, collate and write every sequence once; return seconds per phase."""
    from mg.cli.writer import PredictionWriter
    from mg.tasks.data.readers import read_file

    trainer = SimpleNamespace(
        global_rank=0, world_size=1, is_global_zero=True, strategy=_Strategy(), datamodule=None
    )
    start = time.perf_counter()
    table = read_file(csv_path)
    samples = [
        {"sequences": s, "ids": i}
        for s, i in zip(table.columns["sequence"], table.columns["id"], strict=True)
    ]
    read = time.perf_counter() - start

    writer = PredictionWriter(output=str(out), overwrite=True)
    writer.setup(trainer, task, "predict")
    loader = DataLoader(samples, batch_size=batch_size, collate_fn=task.collate)
    generator = torch.Generator().manual_seed(0)
    collate = write = 0.0
    mark = time.perf_counter()
    for index, batch in enumerate(loader):
        now = time.perf_counter()
        collate += now - mark
        size = batch["input_ids"].shape[0]
        prediction = {
            "ids": batch["ids"],
            "predictions": torch.rand(size, columns, generator=generator),
        }
        mark = time.perf_counter()
        writer.write_on_batch_end(trainer, task, prediction, None, batch, index)
        now = time.perf_counter()
        write += now - mark
        mark = now
    mark = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        writer.on_predict_epoch_end(trainer, task)
    write += time.perf_counter() - mark
    return {"read": read, "collate": collate, "write": write}


def training_loop(task: Any, csv_path: Path, batch_size: int, workers: int, epochs: int) -> float:
    """Batches per second of a training-like loop with ``num_workers`` persistent workers."""
    from mg.tasks.data.readers import read_file

    table = read_file(csv_path)
    samples = [
        {"sequences": s, "ids": i}
        for s, i in zip(table.columns["sequence"], table.columns["id"], strict=True)
    ]
    loader = DataLoader(
        samples,
        batch_size=batch_size,
        shuffle=True,
        collate_fn=task.collate,
        num_workers=workers,
        persistent_workers=workers > 0,
    )
    vocab = task.backbone.get_vocab_size()
    weight = torch.zeros(vocab, 16, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1)
    batches = 0
    start = time.perf_counter()
    for _ in range(epochs):
        for batch in loader:
            hidden = torch.nn.functional.one_hot(batch["input_ids"], vocab).float() @ weight
            loss = (hidden * batch["attention_mask"][..., None]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            batches += 1
    return batches / (time.perf_counter() - start)


def measure(options: argparse.Namespace) -> dict:
    """Run every measurement of this process's mg once; return the results as JSON-able data."""
    torch.set_num_threads(options.threads)
    workdir = Path(options.workdir)
    csv_path = workdir / "proteins.csv"
    results: dict[str, Any] = {"path": {}, "workers": {}}
    from mg.tasks.data.readers import read_file

    read_file(csv_path)  # untimed: first-use costs (imports) and the file into the page cache
    for backbone in options.backbones.split(","):
        task = build_task(backbone, workdir)
        with tempfile.TemporaryDirectory() as out:
            results["path"][backbone] = predict_path(
                task, csv_path, Path(out) / "p.tsv", options.batch_size, options.columns
            )
    if options.workers:
        task = build_task(options.backbones.split(",")[0], workdir)
        for workers in [int(w) for w in options.workers.split(",")]:
            results["workers"][workers] = training_loop(
                task, csv_path, options.batch_size, workers, options.epochs
            )
    import mg.core

    results["mg_core"] = str(Path(mg.core.__file__).parent)
    return results


def run_child(options: argparse.Namespace, pythonpath: str | None) -> dict:
    """Measure in a fresh process (this checkout's mg, or the baseline's first on the path)."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    args = [sys.executable, __file__, "--child", "--workdir", options.workdir]
    for name in ("backbones", "batch_size", "columns", "threads", "workers", "epochs"):
        args += [f"--{name.replace('_', '-')}", str(getattr(options, name))]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def baseline_path(commit: str, folder: Path) -> str:
    """Extract the mg packages of ``commit``; return their source folders as a PYTHONPATH."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, "packages"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    sources = sorted((folder / "packages").glob("*/src"))
    return os.pathsep.join(str(s) for s in sources)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="20,000 sequences, one round")
    parser.add_argument("--min-length", type=int, default=50)
    parser.add_argument("--max-length", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--columns", type=int, default=8, help="floats written per sequence")
    parser.add_argument("--backbones", default="onehot,esm", help="onehot and/or esm")
    parser.add_argument("--baseline", default=None, help="a commit to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="", help="e.g. 0,1,2: the training-like loop")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the training loop")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(measure(options)))
        return
    if options.quick:
        options.sequences, options.rounds = min(options.sequences, 20_000), 1

    with tempfile.TemporaryDirectory() as workdir:
        options.workdir = workdir
        residues = write_proteins(
            Path(workdir) / "proteins.csv",
            options.sequences,
            options.min_length,
            options.max_length,
            options.seed,
        )
        variants = {"this": None}
        if options.baseline:
            base = Path(workdir) / "baseline"
            base.mkdir()
            variants = {"baseline": baseline_path(options.baseline, base), "this": None}
        runs: dict[str, list[dict]] = {name: [] for name in variants}
        for round_ in range(options.rounds):
            order = list(variants) if round_ % 2 == 0 else list(variants)[::-1]
            for name in order:
                runs[name].append(run_child(options, variants[name]))

    print(f"python {platform.python_version()}, torch {torch.__version__}, {platform.machine()}")
    print(f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}, torch threads {options.threads}")
    for name in runs:
        print(f"{name}: mg.core from {runs[name][0]['mg_core']}")
    print(
        f"{options.sequences:,} proteins, {residues:,} residues, lengths "
        f"{options.min_length}-{options.max_length}, batch {options.batch_size}, "
        f"{options.rounds} round(s), median\n"
    )
    header = ["backbone", "variant", "read s", "collate s", "write s", "total s"]
    header += ["residues/s", "sequences/s", "vs baseline"]
    print("| " + " | ".join(header) + " |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for backbone in options.backbones.split(","):
        totals = {}
        for name, rounds in runs.items():
            phases = {
                phase: statistics.median(r["path"][backbone][phase] for r in rounds)
                for phase in ("read", "collate", "write")
            }
            total = statistics.median(sum(r["path"][backbone].values()) for r in rounds)
            totals[name] = total
            ratio = f"{totals['baseline'] / total:.1f}x" if "baseline" in totals else "-"
            print(
                f"| {backbone} | {name} | {phases['read']:.2f} | {phases['collate']:.2f} | "
                f"{phases['write']:.2f} | {total:.2f} | {residues / total:,.0f} | "
                f"{options.sequences / total:,.0f} | {ratio} |"
            )
    if options.workers:
        print("\nTraining-like loop (one-hot linear model, shuffled), batches/s, median\n")
        print(
            "| variant | "
            + " | ".join(f"num_workers={w}" for w in options.workers.split(","))
            + " |"
        )
        print("|---|" + "---:|" * len(options.workers.split(",")))
        for name, rounds in runs.items():
            cells = [
                f"{statistics.median(r['workers'][w] for r in rounds):.1f}"
                for w in options.workers.split(",")
            ]
            print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
