"""The on-disk store of the embedding cache: round trips, other writers, crashes, copies."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from mg.core.embedding_cache import EmbeddingCache, item_key


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_states_come_back_with_their_bytes_and_dtype(tmp_path: Path, dtype: torch.dtype) -> None:
    cache = EmbeddingCache(tmp_path)
    states = {item_key(torch.tensor([0, i, 2])): torch.randn(i + 1, 8).to(dtype) for i in range(5)}
    for key, value in states.items():
        cache.put(key, value)
    reopened = EmbeddingCache(tmp_path)  # a later run reads what this one wrote
    for key, value in states.items():
        got = reopened.get(key)
        assert got is not None and got.dtype == dtype and torch.equal(got, value)
    assert reopened.get(item_key(torch.tensor([9, 9]))) is None
    cache.close()
    reopened.close()


def test_a_writer_sees_another_writers_items_after_refresh(tmp_path: Path) -> None:
    first, second = EmbeddingCache(tmp_path, rank=0), EmbeddingCache(tmp_path, rank=1)
    key = item_key(torch.tensor([1, 2, 3]))
    second.put(key, torch.ones(3, 4))
    assert first.get(key) is None  # not looked up yet
    first.refresh()
    assert torch.equal(first.get(key), torch.ones(3, 4))
    assert {p.name.split("-")[1] for p in tmp_path.glob("*.bin")} == {"r1"}


def test_a_record_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    kept, lost = item_key(torch.tensor([1])), item_key(torch.tensor([2]))
    cache.put(kept, torch.zeros(1, 4))
    cache.put(lost, torch.zeros(1, 4))
    cache.close()
    (index,) = tmp_path.glob("*.idx")
    index.write_bytes(index.read_bytes()[:-7])  # the last record was being written
    reopened = EmbeddingCache(tmp_path)
    assert kept in reopened and lost not in reopened


def test_a_copy_writes_its_own_shard(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    cache.put(item_key(torch.tensor([1])), torch.zeros(1, 2))
    twin = copy.deepcopy(cache)  # open files are not copied: each copy appends to its own
    twin.put(item_key(torch.tensor([2])), torch.ones(1, 2))
    assert len(list(tmp_path.glob("*.bin"))) == 2
    assert len(EmbeddingCache(tmp_path)) == 2


def test_keys_follow_the_token_ids_not_their_dtype() -> None:
    assert item_key(torch.tensor([1, 2], dtype=torch.int32)) == item_key(torch.tensor([1, 2]))
    assert item_key(torch.tensor([1, 2])) != item_key(torch.tensor([2, 1]))
