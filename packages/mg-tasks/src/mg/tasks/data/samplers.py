"""A batch sampler that puts sequences of similar length together, to waste less padding."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence

from torch.utils.data import BatchSampler


class LengthGroupedBatchSampler(BatchSampler):
    """Batches of similar lengths, in a new seeded order every epoch.

    With ``shuffle``, each epoch shuffles the indices (seed + epoch), cuts them into pools of
    ``pool_batches`` batches, sorts each pool by length, cuts it into batches and shuffles
    the batch order; without, it sorts all indices by length (longest first, so an
    out-of-memory shows at once). Every index comes exactly once per epoch.

    It follows PyTorch's `BatchSampler` API so that Lightning can swap in a distributed
    sampler (each process then groups its own share); ``set_epoch`` is passed on to it.

    Args:
        sampler (Iterable[int]): the indices to batch (e.g. ``range(len(dataset))``).
        batch_size (int): items per batch.
        drop_last (bool): drop the last batch when it is short.
        lengths (Sequence[int]): the length of every item of the dataset, by index.
        shuffle (bool): shuffle per epoch (training) or sort (evaluation).
        seed (int): the base seed; epoch ``e`` uses ``seed + e``.
        pool_batches (int): batches per length-sorted pool; larger pools group more tightly
            but mix less.
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
    ) -> None:
        super().__init__(sampler, batch_size, drop_last)  # type: ignore[arg-type]
        if pool_batches < 1:
            raise ValueError(f"pool_batches must be at least 1, not {pool_batches}.")
        self.lengths = lengths
        self.shuffle = shuffle
        self.seed = seed
        self.pool_batches = pool_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch``'s order next (Lightning calls this before each epoch)."""
        self.epoch = epoch
        inner = getattr(self.sampler, "set_epoch", None)
        if callable(inner):
            inner(epoch)

    def _batches(self) -> list[list[int]]:
        indices = list(self.sampler)  # type: ignore[arg-type]
        if not self.shuffle:
            indices.sort(key=lambda i: -self.lengths[i])
            return self._cut(indices)
        rng = random.Random(self.seed + self.epoch)
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
        # Without Lightning calling set_epoch, still give a new order each pass.
        self.epoch += 1
        yield from batches

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        # Pools hold whole batches, so only the last pool can end with a short batch.
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
