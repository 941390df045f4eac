"""Shared inputs for the mg-adapters tests."""

from __future__ import annotations

import torch
from torch import Tensor


def padded_batch(
    lengths: list[int], features: int, seed: int = 0, garbage: float = float("nan")
) -> tuple[Tensor, Tensor]:
    """Random hidden states padded to the longest item, with ``garbage`` at padded positions."""
    generator = torch.Generator().manual_seed(seed)
    width = max(lengths)
    hidden = torch.randn(len(lengths), width, features, generator=generator)
    mask = torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]
    hidden = torch.where(mask[..., None], hidden, torch.full_like(hidden, garbage))
    return hidden, mask


def train(model: torch.nn.Module, step, steps: int = 150, lr: float = 1e-2) -> float:
    """Run ``steps`` Adam steps of ``step() -> loss`` and return the last loss."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        optimizer.zero_grad()
        loss = step()
        loss.backward()
        optimizer.step()
    model.eval()
    return float(loss.detach())
