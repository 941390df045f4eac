"""Batch samplers with a seeded order per epoch, a resumable position, and exact evaluation.

The order of an epoch depends only on the seed and the epoch number, never on the global
random state, so a resumed run can draw the same batches again and skip those already
trained on. Under DDP, Lightning swaps in a `DistributedSampler`, which pads every
process's share to the same size by repeating items; for evaluation these samplers take
each process's share without the padding, so every item counts exactly once.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence

from torch.utils.data import BatchSampler, DistributedSampler


class EpochBatchSampler(BatchSampler):
    """Batches in a new seeded order every epoch (training) or in index order (evaluation).

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

    def _indices(self) -> list[int]:
        sampler = self.sampler
        if isinstance(sampler, DistributedSampler) and not self.shuffle:
            # Evaluation: this process's share, without the padding repeats.
            return list(range(sampler.rank, len(sampler.dataset), sampler.num_replicas))  # type: ignore[arg-type]
        inner = getattr(sampler, "set_epoch", None)
        if callable(inner):
            inner(self.epoch)  # a resumed run's first pass, before Lightning sets it
        return list(sampler)  # type: ignore[call-overload]

    def _order(self, indices: list[int], rng: random.Random) -> list[list[int]]:
        """Cut (shuffled) indices into batches; subclasses group them differently."""
        if self.shuffle:
            rng.shuffle(indices)
        return self._cut(indices)

    def _batches(self) -> list[list[int]]:
        rng = random.Random(self.seed + self.epoch)
        return self._order(self._indices(), rng)

    def _cut(self, indices: list[int]) -> list[list[int]]:
        batches = [
            indices[start : start + self.batch_size]
            for start in range(0, len(indices), self.batch_size)
        ]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._batches()
        skip, self.skip_batches = self.skip_batches, 0
        # Without Lightning calling set_epoch, still give a new order each pass.
        self.epoch += 1
        yield from batches[skip:]

    def __len__(self) -> int:
        sampler = self.sampler
        if isinstance(sampler, DistributedSampler) and not self.shuffle:
            n = len(range(sampler.rank, len(sampler.dataset), sampler.num_replicas))  # type: ignore[arg-type]
        else:
            n = len(sampler)  # type: ignore[arg-type]
        # The full length, even while skipping: Lightning counts the skipped batches as done.
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class LengthGroupedBatchSampler(EpochBatchSampler):
    """Batches of similar lengths, in a new seeded order every epoch.

    With ``shuffle``, each epoch shuffles the indices (seed + epoch), cuts them into pools of
    ``pool_batches`` batches, sorts each pool by length, cuts it into batches and shuffles
    the batch order; without, it sorts all indices by length (longest first, so an
    out-of-memory shows at once). Every index comes exactly once per epoch.

    Args:
        sampler (Iterable[int]): the indices to batch (e.g. ``range(len(dataset))``).
        batch_size (int): items per batch.
        drop_last (bool): drop the last batch when it is short.
        lengths (Sequence[int]): the length of every item of the dataset, by index.
        shuffle (bool): shuffle per epoch (training) or sort (evaluation).
        seed (int): the base seed; epoch ``e`` uses ``seed + e``.
        pool_batches (int): batches per length-sorted pool; larger pools group more tightly
            but mix less.
        epoch (int): the epoch whose order the first pass draws.
        skip_batches (int): batches of the first pass to leave out.
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
        self.lengths = lengths
        self.pool_batches = pool_batches

    def _order(self, indices: list[int], rng: random.Random) -> list[list[int]]:
        if not self.shuffle:
            indices.sort(key=lambda i: -self.lengths[i])
            return self._cut(indices)
        rng.shuffle(indices)
        pool = self.batch_size * self.pool_batches
        batches: list[list[int]] = []
        for start in range(0, len(indices), pool):
            chunk = sorted(indices[start : start + pool], key=lambda i: self.lengths[i])
            batches += self._cut(chunk)
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        rng.shuffle(batches)
        return batches
