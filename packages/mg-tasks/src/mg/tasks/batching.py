"""Building blocks the tasks share: samples to a batch, residues lined up, per-item seeds.

Every task tokenizes in ``collate`` through the backbone and keeps the masks of the
agreed batch layout (``input_ids``, ``attention_mask``, ``special_tokens_mask``, ``ids``).
Per-residue outputs are *packed*: an item's residue positions are gathered to the left,
so row ``i`` of a packed tensor is residue ``i`` of the sequence whatever special tokens
the backbone adds.
"""

from __future__ import annotations

import zlib
from typing import Any

import torch
from torch import Tensor

Sample = dict[str, Any]


def residue_mask(batch: dict[str, Any]) -> Tensor:
    """Return the ``(batch, length)`` bool mask of positions that hold a residue."""
    return batch["attention_mask"] & ~batch["special_tokens_mask"]


def pack_index(mask: Tensor) -> tuple[Tensor, Tensor]:
    """Find each item's masked positions, in order, packed to the left.

    Args:
        mask (Tensor): ``(batch, length)`` bool, True at the positions to keep.

    Returns:
        tuple[Tensor, Tensor]: ``index`` ``(batch, width)`` long, the positions of each
        item's kept tokens (padded with arbitrary positions), and ``packed_mask``
        ``(batch, width)`` bool, True where ``index`` points at a kept token. ``width`` is
        the largest number of kept tokens in the batch.
    """
    counts = mask.sum(1)
    width = int(counts.max()) if mask.numel() else 0
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)
    index = order[:, :width]
    packed_mask = torch.arange(width, device=mask.device)[None, :] < counts[:, None]
    return index, packed_mask


def gather_tokens(values: Tensor, index: Tensor) -> Tensor:
    """Gather ``values[b, index[b, i]]``: ``(batch, length, ...)`` → ``(batch, width, ...)``."""
    rows = torch.arange(values.shape[0], device=values.device)[:, None]
    return values[rows, index]


def gather_pairs(values: Tensor, index: Tensor) -> Tensor:
    """Gather ``values[b, index[b, i], index[b, j]]``: ``(B, L, L, ...)`` → ``(B, W, W, ...)``."""
    rows = torch.arange(values.shape[0], device=values.device)[:, None, None]
    return values[rows, index[:, :, None], index[:, None, :]]


def unpack(values: Tensor, packed_mask: Tensor, pairwise: bool = False) -> list[Tensor]:
    """Split a packed batch into one tensor per item, trimmed to the item's residues.

    Args:
        values (Tensor): ``(batch, width, ...)``; with ``pairwise``,
            ``(batch, width, width, ...)``.
        packed_mask (Tensor): ``(batch, width)`` bool from `pack_index`.
        pairwise (bool): trim the first two dimensions after the batch.

    Returns:
        list[Tensor]: one detached CPU tensor per item.
    """
    items = []
    for row, count in zip(values, packed_mask.sum(1).tolist(), strict=True):
        item = row[:count, :count] if pairwise else row[:count]
        items.append(item.detach().cpu())
    return items


def item_seed(item_id: Any, tokens: Tensor, seed: int) -> int:
    """Return a seed that depends only on one item (its id, else its tokens) and ``seed``.

    Evaluation masks and generation draw from per-item generators seeded this way, so an
    item's result never depends on its batch-mates or on the order of the data.
    """
    key = str(item_id) if item_id is not None else ",".join(map(str, tokens.tolist()))
    return zlib.crc32(f"{seed}:{key}".encode())


def item_generators(batch: dict[str, Any], mask: Tensor, seed: int) -> list[torch.Generator]:
    """Return one seeded CPU generator per item of ``batch`` (see `item_seed`).

    Args:
        batch (dict[str, Any]): a collated batch with ``input_ids`` and ``ids``.
        mask (Tensor): ``(batch, length)`` bool, the positions whose tokens identify an
            item that has no id.
        seed (int): a seed shared by all items.
    """
    ids = batch.get("ids") or [None] * batch["input_ids"].shape[0]
    generators = []
    for item_id, tokens, keep in zip(ids, batch["input_ids"], mask, strict=True):
        generators.append(torch.Generator().manual_seed(item_seed(item_id, tokens[keep], seed)))
    return generators


def uniform_at(
    mask: Tensor, generators: list[torch.Generator] | None = None, size: int | None = None
) -> Tensor:
    """Draw ``U[0, 1)`` numbers at the True positions of ``mask`` (1.0 elsewhere).

    With per-item generators, item ``b`` draws exactly ``mask[b].sum()`` numbers (times
    ``size``), so what it gets does not depend on how wide its batch is padded.

    Args:
        mask (Tensor): ``(batch, length)`` bool.
        generators (list[torch.Generator] | None): one CPU generator per item; None draws
            from the global generator on ``mask``'s device.
        size (int | None): draw a vector of this size per position instead of one number.

    Returns:
        Tensor: ``(batch, length)`` float32, or ``(batch, length, size)``.
    """
    shape = tuple(mask.shape) if size is None else (*mask.shape, size)
    if generators is None:
        return torch.rand(shape, device=mask.device)
    values = torch.ones(shape)
    cpu_mask = mask.cpu()
    for row, keep, generator in zip(values, cpu_mask, generators, strict=True):
        count = int(keep.sum())
        row[keep] = torch.rand((count,) if size is None else (count, size), generator=generator)
    return values.to(mask.device)


def uniform_per_item(
    size: int, device: torch.device, generators: list[torch.Generator] | None = None
) -> Tensor:
    """Draw one ``U[0, 1)`` number per item, from per-item generators when given.

    Args:
        size (int): the number of items.
        device (torch.device): where the result goes.
        generators (list[torch.Generator] | None): one CPU generator per item.

    Returns:
        Tensor: ``(size,)`` float32.
    """
    if generators is None:
        return torch.rand(size, device=device)
    return torch.cat([torch.rand(1, generator=g) for g in generators]).to(device)
