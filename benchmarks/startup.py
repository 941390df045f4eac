"""Time from `mg fit` starting to its first training step, against importing the libraries.

Run: ``python benchmarks/startup.py [--repeats N] [--config configs/quickstart.yaml]
[--threads 1,2,4]``

Startup: three commands, each in a new process, timed from launch:

- ``import``: ``python -c "import lightning, transformers"``, the floor every Lightning +
  transformers program pays;
- ``mg help``: ``mg --help``, which imports neither;
- ``mg fit``: ``mg fit --config CONFIG`` up to the start of its first training step (a
  callback prints the wall clock there and the run stops after that step).

``mg fit - import`` is what mg adds before work starts: parsing and checking the config,
reading the data, building the model, Lightning's set-up. Rounds repeat (``--repeats``)
and the median is shown, which steadies the numbers on a busy machine.

Threads: steps/s of the quickstart's task (forward, backward, AdamW) on one batch with
each intra-op thread count of ``--threads``, in the same process, rotated each round;
ratios are against one thread. mg's default is ``min(usable cores, 4)``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MARK = "FIRST_STEP_AT"
CALLBACK = f'''
import sys, time
from lightning.pytorch.callbacks import Callback


class FirstStep(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == 0:
            print("{MARK}", time.time(), file=sys.stderr, flush=True)
'''


def _time_command(command: list[str], env: dict[str, str]) -> float:
    start = time.time()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    end = time.time()
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    for line in result.stderr.splitlines():
        if line.startswith(MARK):
            return float(line.split()[1]) - start
    return end - start


def startup(config: str, repeats: int) -> dict[str, float]:
    """Median seconds from launch to: imports done, `mg --help` done, first training step."""
    folder = Path(tempfile.mkdtemp(prefix="mg-startup-"))
    (folder / "first_step.py").write_text(CALLBACK)
    env = {**os.environ, "PYTHONPATH": str(folder)}
    mg = [sys.executable, "-m", "mg.cli"]
    commands = {
        "import": [sys.executable, "-c", "import lightning, transformers"],
        "mg help": [*mg, "--help"],
        "mg fit": [
            *mg,
            "fit",
            "--config",
            config,
            "--trainer.max_steps",
            "1",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.callbacks+=first_step.FirstStep",
            "--trainer.logger.init_args.save_dir",
            str(folder / "runs"),
        ],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            times[name].append(_time_command(command, env))
    return {name: statistics.median(values) for name, values in times.items()}


def threads(config: str, counts: list[int], repeats: int, steps: int = 10) -> dict[int, float]:
    """Median training steps/s of the config's task on one batch, per thread count."""
    import torch

    from mg.cli.lightning import MGCLI

    cli = MGCLI(["--config", config], run=False)
    task, data = cli.model, cli.datamodule
    data.setup("fit")
    task.configure_model()
    data.collate_fn = task.collate  # what attaching both to a Trainer does
    loader = data.train_dataloader()
    batch = next(iter(loader))
    optimizer = torch.optim.AdamW([p for p in task.parameters() if p.requires_grad], lr=1e-3)
    task.train()

    def step() -> None:
        loss = task.training_step(batch, 0)
        loss = loss["loss"] if isinstance(loss, dict) else loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    rates: dict[int, list[float]] = {n: [] for n in counts}
    for round_ in range(repeats):
        order = counts[round_ % len(counts) :] + counts[: round_ % len(counts)]
        for n in order:
            torch.set_num_threads(n)
            step()  # warm-up at this thread count
            start = time.perf_counter()
            for _ in range(steps):
                step()
            rates[n].append(steps / (time.perf_counter() - start))
    return {n: statistics.median(values) for n, values in rates.items()}


def main() -> None:
    """Print the environment and both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/quickstart.yaml")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", default="1,2,4")
    parser.add_argument("--skip-startup", action="store_true")
    options = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {load:.1f}")
    if not options.skip_startup:
        times = startup(options.config, options.repeats)
        print("\nseconds from launch (median of", options.repeats, "rounds)")
        for name, seconds in times.items():
            print(f"  {name:<10} {seconds:6.2f}")
        added = times["mg fit"] - times["import"]
        print(
            f"  mg fit - import: {added:.2f} s; mg fit / import: "
            f"{times['mg fit'] / times['import']:.2f}"
        )
    counts = [int(n) for n in options.threads.split(",")]
    rates = threads(options.config, counts, options.repeats)
    print("\nintra-op threads: training steps/s (median), ratio to 1 thread")
    for n, rate in rates.items():
        print(f"  {n:>2} threads {rate:7.2f}  x{rate / rates[counts[0]]:.2f}")


if __name__ == "__main__":
    main()
