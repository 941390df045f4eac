"""Speed and peak memory of a training step with bf16-mixed and activation checkpointing.

Four ways to run the same training step of a BERT-style backbone (``BertDNATiny`` at the
size asked) with a mean-pool regression head, in one run: float32, float32 with
``gradient_checkpointing``, bf16-mixed (autocast), and bf16-mixed with checkpointing.
Each is timed over ``--steps`` steps after a warm-up, ``--repeats`` rounds in rotated
order; the table gives steps/s (median), peak memory above the weights (CUDA only:
``torch.cuda.max_memory_allocated``), and both as ratios to float32, measured in the
same run. The loss column checks that the variants do the same work (checkpointing
must not change it; bf16 moves it in the third digit).

Run: ``python benchmarks/scaling.py [--device cuda] [--length 1024] [--quick]``
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import time
from collections.abc import Iterator

import torch

from mg.backbones import BertDNATiny

VARIANTS = [
    ("float32", False, False),
    ("float32 + checkpointing", False, True),
    ("bf16-mixed", True, False),
    ("bf16-mixed + checkpointing", True, True),
]


@contextlib.contextmanager
def _autocast(device: str, enabled: bool) -> Iterator[None]:
    with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=enabled):
        yield


def run_variant(args: argparse.Namespace, bf16: bool, checkpointing: bool) -> dict[str, float]:
    """Build the model, train ``args.steps`` steps; return steps/s, peak MiB and loss."""
    device = torch.device(args.device)
    backbone = BertDNATiny(
        False,
        None,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        num_heads=args.num_heads,
        max_length=args.length,
        gradient_checkpointing=checkpointing,
        config_overwrites={"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0},
    ).to(device)
    torch.manual_seed(0)  # the same head in every variant
    head = torch.nn.Linear(args.hidden_size, 1).to(device)
    params = [*backbone.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    letters = "ACGT"
    sequences = [
        "".join(
            letters[int(i)] for i in torch.randint(0, 4, (args.length - 2,), generator=generator)
        )
        for _ in range(args.batch_size)
    ]
    tokens = backbone.batch(sequences)
    ids, mask = tokens.input_ids.to(device), tokens.attention_mask.to(device)
    target = torch.rand(args.batch_size, generator=generator).to(device)
    backbone.train()

    def step() -> float:
        with _autocast(args.device, bf16):
            hidden = backbone(ids, mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1)
            loss = torch.nn.functional.mse_loss(head(pooled).squeeze(-1).float(), target)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated() if device.type == "cuda" else 0
    start = time.perf_counter()
    losses = [step() for _ in range(args.steps)]
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if device.type == "cuda" else 0.0
    return {"steps_s": args.steps / seconds, "peak_mib": peak, "loss": statistics.mean(losses)}


def main() -> None:
    """Parse options, run every variant ``--repeats`` times, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--length", type=int, default=1024, help="tokens per sequence")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument("--num-layers", type=int, default=8)
    parser.add_argument("--num-heads", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a small model, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.length, args.hidden_size, args.num_layers, args.num_heads = 256, 64, 2, 4
        args.batch_size, args.steps, args.warmup, args.repeats = 4, 3, 1, 1
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, device {args.device}"
        + (f" ({torch.cuda.get_device_name(0)})" if args.device == "cuda" else "")
    )
    print(
        f"BertDNATiny hidden {args.hidden_size}, {args.num_layers} layers, batch "
        f"{args.batch_size} x {args.length} tokens; {args.steps} steps x {args.repeats} rounds\n"
    )
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in VARIANTS}
    for r in range(args.repeats):
        order = VARIANTS[r % len(VARIANTS) :] + VARIANTS[: r % len(VARIANTS)]
        for name, bf16, checkpointing in order:
            rounds[name].append(run_variant(args, bf16, checkpointing))
    base = {k: statistics.median(x[k] for x in rounds["float32"]) for k in ("steps_s", "peak_mib")}
    print("| variant | steps/s | x float32 | peak MiB | x float32 | loss |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, _, _ in VARIANTS:
        speed = statistics.median(x["steps_s"] for x in rounds[name])
        peak = statistics.median(x["peak_mib"] for x in rounds[name])
        loss = statistics.median(x["loss"] for x in rounds[name])
        peak_ratio = f"{peak / base['peak_mib']:.2f}" if base["peak_mib"] else "n/a"
        peak_text = f"{peak:.0f}" if base["peak_mib"] else "n/a"
        print(
            f"| {name} | {speed:.2f} | {speed / base['steps_s']:.2f} | {peak_text} | "
            f"{peak_ratio} | {loss:.5f} |"
        )


if __name__ == "__main__":
    main()
