"""Batch samplers with a seeded order per epoch, a resumable position, and exact evaluation.

The order of an epoch depends only on the seed and the epoch number, never on the global
random state, so a resumed run can draw the same batches again and skip those already
trained on. Under DDP, Lightning swaps in a `DistributedSampler`, which pads every
process's share to the same size by repeating items; for evaluation and prediction these
samplers ignore it and take a contiguous block of the split instead (process ``r`` of
``W`` reads items ``[r*N/W, (r+1)*N/W)``), so every item counts exactly once and the
processes' outputs, joined in rank order, are in file order.

Inference batches are sorted by length (longest first) within consecutive windows of the
split, so padding is small while whoever restores file order (the prediction writer) only
ever holds one window. A token budget (``max_tokens``) caps the padded size of a batch
instead of (or as well as) its number of items.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Iterator, Sequence

from torch.utils.data import BatchSampler, DistributedSampler, SequentialSampler

TOKEN_ALLOWANCE = 2
"""Tokens added to a sequence's residue count when a batch's cost is reckoned against
``max_tokens``: the special tokens most backbones add (a start/CLS and an end/SEP token)."""


def batch_cost(
    batch: Sequence[int], lengths: Sequence[int], allowance: int = TOKEN_ALLOWANCE
) -> int:
    """The padded size of a batch: items x (longest length + allowance).

    Args:
        batch (Sequence[int]): dataset indices of the batch.
        lengths (Sequence[int]): every item's length, by index.
        allowance (int): tokens added to every sequence (special tokens).

    Returns:
        int: the number of token positions the padded batch holds.
    """
    return len(batch) * (max(lengths[i] for i in batch) + allowance) if batch else 0


def padding_waste(batches: Iterable[Sequence[int]], lengths: Sequence[int]) -> float:
    """Padding tokens per real token for a batch order (0.0: no padding at all).

    Each batch is padded to its longest item, so the waste of a batch is the sum over its
    items of (longest - own length). A benchmark prints this to compare batching schemes.

    Args:
        batches (Iterable[Sequence[int]]): batches of dataset indices.
        lengths (Sequence[int]): every item's length, by index.

    Returns:
        float: padded positions that hold no residue, divided by the residues.
    """
    real = padded = 0
    for batch in batches:
        if not batch:
            continue
        longest = max(lengths[i] for i in batch)
        own = sum(lengths[i] for i in batch)
        real += own
        padded += longest * len(batch) - own
    return padded / real if real else 0.0


def pack(
    indices: Iterable[int],
    lengths: Sequence[int],
    batch_size: int,
    max_tokens: int | None = None,
    allowance: int = TOKEN_ALLOWANCE,
) -> list[list[int]]:
    """Cut indices, in the order given, into batches within the item and token limits.

    A batch holds at most ``batch_size`` items and, with ``max_tokens``, at most that many
    padded tokens (see `batch_cost`).

    An item whose own cost exceeds ``max_tokens`` gets a batch of its own (it cannot be
    made smaller here; the backbone's ``max_length`` truncates it).

    Args:
        indices (Iterable[int]): dataset indices, in batch order.
        lengths (Sequence[int]): every item's length, by index.
        batch_size (int): the most items in a batch.
        max_tokens (int | None): the most padded tokens in a batch; None for no budget.
        allowance (int): tokens added to every sequence (special tokens).

    Returns:
        list[list[int]]: the batches, in order.
    """
    return list(iter_pack(indices, lengths, batch_size, max_tokens, allowance))


def iter_pack(
    indices: Iterable[int],
    lengths: Sequence[int],
    batch_size: int,
    max_tokens: int | None = None,
    allowance: int = TOKEN_ALLOWANCE,
) -> Iterator[list[int]]:
    """`pack`, yielding each batch as soon as it is cut (same arguments)."""
    current: list[int] = []
    longest = 0
    for index in indices:
        grown = max(longest, lengths[index])
        full = len(current) >= batch_size or (
            max_tokens is not None and (len(current) + 1) * (grown + allowance) > max_tokens
        )
        if current and full:
            yield current
            current, grown = [], lengths[index]
        current.append(index)
        longest = grown
    if current:
        yield current


def _contiguous_share(sampler: DistributedSampler) -> range:
    """Process ``rank``'s block ``[r*N/W, (r+1)*N/W)`` of the whole split."""
    total = len(sampler.dataset)  # type: ignore[arg-type]
    rank, world = sampler.rank, sampler.num_replicas
    return range(rank * total // world, (rank + 1) * total // world)


def _divisible(batches: list[list[int]], world: int) -> list[list[int]]:
    """Split the fullest batches in two until every process can get the same number.

    Halving a batch keeps it within its budget, so no item is dropped or repeated; only
    when there are fewer items than processes are batches repeated (DDP needs every
    process to step the same number of times).
    """
    batches = list(batches)
    while len(batches) % world:
        need = world - len(batches) % world
        splittable = sorted(
            (p for p, b in enumerate(batches) if len(b) > 1), key=lambda p: -len(batches[p])
        )[:need]
        if not splittable:
            batches += [batches[i % len(batches)] for i in range(need)]
            break
        for position in sorted(splittable, reverse=True):
            batch = batches[position]
            half = len(batch) // 2
            batches[position : position + 1] = [batch[:half], batch[half:]]
    return batches


class EpochBatchSampler(BatchSampler):
    """Batches in a new seeded order every epoch (training) or in file order (evaluation).

    It follows PyTorch's `BatchSampler` API so that Lightning can swap in a distributed
    sampler (each process then batches its own share); ``set_epoch`` is passed on to it.

    Args:
        sampler (Iterable[int]): the indices to batch (e.g. ``range(len(dataset))``).
        batch_size (int): items per batch.
        drop_last (bool): drop the last batch when it is short.
        shuffle (bool): a new order each epoch (training), or index order (evaluation).
        seed (int): the base seed; epoch ``e`` uses ``seed + e``.
        epoch (int): the epoch whose order the first pass draws (a resumed run's epoch).
        skip_batches (int): batches of the first pass to leave out (those a resumed run has
            already trained on); later passes are whole.
    """

    def __init__(
        self,
        sampler: Iterable[int],
        batch_size: int,
        drop_last: bool = False,
        *,
        shuffle: bool = True,
        seed: int = 0,
        epoch: int = 0,
        skip_batches: int = 0,
    ) -> None:
        super().__init__(sampler, batch_size, drop_last)  # type: ignore[arg-type]
        if skip_batches < 0:
            raise ValueError(f"skip_batches must be 0 or more, not {skip_batches}.")
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = epoch
        self.skip_batches = skip_batches

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch``'s order next (Lightning calls this before each epoch)."""
        self.epoch = epoch
        inner = getattr(self.sampler, "set_epoch", None)
        if callable(inner):
            inner(epoch)

    def file_order(self) -> Sequence[int]:
        """The indices this process evaluates, in file order (what a writer restores).

        Under DDP a contiguous block of the split (see the module notes), else the
        sampler's indices in order.
        """
        sampler = self.sampler
        if isinstance(sampler, DistributedSampler):
            return _contiguous_share(sampler)
        if isinstance(sampler, range):
            return sampler
        if isinstance(sampler, SequentialSampler):
            # Lightning swaps this in for inference: in order by definition, so no list of
            # every index (36 bytes a row) needs building.
            return range(len(sampler))
        return sorted(sampler)  # type: ignore[call-overload]

    def _indices(self) -> list[int]:
        """This epoch's training indices (the distributed sampler's share under DDP)."""
        sampler = self.sampler
        inner = getattr(sampler, "set_epoch", None)
        if callable(inner):
            inner(self.epoch)  # a resumed run's first pass, before Lightning sets it
        return list(sampler)  # type: ignore[call-overload]

    def _order(self, indices: list[int], rng: random.Random) -> list[list[int]]:
        """Cut shuffled training indices into batches; subclasses group them differently."""
        rng.shuffle(indices)
        return self._cut(indices)

    def _batches(self) -> list[list[int]]:
        """One training epoch's batches, all at once (their order is a shuffle of them all)."""
        rng = random.Random(self.seed + self.epoch)
        return self._order(self._indices(), rng)

    def _inference_batches(self, indices: Sequence[int]) -> Iterator[list[int]]:
        """Evaluation batches in file order, made one at a time as the loader asks.

        Nothing holds the epoch's batches at once: a split of 10M rows costs no memory here.
        """
        for start in range(0, len(indices), self.batch_size):
            batch = list(indices[start : start + self.batch_size])
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield batch

    def _cut(self, indices: list[int]) -> list[list[int]]:
        batches = [
            indices[start : start + self.batch_size]
            for start in range(0, len(indices), self.batch_size)
        ]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        if self.shuffle:
            batches: Iterable[list[int]] = self._batches()
        else:
            # Evaluation: this process's block, without the padding repeats.
            batches = self._inference_batches(self.file_order())
        skip, self.skip_batches = self.skip_batches, 0
        # Without Lightning calling set_epoch, still give a new order each pass.
        self.epoch += 1
        yield from itertools.islice(batches, skip, None)

    def __len__(self) -> int:
        sampler = self.sampler
        if not self.shuffle:
            n = len(self.file_order())
        else:
            n = len(sampler)  # type: ignore[arg-type]
        # The full length, even while skipping: Lightning counts the skipped batches as done.
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class LengthGroupedBatchSampler(EpochBatchSampler):
    """Batches of similar lengths: shuffled per epoch for training, sorted for inference.

    Training (``shuffle``) without ``max_tokens``: each epoch shuffles the indices (seed +
    epoch), cuts them into pools of ``pool_batches`` batches, sorts each pool by length,
    cuts it into batches and shuffles the batch order. Under DDP each process batches the
    share Lightning's distributed sampler gives it.

    Training with ``max_tokens`` (as fairseq does): each epoch shuffles the indices, sorts
    them all by length (the shuffle only decides ties), cuts them into batches of at most
    ``max_tokens`` padded tokens and ``batch_size`` items, and shuffles the batch order.
    The lengths alone decide where batches are cut, so every epoch has the same number of
    batches (Lightning schedules validation by that number). Under DDP every process builds
    this same list for the whole split and takes every ``W``-th batch; when the count does
    not divide by ``W``, the fullest batches are split in two until it does, so every
    process steps equally often and every item still comes exactly once per epoch (only a
    split with fewer items than processes repeats batches). ``drop_last`` does not apply.

    Inference (not ``shuffle``): this process's items (all of them, or its contiguous
    block under DDP) are taken in windows of ``sort_window`` consecutive items; each
    window is sorted longest first (an out-of-memory shows at once) and cut by
    ``batch_size`` and ``max_tokens``. ``sort_window=None`` keeps file order (cut by the
    budget only). Every item comes exactly once.

    A batch's cost is its items x (longest residue count + `TOKEN_ALLOWANCE`); an item
    whose own cost exceeds ``max_tokens`` gets a batch of its own.

    Args:
        sampler (Iterable[int]): the indices to batch (e.g. ``range(len(dataset))``).
        batch_size (int): the most items per batch.
        drop_last (bool): drop short batches (training by ``batch_size`` only).
        lengths (Sequence[int]): the length of every item of the dataset, by index.
        shuffle (bool): shuffle per epoch (training) or sort (inference).
        seed (int): the base seed; epoch ``e`` uses ``seed + e``.
        pool_batches (int): batches per length-sorted pool when training without a token
            budget; larger pools group more tightly but mix less.
        epoch (int): the epoch whose order the first pass draws.
        skip_batches (int): batches of the first pass to leave out.
        max_tokens (int | None): the most padded tokens per batch; None for no budget.
        sort_window (int | None): inference: items per length-sorted window (memory of
            whoever restores file order grows with it); None keeps file order.
        allowance (int): tokens added to every sequence's length when costing a batch.
    """

    def __init__(
        self,
        sampler: Iterable[int],
        batch_size: int,
        drop_last: bool = False,
        *,
        lengths: Sequence[int],
        shuffle: bool = True,
        seed: int = 0,
        pool_batches: int = 50,
        epoch: int = 0,
        skip_batches: int = 0,
        max_tokens: int | None = None,
        sort_window: int | None = 4096,
        allowance: int = TOKEN_ALLOWANCE,
    ) -> None:
        super().__init__(
            sampler,
            batch_size,
            drop_last,
            shuffle=shuffle,
            seed=seed,
            epoch=epoch,
            skip_batches=skip_batches,
        )
        if pool_batches < 1:
            raise ValueError(f"pool_batches must be at least 1, not {pool_batches}.")
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, not {max_tokens}.")
        if sort_window is not None and sort_window < 1:
            raise ValueError(f"sort_window must be at least 1, not {sort_window}.")
        self.lengths = lengths
        self.pool_batches = pool_batches
        self.max_tokens = max_tokens
        self.sort_window = sort_window
        self.allowance = allowance
        self._count: int | None = None

    def _pack(self, indices: Iterable[int]) -> list[list[int]]:
        return list(self._iter_pack(indices))

    def _batches(self) -> list[list[int]]:
        if self.max_tokens is not None:
            return self._budget_batches()
        return super()._batches()

    def _budget_batches(self) -> list[list[int]]:
        """Training with a token budget: one global list, dealt to the processes."""
        rng = random.Random(self.seed + self.epoch)
        sampler = self.sampler
        distributed = isinstance(sampler, DistributedSampler)
        if distributed:
            indices = list(range(len(sampler.dataset)))  # type: ignore[arg-type,union-attr]
        else:
            indices = list(sampler)  # type: ignore[call-overload]
        rng.shuffle(indices)
        indices.sort(key=lambda i: self.lengths[i])  # stable: the shuffle breaks ties
        batches = self._pack(indices)
        rng.shuffle(batches)
        if distributed:
            world = sampler.num_replicas  # type: ignore[union-attr]
            batches = _divisible(batches, world)[sampler.rank :: world]  # type: ignore[union-attr]
        return batches

    def _order(self, indices: list[int], rng: random.Random) -> list[list[int]]:
        rng.shuffle(indices)
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(indices), pool):
            chunk = sorted(indices[start : start + pool], key=lambda i: self.lengths[i])
            batches += self._cut(chunk)
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        rng.shuffle(batches)
        return batches

    def _inference_batches(self, indices: Sequence[int]) -> Iterator[list[int]]:
        """Longest first within each window, cut by the limits; one window at a time."""
        if self.sort_window is None:
            yield from self._iter_pack(indices)
            return
        for start in range(0, len(indices), self.sort_window):
            window = list(indices[start : start + self.sort_window])
            window.sort(key=lambda i: -self.lengths[i])  # stable: ties keep file order
            yield from self._iter_pack(window)

    def _iter_pack(self, indices: Iterable[int]) -> Iterator[list[int]]:
        return iter_pack(indices, self.lengths, self.batch_size, self.max_tokens, self.allowance)

    def __len__(self) -> int:
        if self.max_tokens is None:
            if self.shuffle or self.sort_window is None:
                return super().__len__()
            # Each window is cut by batch_size alone.
            n, window = len(self.file_order()), self.sort_window
            return sum(
                -(-min(window, n - start) // self.batch_size) for start in range(0, n, window)
            )
        if self._count is None:
            # Budget cuts depend on the lengths alone, so every epoch has this many batches.
            if self.shuffle:
                epoch = self.epoch
                self._count = len(self._batches())
                self.epoch = epoch
            else:
                self._count = sum(1 for _ in self._inference_batches(self.file_order()))
        return self._count
