"""The seeded batch samplers: resumable position and exact evaluation shares under DDP."""

from __future__ import annotations

import pytest
from torch.utils.data import DistributedSampler, SequentialSampler

from mg.tasks.data.samplers import (
    EpochBatchSampler,
    LengthGroupedBatchSampler,
    batch_cost,
    pack,
    padding_waste,
)


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


# ----------------------------------------------------------------- token budgets, sorted inference
LENGTHS = [5 + (i * 37) % 300 for i in range(203)]


def _budget(**kwargs: object) -> LengthGroupedBatchSampler:
    options: dict[str, object] = {"lengths": LENGTHS, "seed": 3, "max_tokens": 1200}
    options.update(kwargs)
    sampler = options.pop("sampler", range(len(LENGTHS)))
    batch_size = options.pop("batch_size", 64)
    return LengthGroupedBatchSampler(sampler, batch_size, **options)  # type: ignore[arg-type]


def _ddp(rank: int, world: int, shuffle: bool) -> DistributedSampler:
    # What Lightning hands a batch sampler under DDP (its own seed, padded shares).
    return DistributedSampler(range(len(LENGTHS)), num_replicas=world, rank=rank, shuffle=shuffle)  # type: ignore[arg-type]


def _cost(batch: list[int]) -> int:
    return batch_cost(batch, LENGTHS)


@pytest.mark.parametrize("world", [1, 2, 3])
def test_token_budget_training_deals_every_item_once_in_equal_counts(world: int) -> None:
    def epoch_of(rank: int, epoch: int) -> list[list[int]]:
        sampler = _budget(sampler=_ddp(rank, world, True)) if world > 1 else _budget()
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)  # what Lightning plans for is what comes
        return batches

    epochs = []
    for epoch in range(2):
        ranks = [epoch_of(rank, epoch) for rank in range(world)]
        assert len({len(r) for r in ranks}) == 1, "unequal batch counts hang DDP"
        items = [i for r in ranks for b in r for i in b]
        assert sorted(items) == list(range(len(LENGTHS)))
        for batch in (b for r in ranks for b in r):
            assert len(batch) <= 64
            assert _cost(batch) <= 1200 or len(batch) == 1
        epochs.append(ranks)
    assert epochs[0] != epochs[1]  # a new order each epoch
    assert [epoch_of(r, 1) for r in range(world)] == epochs[1]  # the same for the same epoch
    assert len(epochs[0][0]) == len(epochs[1][0])  # a constant count per epoch


def test_token_budget_batches_group_lengths_and_waste_little_padding() -> None:
    batches = list(_budget())
    plain = [list(range(s, min(s + 8, len(LENGTHS)))) for s in range(0, len(LENGTHS), 8)]
    assert padding_waste(batches, LENGTHS) < padding_waste(plain, LENGTHS) / 5
    # short sequences share a batch, long ones do not
    sizes = {len(b) for b in batches}
    assert max(sizes) > 3 * min(sizes)


def test_a_sequence_over_the_budget_gets_a_batch_of_its_own() -> None:
    lengths = [10, 500, 10, 10]
    batches = pack(range(4), lengths, batch_size=8, max_tokens=50, allowance=2)
    assert batches == [[0], [1], [2, 3]]
    assert pack(range(4), lengths, batch_size=2) == [[0, 1], [2, 3]]


def test_a_resumed_token_budget_epoch_continues_the_same_order() -> None:
    for rank in range(2):
        sampler = _budget(sampler=_ddp(rank, 2, True))
        sampler.set_epoch(2)
        whole = list(sampler)
        resumed = _budget(sampler=_ddp(rank, 2, True), epoch=2, skip_batches=4)
        assert list(resumed) == whole[4:]


@pytest.mark.parametrize("max_tokens", [None, 900])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_sorted_inference_covers_contiguous_blocks_longest_first(
    world: int, max_tokens: int | None
) -> None:
    blocks = []
    for rank in range(world):
        inner = _ddp(rank, world, False) if world > 1 else range(len(LENGTHS))
        sampler = LengthGroupedBatchSampler(
            inner, 16, lengths=LENGTHS, shuffle=False, max_tokens=max_tokens, sort_window=50
        )  # type: ignore[arg-type]
        batches = list(sampler)
        assert len(batches) == len(sampler)
        order = list(sampler.file_order())
        assert sorted(i for b in batches for i in b) == order
        # sorted longest first within each window of 50 consecutive items
        flat = [i for b in batches for i in b]
        for start in range(0, len(order), 50):
            window = flat[start : start + 50]
            assert sorted(window) == order[start : start + 50]
            assert [LENGTHS[i] for i in window] == sorted(
                (LENGTHS[i] for i in window), reverse=True
            )
        if max_tokens:
            assert all(_cost(b) <= max_tokens or len(b) == 1 for b in batches)
        blocks += order
    assert blocks == list(range(len(LENGTHS)))  # rank blocks joined in rank order: file order


def test_file_order_inference_with_a_budget_keeps_file_order() -> None:
    sampler = LengthGroupedBatchSampler(
        range(len(LENGTHS)), 16, lengths=LENGTHS, shuffle=False, max_tokens=900, sort_window=None
    )
    batches = list(sampler)
    assert [i for b in batches for i in b] == list(range(len(LENGTHS)))
    assert all(_cost(b) <= 900 for b in batches)


class _CountingLengths:
    """Lengths of a huge split, counting how many were read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.reads = 0

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> int:
        self.reads += 1
        return 50 + index * 7919 % 950


@pytest.mark.parametrize("max_tokens", [None, 4000])
def test_inference_batches_are_made_one_window_at_a_time(max_tokens: int | None) -> None:
    # Built up front, a split's batches cost ~40 bytes a row: 400 MB for 10M rows.
    lengths = _CountingLengths(2_000_000)
    sampler = LengthGroupedBatchSampler(
        range(lengths.size), 32, lengths=lengths, shuffle=False, max_tokens=max_tokens
    )  # type: ignore[arg-type]
    batches = iter(sampler)
    first = next(batches)
    assert lengths.reads <= 3 * 4096  # one window sorted and cut, nothing more
    assert all(i < 4096 for i in first)
    assert [lengths[i] for i in first] == sorted((lengths[i] for i in first), reverse=True)


@pytest.mark.parametrize("sort_window", [None, 7, 50])
@pytest.mark.parametrize("max_tokens", [None, 900])
def test_inference_length_matches_the_batches_given(
    sort_window: int | None, max_tokens: int | None
) -> None:
    sampler = LengthGroupedBatchSampler(
        range(len(LENGTHS)),
        16,
        lengths=LENGTHS,
        shuffle=False,
        max_tokens=max_tokens,
        sort_window=sort_window,
    )
    batches = list(sampler)
    assert len(sampler) == len(batches)
    assert sorted(i for b in batches for i in b) == list(range(len(LENGTHS)))
    plain = EpochBatchSampler(range(len(LENGTHS)), 16, shuffle=False)
    assert [i for b in plain for i in b] == list(range(len(LENGTHS)))
    assert len(plain) == len(list(plain))


def test_inference_under_lightnings_sequential_sampler_lists_no_indices() -> None:
    # Lightning rebuilds inference batch samplers around a SequentialSampler; listing its
    # indices to learn the file order would cost 36 bytes a row (720 MB at 10M rows).
    sampler = LengthGroupedBatchSampler(
        SequentialSampler(range(len(LENGTHS))), 16, lengths=LENGTHS, shuffle=False
    )
    assert isinstance(sampler.file_order(), range)
    assert sorted(i for b in sampler for i in b) == list(range(len(LENGTHS)))
