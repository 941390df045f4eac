"""Peak memory of MLPPairwiseAdapter against a naive concatenate-every-pair MLP.

Run: ``python benchmarks/pairwise_memory.py [--device cpu|cuda] [--quick]``

The naive head builds the ``(batch, L, L, 2 * D)`` tensor of concatenated pairs before its
first layer, so its memory grows like ``L² × 2D``. MLPPairwiseAdapter applies the two halves
of the first layer per token and broadcast-adds them, so its largest tensors are
``(batch, L, L, H)`` with ``H`` the MLP's hidden size: memory grows like ``L² × H``.

Memory is measured as the peak of bytes held by tensors created during the forward pass
(inputs and weights excluded):

- on CUDA, ``torch.cuda.max_memory_allocated`` above what was allocated before the call;
- on CPU, a dispatch mode sees every tensor each operator returns and follows its storage
  with a weak reference, so it knows which bytes are still alive after each operator.

Two settings: ``inference`` (no autograd) and ``training`` (grad on: the tensors autograd
saves for the backward pass stay alive, which is what a training step holds at its peak).
"floats/pair" is peak bytes / (4 · batch · L²): flat in L means the growth is L², and its
size says what each pair costs (≈ a few × H for the adapter, ≈ 2D + H for the naive head).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator

import torch
from torch import Tensor, nn
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode

from mg.adapters import MLPPairwiseAdapter


class NaiveConcatPairwise(nn.Module):
    """The textbook pairwise MLP: concatenate ``[h_i; h_j]`` for every pair, then an MLP."""

    def __init__(self, in_features: int, out_features: int, hidden_size: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(2 * in_features, hidden_size), nn.GELU(), nn.Linear(hidden_size, out_features)
        )

    def forward(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        length = hidden_states.shape[1]
        h_i = hidden_states[:, :, None].expand(-1, -1, length, -1)
        h_j = hidden_states[:, None].expand(-1, length, -1, -1)
        scores = self.mlp(torch.cat([h_i, h_j], dim=-1))
        scores = (scores + scores.transpose(1, 2)) / 2
        pairs = attention_mask[:, :, None] & attention_mask[:, None, :]
        return scores.masked_fill(~pairs[..., None], 0.0)


class LiveTensorBytes(TorchDispatchMode):
    """Track the peak of bytes held by tensors that operators created (CPU measurement)."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.current = 0
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for key in [k for k, (ref, _) in self.live.items() if ref.expired()]:
            self.current -= self.live.pop(key)[1]
        for tensor in out if isinstance(out, tuple | list) else (out,):
            if isinstance(tensor, Tensor):
                storage = tensor.untyped_storage()
                key = storage.data_ptr()
                if key and key not in self.live:
                    self.live[key] = (StorageWeakRef(storage), storage.nbytes())
                    self.current += storage.nbytes()
        self.peak = max(self.peak, self.current)
        return out


@contextlib.contextmanager
def peak_bytes(device: torch.device) -> Iterator[list[int]]:
    """Yield a one-item list that holds the peak bytes once the block ends."""
    result = [0]
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        yield result
        torch.cuda.synchronize(device)
        result[0] = torch.cuda.max_memory_allocated(device) - before
    else:
        with LiveTensorBytes() as tracker:
            yield result
        result[0] = tracker.peak


def measure(
    model: nn.Module, batch: int, length: int, features: int, device: torch.device, training: bool
) -> int:
    hidden = torch.randn(batch, length, features, device=device)
    mask = torch.ones(batch, length, dtype=torch.bool, device=device)
    model.to(device).train(training)
    with torch.set_grad_enabled(training), peak_bytes(device) as peak:
        out = model(hidden, mask)
        del out
    return peak[0]


def row(
    name: str,
    batch: int,
    length: int,
    features: int,
    hidden: int,
    chunk: int | None,
    device: torch.device,
    training: bool,
) -> str:
    torch.manual_seed(0)
    if name == "naive concat":
        model: nn.Module = NaiveConcatPairwise(features, 1, hidden)
    else:
        model = MLPPairwiseAdapter(features, 1, hidden_sizes=[hidden], chunk_size=chunk)
    peak = measure(model, batch, length, features, device, training)
    per_pair = peak / (4 * batch * length * length)
    label = name if chunk is None else f"{name} (chunk {chunk})"
    return (
        f"{label:<30} {length:>5} {features:>5} {hidden:>5} {peak / 2**20:>10.1f} "
        f"{per_pair:>11.1f} {per_pair / hidden:>7.2f} {per_pair / (2 * features):>7.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    device = torch.device(args.device)
    batch = 1
    lengths = [32, 64, 128] if args.quick else [64, 128, 256, 512]
    side = 64 if args.quick else 128
    method = "torch.cuda.max_memory_allocated" if device.type == "cuda" else "live tensor bytes"
    print(f"device={device}  batch={batch}  fp32  memory: {method}")
    header = (
        f"{'head':<30} {'L':>5} {'D':>5} {'H':>5} {'peak MiB':>10} {'floats/pair':>11} "
        f"{'/H':>7} {'/2D':>7}"
    )
    sweeps = [
        ("vary L (D=128, H=32)", [(n, 128, 32) for n in lengths]),
        (f"vary D (L={side}, H=32)", [(side, d, 32) for d in (64, 256, 1024)]),
        (f"vary H (L={side}, D=128)", [(side, 128, h) for h in (16, 64, 256)]),
    ]
    start = time.perf_counter()
    for training in (False, True):
        print(f"\n== {'training (grad on)' if training else 'inference (no grad)'} ==")
        for title, settings in sweeps:
            print(f"-- {title}\n{header}")
            for length, features, hidden in settings:
                for name in ("MLPPairwiseAdapter", "naive concat"):
                    print(row(name, batch, length, features, hidden, None, device, training))
        if not training:
            length = lengths[-1]
            print(f"-- row chunking (inference), L={length}, D=128, H=32\n{header}")
            for chunk in (None, length // 8):
                print(row("MLPPairwiseAdapter", batch, length, 128, 32, chunk, device, training))
    print(f"\nfinished in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
