"""The embedding cache: same results as no cache, no backbone calls from epoch 2, no stale reuse."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from task_helpers import adam, regression_samples, token_samples

from mg.adapters import LinearMeanPoolAdapter, LinearTokenAdapter
from mg.core.embedding_cache import EmbeddingCache
from mg.core.testing import InMemoryData, ToyBackbone
from mg.core.testing.contracts import fast_trainer
from mg.tasks import MLM, Embed, SequenceRegression, TokenClassification


class FinetunedToy(ToyBackbone):
    """ToyBackbone with a ``finetune`` option it declares, like the mg-backbones families."""

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        finetune: str = "frozen",
        **options: Any,
    ) -> None:
        super().__init__(use_lm_head, default_config, **options)
        self.finetune = finetune
        if finetune == "frozen":
            self.requires_grad_(False)

    @classmethod
    def declared_finetune(cls, options: Mapping[str, Any]) -> str | None:
        """Say the ``finetune`` option, so mg can refuse a cache before building."""
        return str(options["finetune"])


class Recorder:
    """Records, per backbone call, the stage and epoch the trainer was in."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.task: pl.LightningModule | None = None

    def __call__(self, *_: Any) -> None:
        trainer = self.task.trainer if self.task is not None else None
        if trainer is None:
            self.calls.append(("none", -1))
            return
        stage = "train" if trainer.training else "predict" if trainer.predicting else "val"
        self.calls.append((stage, trainer.current_epoch))


class CountingToy(FinetunedToy):
    """A FinetunedToy whose every forward call is recorded."""

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        recorder: Recorder,
        **options: Any,
    ) -> None:
        super().__init__(use_lm_head, default_config, **options)
        self.register_forward_hook(recorder)


def Counting(**options: Any) -> Any:  # reads like the class it builds
    recorder = Recorder()
    built = partial(CountingToy, recorder=recorder, **options)
    built.recorder = recorder  # type: ignore[attr-defined]
    return built


def _regression(backbone: Any, cache_dir: Path | None, **options: Any) -> SequenceRegression:
    return SequenceRegression(
        backbone=backbone,
        adapter=partial(LinearMeanPoolAdapter, dropout=0.2),  # dropout: RNG use must match
        optimizer=adam(),
        cache_embeddings=cache_dir is not None,
        cache_dir=None if cache_dir is None else str(cache_dir),
        **options,
    )


def _fit(task: Any, data: InMemoryData, epochs: int) -> list[Any]:
    pl.seed_everything(0, verbose=False)
    trainer = fast_trainer(max_epochs=epochs)
    trainer.fit(task, datamodule=data)
    return trainer.predict(task, datamodule=data) or []


def _regression_data() -> InMemoryData:
    val = regression_samples(12, 1)
    return InMemoryData(train=regression_samples(40, 0), val=val, predict=val, batch_size=8)


def test_cached_training_matches_uncached_and_skips_the_backbone_from_epoch_two(
    tmp_path: Path,
) -> None:
    plain_backbone = Counting(hidden_size=32, max_length=40)
    plain = _regression(plain_backbone, None)
    plain_backbone.recorder.task = plain
    expected = _fit(plain, _regression_data(), epochs=3)

    cached_backbone = Counting(hidden_size=32, max_length=40)
    cached = _regression(cached_backbone, tmp_path)
    cached_backbone.recorder.task = cached
    got = _fit(cached, _regression_data(), epochs=3)

    # Same data order and dropout draws, and the backbone runs in eval mode in both runs.
    # Epoch 1 is the same computation; later epochs read states computed beside other
    # batch-mates, which on some CPUs differ from a recomputation in the last float bits
    # (a padded width changes matmul blocking), hence a tolerance far below any learning.
    for name, weight in plain.adapter.state_dict().items():
        torch.testing.assert_close(cached.adapter.state_dict()[name], weight, rtol=0, atol=1e-6)
    for a, b in zip(expected, got, strict=True):
        assert a["ids"] == b["ids"]
        torch.testing.assert_close(b["predictions"], a["predictions"], rtol=0, atol=1e-6)

    # Training and validation items are computed in epoch 1; predicting the validation
    # items afterwards is served from the cache too.
    assert set(cached_backbone.recorder.calls) == {("train", 0), ("val", 0)}
    # The uncached run calls it every epoch: the check above is not vacuous.
    assert {e for s, e in plain_backbone.recorder.calls if s == "train"} == {0, 1, 2}
    assert any(s == "predict" for s, _ in plain_backbone.recorder.calls)


def test_token_classification_with_cache_matches_per_residue(tmp_path: Path) -> None:
    def run(cache_dir: Path | None) -> list[Any]:
        task = TokenClassification(
            backbone=partial(FinetunedToy, hidden_size=16, max_length=40),
            adapter=LinearTokenAdapter,
            optimizer=adam(),
            cache_embeddings=cache_dir is not None,
            cache_dir=None if cache_dir is None else str(cache_dir),
        )
        data = InMemoryData(train=token_samples(24, 0), test=token_samples(8, 1), batch_size=6)
        return _fit(task, data, epochs=2)

    expected, got = run(None), run(tmp_path)
    for a, b in zip(expected, got, strict=True):
        for x, y in zip(a["probabilities"], b["probabilities"], strict=True):
            torch.testing.assert_close(y, x, rtol=0, atol=1e-6)


def _folders(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir()}


def test_changed_weights_or_max_length_make_a_new_cache(tmp_path: Path) -> None:
    data = _regression_data()
    _fit(_regression(partial(FinetunedToy, max_length=40), tmp_path), data, epochs=1)
    first = _folders(tmp_path)
    _fit(_regression(partial(FinetunedToy, max_length=40), tmp_path), data, epochs=1)
    assert _folders(tmp_path) == first, "the same backbone must reuse its cache"

    _fit(_regression(partial(FinetunedToy, max_length=40, seed=1), tmp_path), data, epochs=1)
    after_weights = _folders(tmp_path)
    assert len(after_weights) == 2

    _fit(_regression(partial(FinetunedToy, max_length=30), tmp_path), data, epochs=1)
    assert len(_folders(tmp_path)) == 3


def test_a_new_backbone_never_reads_stale_states(tmp_path: Path) -> None:
    """Reuse the folder of one backbone with another: predictions follow the new weights."""
    data = _regression_data()
    first = Counting(max_length=40, seed=0)
    _fit(_regression(first, tmp_path), data, epochs=1)
    second = Counting(max_length=40, seed=1)
    task = _regression(second, tmp_path)
    second.recorder.task = task
    _fit(task, data, epochs=1)
    assert [s for s, _ in second.recorder.calls].count(
        "train"
    ) == 5  # 40 samples, 8 a batch: no hits


def test_a_damaged_shard_is_said_once_and_its_items_recomputed(tmp_path: Path) -> None:
    data = _regression_data()
    _fit(_regression(partial(FinetunedToy, max_length=40), tmp_path), data, epochs=1)
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    (shard,) = folder.glob("*.bin")
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # flip bits inside one stored item
    shard.write_bytes(bytes(raw[:]))
    with pytest.warns(UserWarning, match=r"embedding cache file .*damaged.*checksum") as caught:
        _fit(_regression(partial(FinetunedToy, max_length=40), tmp_path), data, epochs=2)
    assert sum("damaged" in str(w.message) for w in caught) == 1

    # Cut the shard short: records past its end are dropped when the index is read.
    shard.write_bytes(bytes(raw[:100]))
    with pytest.warns(UserWarning, match="shorter than its index says"):
        cache = EmbeddingCache(folder)
    assert len(cache) > 0  # the second run's own shard still serves its items
    cache.close()


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_cache_is_refused_for_a_backbone_that_trains(tmp_path: Path, mode: str) -> None:
    task = _regression(partial(FinetunedToy, finetune=mode), tmp_path)
    with pytest.raises(ValueError, match=f"needs a frozen backbone.*finetune is '{mode}'"):
        fast_trainer().fit(task, datamodule=_regression_data())
    assert not any(tmp_path.iterdir()), "refused before any work"


def test_cache_is_refused_for_a_built_backbone_with_trainable_weights(tmp_path: Path) -> None:
    """A backbone without a finetune option is checked once built."""
    task = _regression(partial(ToyBackbone, max_length=40), tmp_path)
    with pytest.raises(ValueError, match=r"needs a frozen backbone, but \d+ of its parameters"):
        fast_trainer().fit(task, datamodule=_regression_data())


@pytest.mark.parametrize("task_class", [MLM, Embed])
def test_cache_is_refused_for_tasks_that_change_or_read_more(task_class: type) -> None:
    with pytest.raises(
        ValueError, match=f"cache_embeddings is not available for {task_class.__name__}"
    ):
        task_class(backbone=FinetunedToy, cache_embeddings=True)


def test_a_frozen_backbone_runs_in_eval_mode_while_training() -> None:
    task = _regression(partial(FinetunedToy, max_length=40), None)
    task.configure_model()
    task.train()
    assert not task.backbone.training
    assert task.adapter.training
    trainable = _regression(partial(FinetunedToy, finetune="full", max_length=40), None)
    trainable.configure_model()
    trainable.train()
    assert trainable.backbone.training


def test_cached_states_are_the_backbone_states_bit_for_bit(tmp_path: Path) -> None:
    """A hit gives the very bytes the backbone computed, at every real token of every item."""
    task = _regression(partial(FinetunedToy, hidden_size=32, max_length=40), tmp_path)
    task.configure_model()
    batch = task.collate(regression_samples(6, 3))
    computed = task.backbone(batch["input_ids"], batch["attention_mask"])
    first = task.backbone_outputs(batch)  # a miss: runs the backbone and stores the items
    assert task._embedding_cache is not None and task._embedding_cache.misses == 6
    second = task.backbone_outputs(batch)  # a hit: read back from disk
    assert task._embedding_cache.hits == 6
    real = batch["attention_mask"]
    assert torch.equal(first.last_hidden_state[real], computed.last_hidden_state[real])
    assert torch.equal(second.last_hidden_state[real], computed.last_hidden_state[real])
    assert torch.equal(second.special_tokens_mask, computed.special_tokens_mask)
    assert not second.last_hidden_state[~real].any()  # padding: zeros, masked by adapters
