"""Forward+backward tokens/s of mg's AIDO models against ModelGenerator's, same run.

mg's implementation runs in this environment; ModelGenerator's (``modelgenerator``
0.1.3, which pins transformers 4.x) runs in its own environment, named by
``--reference-python``. The script starts one worker process per measurement, alternating
mg and ModelGenerator, each building the same random configuration (hidden size, layers,
heads, MLP width) with the same seed, on the same padded batch, with the same thread count;
each worker times ``--steps`` forward+backward passes of the masked-LM model after a
warm-up and reports real (non-padding) tokens per second. The best of ``--repeats`` rounds
of each is kept, and the table gives mg / ModelGenerator.

    python benchmarks/aido_speed.py --reference-python /work/mgref-venv/bin/python
    python benchmarks/aido_speed.py --device cuda --kernels   # mg only: SDPA vs plain

``--kernels`` needs no ModelGenerator: it times mg's models with torch's fused attention
(``sdpa``) against plain matmul-softmax-matmul attention, the choice ``attention_kernel:
auto`` makes per device and length (benchmarks/gpu_check.sh runs it on the GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# name: (hidden, layers, heads, intermediate, length, batch)
SIZES: dict[str, tuple[int, int, int, int, int, int]] = {
    "tiny": (64, 2, 4, 128, 128, 8),
    "small": (256, 4, 8, 688, 256, 8),
    "medium": (512, 6, 8, 1376, 512, 4),
}


def _batch(vocab_low: int, vocab_high: int, length: int, batch: int, device: str):
    import torch

    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(vocab_low, vocab_high, (batch, length), generator=generator)
    mask = torch.ones(batch, length, dtype=torch.long)
    # Half the rows padded to three quarters, as a batch of mixed lengths would be.
    mask[: batch // 2, (3 * length) // 4 :] = 0
    ids[mask == 0] = 0
    return ids.to(device), mask.to(device)


def worker(
    implementation: str, arch: str, size: str, steps: int, device: str, kernel: str = "auto"
) -> dict:
    """Build one model and time it; run inside the process of the given implementation."""
    import torch

    hidden, layers, heads, inner, length, batch = SIZES[size]
    sizes = dict(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=inner,
        max_position_embeddings=length,
    )
    vocab = 16 if arch == "rnabert" else 44
    if implementation == "mg":
        from mg.backbones.aido.modeling import (
            AIDOBertConfig,
            AIDOFMConfig,
            AIDOFMForMaskedLM,
            AIDOForMaskedLM,
        )

        config_class, model_class = (
            (AIDOBertConfig, AIDOForMaskedLM)
            if arch == "rnabert"
            else (AIDOFMConfig, AIDOFMForMaskedLM)
        )
    elif arch == "rnabert":
        from modelgenerator.huggingface_models.rnabert import RNABertConfig as config_class
        from modelgenerator.huggingface_models.rnabert import RNABertForMaskedLM as model_class
    else:
        from modelgenerator.huggingface_models.fm4bio import FM4BioConfig as config_class
        from modelgenerator.huggingface_models.fm4bio import FM4BioForMaskedLM as model_class
    torch.manual_seed(0)
    model = model_class(config_class(vocab_size=vocab, **sizes)).to(device).train()
    if implementation == "mg":
        model.bert.set_attention_kernel(kernel)
    ids, mask = _batch(5, 10 if arch == "rnabert" else 26, length, batch, device)

    def step() -> None:
        logits = model(input_ids=ids, attention_mask=mask).logits
        logits.float().square().mean().backward()
        model.zero_grad(set_to_none=True)

    for _ in range(2):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"tokens_per_s": steps * int(mask.sum()) / seconds, "threads": torch.get_num_threads()}


def _measure(
    python: str,
    implementation: str,
    arch: str,
    size: str,
    args: argparse.Namespace,
    kernel: str = "auto",
) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONWARNINGS": "ignore"}
    command = [
        python, __file__, "--worker", implementation, "--arch", arch, "--size", size,
        "--steps", str(args.steps), "--device", args.device, "--kernel", kernel,
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if out.returncode:
        raise SystemExit(f"{implementation} {arch} {size} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["tokens_per_s"]


def _kernels(args: argparse.Namespace) -> None:
    print(f"mg only, device {args.device}, {args.threads} thread(s), best of {args.repeats}")
    print("| architecture | size | sdpa tokens/s | plain tokens/s | sdpa / plain |")
    print("|---|---|---:|---:|---:|")
    for arch in args.archs.split(","):
        for size in args.sizes.split(","):
            fused = max(
                _measure(sys.executable, "mg", arch, size, args, "sdpa")
                for _ in range(args.repeats)
            )
            plain = max(
                _measure(sys.executable, "mg", arch, size, args, "plain")
                for _ in range(args.repeats)
            )
            print(
                f"| {arch} | {size} | {fused:,.0f} | {plain:,.0f} | {fused / plain:.2f} |",
                flush=True,
            )


def main() -> None:
    """Parse options; run as the table-maker or as one worker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-python", default="/work/mgref-venv/bin/python")
    parser.add_argument("--sizes", default="tiny,small")
    parser.add_argument("--archs", default="rnabert,fm4bio")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--worker", choices=["mg", "modelgenerator"])
    parser.add_argument("--arch", default="rnabert")
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--kernel", default="auto", choices=["auto", "sdpa", "plain"])
    parser.add_argument("--kernels", action="store_true", help="mg only: sdpa against plain")
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker, args.arch, args.size, args.steps, args.device, args.kernel)
        print(json.dumps(result))
        return
    if args.kernels:
        _kernels(args)
        return
    if not Path(args.reference_python).exists():
        raise SystemExit(
            f"--reference-python {args.reference_python} does not exist: give the Python of "
            "an environment with modelgenerator installed."
        )
    print(f"device {args.device}, {args.threads} thread(s), {args.steps} steps, ", end="")
    print(f"best of {args.repeats}")
    print("| architecture | size (hidden/layers/heads/len/batch) | mg tokens/s ", end="")
    print("| ModelGenerator tokens/s | mg / MG |")
    print("|---|---|---:|---:|---:|")
    for arch in args.archs.split(","):
        for size in args.sizes.split(","):
            ours, theirs = 0.0, 0.0
            for _ in range(args.repeats):
                ours = max(ours, _measure(sys.executable, "mg", arch, size, args))
                theirs = max(
                    theirs, _measure(args.reference_python, "modelgenerator", arch, size, args)
                )
            hidden, layers, heads, _inner, length, batch = SIZES[size]
            shape = f"{size} ({hidden}/{layers}/{heads}/{length}/{batch})"
            print(
                f"| {arch} | {shape} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
