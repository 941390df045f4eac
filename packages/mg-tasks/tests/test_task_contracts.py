"""Every task passes mg-core's TaskContract on the toy backbone."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import torch
from task_helpers import (
    composition_samples,
    conditional_samples,
    hairpin_samples,
    multilabel_samples,
    regression_samples,
    run_samples,
    tiny_backbone,
    token_samples,
    unlabelled,
)

from mg.core import IncompatibleError
from mg.core.testing import InMemoryData
from mg.core.testing.contracts import TaskContract, fast_trainer
from mg.tasks import (
    MLM,
    ConditionalDiffusion,
    Diffusion,
    Embed,
    Inference,
    PairwiseTokenClassification,
    SequenceClassification,
    SequenceRegression,
    TokenClassification,
)


def splits(make: Any, batch_size: int, predict: list[dict[str, Any]] | None = None, **kw: Any):
    return InMemoryData(
        train=make(16, 0, **kw),
        val=make(8, 1, **kw),
        test=make(10, 2, **kw),
        predict=predict if predict is not None else unlabelled(make(10, 3, **kw)),
        batch_size=batch_size,
    )


class TestSequenceRegression(TaskContract):
    def make_task(self) -> SequenceRegression:
        return SequenceRegression(tiny_backbone, num_outputs=2, normalize_labels=True)

    def make_data(self, batch_size: int = 4) -> InMemoryData:
        return splits(regression_samples, batch_size, offset=1000.0, scale=500.0, outputs=2)


class TestSequenceClassification(TaskContract):
    def make_task(self) -> SequenceClassification:
        return SequenceClassification(tiny_backbone, n_classes=3, class_weights=[1.0, 2.0, 1.0])

    def make_data(self, batch_size: int = 4) -> InMemoryData:
        return splits(composition_samples, batch_size, n_classes=3)


class TestMultilabelClassification(TaskContract):
    def make_task(self) -> SequenceClassification:
        return SequenceClassification(tiny_backbone, n_classes=2, multilabel=True)

    def make_data(self, batch_size: int = 4) -> InMemoryData:
        return splits(multilabel_samples, batch_size)


class TestTokenClassification(TaskContract):
    def make_task(self) -> TokenClassification:
        return TokenClassification(tiny_backbone)

    def make_data(self, batch_size: int = 4) -> InMemoryData:
        return splits(token_samples, batch_size)


class TestPairwiseTokenClassification(TaskContract):
    def make_task(self) -> PairwiseTokenClassification:
        return PairwiseTokenClassification(tiny_backbone, min_separation=4)

    def make_data(self, batch_size: int = 4) -> InMemoryData:
        return splits(hairpin_samples, batch_size)


class TestInference(TaskContract):
    def make_task(self) -> Inference:
        return Inference(tiny_backbone)

    def make_data(self, batch_size: int = 4) -> InMemoryData:
        return splits(run_samples, batch_size)


class TestMLM(TaskContract):
    def make_task(self) -> MLM:
        return MLM(tiny_backbone, mask_rate=0.3)

    def make_data(self, batch_size: int = 4) -> InMemoryData:
        return splits(run_samples, batch_size)


# Templates: '?' marks positions to generate, other characters are kept.
TEMPLATES = ["??????", "AC??GT??AC", "????????????????", "G?G?G?G?G?G?", "T???"]


class TestDiffusion(TaskContract):
    def make_task(self) -> Diffusion:
        return Diffusion(tiny_backbone, num_steps=4)

    def make_data(self, batch_size: int = 4) -> InMemoryData:
        predict = [{"ids": f"p{i}", "sequences": t} for i, t in enumerate(TEMPLATES * 2)]
        return splits(run_samples, batch_size, predict=predict)


class TestConditionalDiffusion(TaskContract):
    def make_task(self) -> ConditionalDiffusion:
        return ConditionalDiffusion(tiny_backbone, num_steps=4)

    def make_data(self, batch_size: int = 4) -> InMemoryData:
        predict = [
            {"ids": f"p{i}", "sequences": t, "labels": i % 2} for i, t in enumerate(TEMPLATES * 2)
        ]
        return splits(conditional_samples, batch_size, predict=predict)


class TestContinuousConditionalDiffusion(TaskContract):
    def make_task(self) -> ConditionalDiffusion:
        return ConditionalDiffusion(
            tiny_backbone, condition="continuous", condition_size=1, num_steps=3
        )

    def make_data(self, batch_size: int = 4) -> InMemoryData:
        def make(n: int, seed: int) -> list[dict[str, Any]]:
            samples = conditional_samples(n, seed)
            return [{**s, "labels": [float(s["labels"])]} for s in samples]

        predict = [
            {"ids": f"p{i}", "sequences": t, "labels": [0.5]} for i, t in enumerate(TEMPLATES)
        ]
        return splits(make, batch_size, predict=predict)


class TestEmbed(TaskContract):
    """Embed only predicts: the fit-based checks become their predict-only counterparts."""

    def make_task(self) -> Embed:
        return Embed(tiny_backbone, pooling="none", layers=[0, -1])

    def make_data(self, batch_size: int = 4) -> InMemoryData:
        return splits(run_samples, batch_size)

    def test_fit_test_and_predict_run_end_to_end(self) -> None:
        task, data = self.make_task(), self.make_data()
        with pytest.raises(ValueError, match=r"(?i)Embed cannot .*fit.*: it only runs predict"):
            fast_trainer(max_steps=1).fit(task, datamodule=data)
        with pytest.raises(ValueError, match=r"(?i)Embed cannot .*test.*: it only runs predict"):
            fast_trainer().test(task, datamodule=data)
        assert task.backbone is None
        predictions = self._predict(task, data)
        assert predictions and all("predictions" in batch for batch in predictions)

    def test_checkpoint_reloads_to_identical_predictions(self, tmp_path: Any) -> None:
        task, data = self.make_task(), self.make_data()
        trainer = fast_trainer()
        before = self._items(trainer.predict(task, datamodule=data) or [])
        path = tmp_path / "embed.ckpt"
        trainer.save_checkpoint(path)
        # Another seed: only the checkpoint's weights can make the predictions agree.
        other = Embed(partial(tiny_backbone, seed=7), pooling="none", layers=[0, -1])
        assert not torch.equal(self._items(self._predict(other, self.make_data()))[0], before[0])
        other = Embed(partial(tiny_backbone, seed=7), pooling="none", layers=[0, -1])
        after = self._items(self._predict(other, self.make_data(), ckpt_path=path))
        self._assert_same_items(after, before, atol=0.0)

    def test_missing_data_column_fails_before_the_model_is_built(self) -> None:
        task, data = self.make_task(), self.make_data()
        data.provided_columns = lambda stage: {"ids"}  # type: ignore[method-assign]
        with pytest.raises(IncompatibleError, match="sequences"):
            fast_trainer().predict(task, datamodule=data)
        assert task.backbone is None
