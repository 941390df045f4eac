"""Padding in one place: token ids, their masks, and labels, to one batch width.

Backbones turn each sequence into unpadded token ids (`BackboneInterface.tokenize`);
`pad_tokens` makes the padded batch the model reads, and `pad_labels` pads per-token and
pairwise labels to the same width. Padding is always on the right.

A batch of unpadded rows can also travel as `RaggedIds` (every row's ids end to end, and
the row lengths): tokenizers that work on a whole batch at once produce that layout, and
`pad_ragged` pads it with a few tensor operations and no Python work per row.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class TokenizedBatch:
    """A padded batch of token ids, as returned by `BackboneInterface.batch`.

    Attributes:
        input_ids (Tensor): ``(batch, length)`` long tensor, padded on the right.
        attention_mask (Tensor): ``(batch, length)`` bool tensor, True for real tokens.
        special_tokens_mask (Tensor): ``(batch, length)`` bool tensor, True for special
            tokens (CLS, EOS, padding) that carry no residue.
    """

    input_ids: Tensor
    attention_mask: Tensor
    special_tokens_mask: Tensor

    def residue_mask(self) -> Tensor:
        """Return a bool mask of positions that hold a real residue."""
        return self.attention_mask & ~self.special_tokens_mask


@dataclass
class RaggedIds:
    """Unpadded rows of token ids, stored end to end.

    Attributes:
        ids (Tensor): 1-D long tensor, every row's ids one after the other.
        lengths (Tensor): 1-D long tensor, the number of ids in each row.
    """

    ids: Tensor
    lengths: Tensor

    @classmethod
    def from_rows(cls, token_ids: Sequence[Sequence[int]]) -> RaggedIds:
        """Build from one list of ids per row."""
        lengths = torch.tensor([len(row) for row in token_ids], dtype=torch.long)
        ids = torch.tensor(list(itertools.chain.from_iterable(token_ids)), dtype=torch.long)
        return cls(ids, lengths)

    def rows(self) -> list[list[int]]:
        """Return one list of ids per row."""
        flat = self.ids.tolist()
        ends = self.lengths.cumsum(0).tolist()
        return [flat[end - n : end] for end, n in zip(ends, self.lengths.tolist(), strict=True)]


def padded_width(longest: int, pad_to_multiple_of: int | None = None) -> int:
    """Return ``longest`` rounded up to a multiple of ``pad_to_multiple_of`` (if given).

    Raises:
        ValueError: ``pad_to_multiple_of`` is not a positive whole number.
    """
    if pad_to_multiple_of is None:
        return longest
    if isinstance(pad_to_multiple_of, bool) or not isinstance(pad_to_multiple_of, int):
        raise ValueError(f"pad_to_multiple_of must be a whole number, not {pad_to_multiple_of!r}.")
    if pad_to_multiple_of < 1:
        raise ValueError(f"pad_to_multiple_of must be positive, not {pad_to_multiple_of}.")
    return -(-longest // pad_to_multiple_of) * pad_to_multiple_of


def pad_tokens(
    token_ids: Sequence[Sequence[int]],
    *,
    pad_id: int,
    special_ids: Collection[int] = (),
    pad_to_multiple_of: int | None = None,
) -> TokenizedBatch:
    """Pad rows of token ids into a batch.

    Args:
        token_ids (Sequence[Sequence[int]]): one row of ids per sequence, unpadded.
        pad_id (int): the id written into padded positions.
        special_ids (Collection[int]): ids that carry no residue (CLS, EOS, ...).
        pad_to_multiple_of (int | None): round the width up to a multiple of this
            (tensor cores like multiples of 8).

    Returns:
        TokenizedBatch: long ``input_ids``; bool ``attention_mask`` (True for real tokens)
        and ``special_tokens_mask`` (True for special ids and padding). No rows give
        ``(0, 0)`` tensors.
    """
    return pad_ragged(
        RaggedIds.from_rows(token_ids),
        pad_id=pad_id,
        special_ids=special_ids,
        pad_to_multiple_of=pad_to_multiple_of,
    )


def pad_ragged(
    ragged: RaggedIds,
    *,
    pad_id: int,
    special_ids: Collection[int] = (),
    pad_to_multiple_of: int | None = None,
) -> TokenizedBatch:
    """Pad rows stored end to end into a batch; the same result as `pad_tokens` on the rows.

    Args:
        ragged (RaggedIds): the rows' ids end to end, and their lengths.
        pad_id (int): the id written into padded positions.
        special_ids (Collection[int]): ids that carry no residue (CLS, EOS, ...).
        pad_to_multiple_of (int | None): round the width up to a multiple of this.

    Returns:
        TokenizedBatch: as `pad_tokens` returns it.

    Raises:
        ValueError: the lengths do not add up to the number of ids.
    """
    lengths = ragged.lengths.to(torch.long)
    total = int(lengths.sum()) if len(lengths) else 0
    if total != ragged.ids.numel():
        raise ValueError(
            f"The row lengths add up to {total} ids but {ragged.ids.numel()} were given."
        )
    longest = int(lengths.max()) if len(lengths) else 0
    width = padded_width(longest, pad_to_multiple_of)
    attention_mask = torch.arange(width)[None, :] < lengths[:, None]
    input_ids = torch.full((len(lengths), width), pad_id, dtype=torch.long)
    # Row-major order of the mask's True cells is the order of the concatenated rows.
    input_ids.masked_scatter_(attention_mask, ragged.ids.to(torch.long))
    special_tokens_mask = ~attention_mask
    special = sorted(set(special_ids))
    if len(special) <= 4:
        # A few comparisons beat torch.isin (a sort-based search) on small id sets.
        for token in special:
            special_tokens_mask |= input_ids == token
    else:
        special_tokens_mask |= torch.isin(input_ids, torch.tensor(special, dtype=torch.long))
    return TokenizedBatch(input_ids, attention_mask, special_tokens_mask)


def pad_labels(
    values: Sequence[Tensor],
    *,
    fill: float | int,
    pad_to_multiple_of: int | None = None,
    length_dims: int | None = None,
) -> Tensor:
    """Stack per-item labels, padding their length dimensions to the batch's widest.

    Per-token labels ``(L_i,)`` or ``(L_i, C)`` become ``(B, L)`` or ``(B, L, C)``; pair
    maps ``(L_i, L_i)`` become ``(B, L, L)``. ``L`` is the longest item's length, rounded
    up to ``pad_to_multiple_of``, so labels line up with ids padded by `pad_tokens` when
    both count the same positions.

    Args:
        values (Sequence[Tensor]): one tensor per item, all of one dtype and rank.
        fill (float | int): the value written into padded positions (an ignore index).
        pad_to_multiple_of (int | None): round padded dimensions up to a multiple of this.
        length_dims (int | None): how many leading dimensions are lengths. None: the
            leading dimensions whose sizes differ between items; when all items have one
            shape, the leading dimensions as long as the first (so a square map counts
            as a pair map).

    Returns:
        Tensor: the padded batch, in the items' dtype.

    Raises:
        ValueError: no items, items of different rank or dtype, or items that differ in a
            dimension that is not a length.
    """
    if not values:
        raise ValueError("pad_labels needs at least one item.")
    shapes = [tuple(v.shape) for v in values]
    rank, dtype = len(shapes[0]), values[0].dtype
    odd = next((i for i, v in enumerate(values) if v.dim() != rank or v.dtype != dtype), None)
    if odd is not None:
        raise ValueError(
            f"Label {odd} has shape {shapes[odd]} and dtype {values[odd].dtype}; label 0 has "
            f"{shapes[0]} and {dtype}: every item needs the same rank and dtype."
        )
    if length_dims is None:
        varies = [len({s[d] for s in shapes}) > 1 for d in range(rank)]
        if any(varies):
            length_dims = next((d for d, v in enumerate(varies) if not v), rank)
        else:
            first = shapes[0]
            length_dims = next((d for d in range(rank) if first[d] != first[0]), rank)
    widest = [max(s[d] for s in shapes) for d in range(rank)]
    clash = next((d for d in range(length_dims, rank) if len({s[d] for s in shapes}) > 1), None)
    if clash is not None:
        raise ValueError(
            f"Labels differ in dimension {clash}, which is not a length: {sorted(set(shapes))}."
        )
    size = [
        padded_width(w, pad_to_multiple_of) if d < length_dims else w for d, w in enumerate(widest)
    ]
    out = torch.full((len(values), *size), fill, dtype=dtype, device=values[0].device)
    for row, value in zip(out, values, strict=True):
        row[tuple(slice(0, n) for n in value.shape)] = value
    return out
