"""The seeded batch samplers: resumable position and exact evaluation shares under DDP."""

from __future__ import annotations

import pytest
from torch.utils.data import DistributedSampler

from mg.tasks.data.samplers import EpochBatchSampler, LengthGroupedBatchSampler


@pytest.mark.parametrize("grouped", [False, True])
def test_a_resumed_sampler_continues_the_interrupted_epoch(grouped: bool) -> None:
    def make(**kwargs: int) -> EpochBatchSampler:
        if grouped:
            return LengthGroupedBatchSampler(
                range(50), 4, lengths=[i % 7 for i in range(50)], seed=3, pool_batches=2, **kwargs
            )
        return EpochBatchSampler(range(50), 4, seed=3, **kwargs)

    sampler = make()
    epochs = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        epochs.append(list(sampler))
    assert epochs[0] != epochs[1] != epochs[2]
    assert all(sorted(i for b in e for i in b) == list(range(50)) for e in epochs)

    resumed = make(epoch=1, skip_batches=5)
    assert len(resumed) == len(epochs[1])  # Lightning counts the skipped batches as done
    assert list(resumed) == epochs[1][5:]
    resumed.set_epoch(2)
    assert list(resumed) == epochs[2]  # later epochs are whole


@pytest.mark.parametrize("n", [7, 8, 1])
def test_evaluation_shares_cover_every_item_once_without_padding(n: int) -> None:
    seen = []
    for rank in range(2):
        # What Lightning swaps in under DDP: a padded DistributedSampler.
        inner = DistributedSampler(range(n), num_replicas=2, rank=rank, shuffle=False)  # type: ignore[arg-type]
        sampler = EpochBatchSampler(inner, 3, shuffle=False)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        seen += [i for b in batches for i in b]
    assert sorted(seen) == list(range(n))


def test_training_under_ddp_follows_the_epoch_from_the_first_pass() -> None:
    # A resumed run's first pass happens before Lightning calls set_epoch.
    inner = DistributedSampler(range(20), num_replicas=2, rank=0, shuffle=True, seed=1)  # type: ignore[arg-type]
    fresh = EpochBatchSampler(inner, 2, seed=1)
    fresh.set_epoch(4)
    expected = list(fresh)
    inner = DistributedSampler(range(20), num_replicas=2, rank=0, shuffle=True, seed=1)  # type: ignore[arg-type]
    assert list(EpochBatchSampler(inner, 2, seed=1, epoch=4)) == expected
