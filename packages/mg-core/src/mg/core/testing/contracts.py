"""Contract tests every backbone, adapter and task must pass.

Subclass a contract in a pytest file, name the subclass ``Test...`` and implement its
factory method; every ``test_*`` method then runs against your component::

    from mg.core.testing import AdapterContract

    class TestMyAdapter(AdapterContract):
        def make_adapter(self, in_features, out_features):
            return MyAdapter(in_features, out_features)

They check behaviour users rely on — padding and batch-mates never change an item's
output, gradients reach every weight, checkpoints reload to identical predictions,
bad input fails clearly — not shapes alone.
"""

from __future__ import annotations

import inspect
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from torch import Tensor, nn

from mg.core.adapters import (
    ConditionalGenerationAdapter,
    PairwiseAdapter,
    SequenceAdapter,
    TokenAdapter,
)
from mg.core.backbone import BackboneInterface, BackboneOutput, Capability
from mg.core.compat import IncompatibleError
from mg.core.data import DataInterface
from mg.core.task import TaskInterface

ATOL = 1e-5


def fast_trainer(**overrides: Any) -> pl.Trainer:
    """Return a quiet CPU Trainer for tests: no logger, checkpoints or progress bar."""
    options: dict[str, Any] = {
        "accelerator": "cpu",
        "devices": 1,
        "max_epochs": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
    }
    options.update(overrides)
    return pl.Trainer(**options)


def assert_reserved_positional_only(cls: type, count: int) -> None:
    """Assert that ``cls`` takes exactly ``count`` positional-only reserved arguments.

    Any further parameter must be keyword-only, so a user option can never be taken
    for a reserved argument.
    """
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    positional = [p for p in parameters if p.kind is inspect.Parameter.POSITIONAL_ONLY]
    assert len(positional) == count, (
        f"{cls.__name__} must take {count} reserved positional-only arguments, has "
        f"{[p.name for p in positional]}"
    )
    loose = [p.name for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert not loose, f"{cls.__name__}: make {loose} keyword-only (after `*`)"


def _alphabet(backbone: BackboneInterface) -> str:
    ids = torch.tensor([backbone.get_alphabet_token_ids()])
    return backbone.decode_tokens(ids)[0]


def example_sequences(
    backbone: BackboneInterface, lengths: tuple[int, ...] = (5, 9, 13)
) -> list[str]:
    """Return deterministic sequences over the backbone's alphabet with the given lengths."""
    alphabet = _alphabet(backbone)
    return [
        "".join(alphabet[(i * 7 + j * 3) % len(alphabet)] for j in range(n))
        for i, n in enumerate(lengths)
    ]


class BackboneContract:
    """Contract tests for a backbone. Implement `make_backbone`."""

    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        """Return a small instance of the backbone under test, in eval mode."""
        raise NotImplementedError

    def _encode(self, backbone: BackboneInterface, sequences: list[str]) -> BackboneOutput:
        batch = backbone.batch(sequences)
        with torch.no_grad():
            return backbone(batch.input_ids, batch.attention_mask)

    def test_reserved_arguments_are_positional_only(self) -> None:
        assert_reserved_positional_only(type(self.make_backbone()), 2)

    def test_output_matches_declared_sizes(self) -> None:
        backbone = self.make_backbone().eval()
        out = self._encode(backbone, example_sequences(backbone))
        assert isinstance(out, BackboneOutput)
        batch, length, size = out.last_hidden_state.shape
        assert (batch, size) == (3, backbone.get_embedding_size())
        assert out.attention_mask.dtype == torch.bool and out.attention_mask.shape == (3, length)
        assert torch.isfinite(out.last_hidden_state[out.attention_mask]).all()

    def test_padding_and_batch_mates_do_not_change_hidden_states(self) -> None:
        backbone = self.make_backbone().eval()
        sequences = example_sequences(backbone, (4, 11, 17))
        alone = self._encode(backbone, sequences[:1])
        batched = self._encode(backbone, [sequences[2], sequences[0], sequences[1]])
        n = int(alone.attention_mask[0].sum())
        torch.testing.assert_close(
            batched.last_hidden_state[1, :n], alone.last_hidden_state[0, :n], atol=ATOL, rtol=1e-4
        )

    def test_all_hidden_states_has_one_per_layer_plus_embeddings(self) -> None:
        backbone = self.make_backbone().eval()
        batch = backbone.batch(example_sequences(backbone))
        with torch.no_grad():
            out = backbone(batch.input_ids, batch.attention_mask, all_hidden_states=True)
        assert out.hidden_states is not None
        assert len(out.hidden_states) == backbone.get_num_layer() + 1
        torch.testing.assert_close(out.hidden_states[-1], out.last_hidden_state)

    def test_tokenize_gives_unpadded_ids_that_decode_to_the_sequences(self) -> None:
        backbone = self.make_backbone()
        sequences = example_sequences(backbone)
        rows = backbone.tokenize(sequences)
        assert [type(i) for row in rows for i in row] == [int] * sum(map(len, rows))
        pad = backbone.get_special_token_id("pad")
        assert all(row and row[-1] != pad for row in rows), "tokenize must not pad"
        batch = backbone.batch(sequences)
        assert batch.input_ids.dtype == torch.long
        assert backbone.decode_tokens(batch.input_ids) == sequences
        residues = batch.attention_mask & ~batch.special_tokens_mask
        if Capability.PER_RESIDUE_TOKENS in backbone.capabilities:
            assert residues.sum(1).tolist() == [len(s) for s in sequences]

    def test_batching_never_changes_an_items_ids_or_masks(self) -> None:
        backbone = self.make_backbone()
        sequences = example_sequences(backbone, (3, 12, 7))
        batch = backbone.batch(sequences, pad_to_multiple_of=8)
        assert batch.input_ids.shape[1] % 8 == 0
        assert batch.attention_mask.sum(1).tolist() == [
            len(r) for r in backbone.tokenize(sequences)
        ]
        for index, sequence in enumerate(sequences):
            alone = backbone.batch([sequence])
            n = alone.input_ids.shape[1]
            for got, expected in (
                (batch.input_ids, alone.input_ids),
                (batch.attention_mask, alone.attention_mask),
                (batch.special_tokens_mask, alone.special_tokens_mask),
            ):
                assert torch.equal(got[index, :n], expected[0]), f"item {index} changed"
            assert not batch.attention_mask[index, n:].any()
            assert batch.special_tokens_mask[index, n:].all()

    def test_long_sequences_are_truncated_to_max_context(self) -> None:
        backbone = self.make_backbone()
        too_long = example_sequences(backbone, (backbone.get_max_context() * 2,))
        assert len(backbone.tokenize(too_long)[0]) <= backbone.get_max_context()

    def test_special_tokens_are_outside_the_alphabet(self) -> None:
        backbone = self.make_backbone()
        alphabet = set(backbone.get_alphabet_token_ids())
        pad = backbone.get_special_token_id("pad")
        assert pad is not None and pad not in alphabet
        assert all(0 <= i < backbone.get_vocab_size() for i in alphabet)
        if Capability.MASK_TOKEN in backbone.capabilities:
            mask = backbone.get_special_token_id("mask")
            assert mask is not None and mask not in alphabet

    def test_lm_head_is_there_exactly_when_declared(self) -> None:
        backbone = self.make_backbone(use_lm_head=True).eval()
        decoder = backbone.get_decoder()
        if Capability.MASKED_LM_HEAD not in backbone.capabilities:
            assert decoder is None, "get_decoder() returns a head the class does not declare"
            return
        assert decoder is not None, "declares a masked-LM head but get_decoder() is None"
        out = self._encode(backbone, example_sequences(backbone))
        with torch.no_grad():
            logits = decoder(out.last_hidden_state)
        assert logits.shape[-1] == backbone.get_vocab_size()

    def test_invalid_character_error_names_sequence_and_character(self) -> None:
        backbone = self.make_backbone()
        good = example_sequences(backbone)[0]
        with pytest.raises(ValueError, match=r"(?s)1.*'\?'|'\?'.*1"):
            backbone.tokenize([good, good[:2] + "?" + good[2:]])
        assert backbone.find_invalid([good, good[:2] + "?" + good[2:]]) == (1, 2, "?")
        assert backbone.find_invalid([good, good.lower()]) is None


class AdapterContract:
    """Contract tests for an adapter. Implement `make_adapter`.

    For a `ConditionalGenerationAdapter`, ``out_features`` is the vocabulary size; build
    it with ``self.condition_size`` as its condition size.
    """

    in_features = 12
    out_features = 3
    condition_size = 2

    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        """Return the adapter under test with the task-filled sizes."""
        raise NotImplementedError

    def _run(self, adapter: nn.Module, hidden: Tensor, mask: Tensor, condition: Tensor) -> Tensor:
        if isinstance(adapter, ConditionalGenerationAdapter):
            return adapter(hidden, mask, condition)
        return adapter(hidden, mask)

    def _inputs(self, lengths: list[int], seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
        generator = torch.Generator().manual_seed(seed)
        width = max(lengths)
        hidden = torch.randn(len(lengths), width, self.in_features, generator=generator)
        mask = torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]
        # Garbage in padded positions: an adapter that reads them fails the padding test.
        hidden = torch.where(mask[..., None], hidden, torch.full_like(hidden, 1e3))
        condition = torch.randn(len(lengths), self.condition_size, generator=generator)
        return hidden, mask, condition

    def _valid(self, output: Tensor, adapter: nn.Module, length: int) -> Tensor:
        """Cut an item's output down to the part that depends on its real tokens."""
        if isinstance(adapter, SequenceAdapter):
            return output
        if isinstance(adapter, PairwiseAdapter):
            return output[:length, :length]
        return output[:length]

    def test_is_an_adapter_type(self) -> None:
        adapter = self.make_adapter(self.in_features, self.out_features)
        kinds = (SequenceAdapter, TokenAdapter, PairwiseAdapter, ConditionalGenerationAdapter)
        assert isinstance(adapter, kinds)

    def test_reserved_arguments_are_positional_only(self) -> None:
        adapter = self.make_adapter(self.in_features, self.out_features)
        count = 4 if isinstance(adapter, ConditionalGenerationAdapter) else 2
        assert_reserved_positional_only(type(adapter), count)

    def test_padding_and_batch_mates_do_not_change_an_item(self) -> None:
        adapter = self.make_adapter(self.in_features, self.out_features).eval()
        hidden, mask, condition = self._inputs([5, 9, 14])
        with torch.no_grad():
            batched = self._run(adapter, hidden, mask, condition)
            alone = self._run(adapter, hidden[:1, :5], mask[:1, :5], condition[:1])
        torch.testing.assert_close(
            self._valid(batched[0], adapter, 5),
            self._valid(alone[0], adapter, 5),
            atol=ATOL,
            rtol=1e-4,
        )

    def test_nan_in_padding_reaches_no_output_or_gradient(self) -> None:
        # Real backbones can leave NaN in padded rows; 0 * NaN is NaN, so masking late leaks.
        adapter = self.make_adapter(self.in_features, self.out_features).train()
        lengths = [4, 9]
        hidden, mask, condition = self._inputs(lengths, seed=4)
        hidden = hidden.masked_fill(~mask[..., None], float("nan"))
        out = self._run(adapter, hidden, mask, condition)
        valid = torch.cat(
            [self._valid(out[i], adapter, n).flatten() for i, n in enumerate(lengths)]
        )
        assert valid.isfinite().all(), "NaN in padding reached the outputs"
        valid.pow(2).mean().backward()
        leaky = [
            n
            for n, p in adapter.named_parameters()
            if p.grad is not None and not p.grad.isfinite().all()
        ]
        assert not leaky, f"NaN in padding reached the gradients of {leaky}"

    def test_permuting_the_batch_permutes_the_outputs(self) -> None:
        adapter = self.make_adapter(self.in_features, self.out_features).eval()
        hidden, mask, condition = self._inputs([7, 7, 7, 7], seed=1)
        order = torch.tensor([2, 0, 3, 1])
        with torch.no_grad():
            out = self._run(adapter, hidden, mask, condition)
            permuted = self._run(adapter, hidden[order], mask[order], condition[order])
        torch.testing.assert_close(permuted, out[order], atol=ATOL, rtol=1e-4)

    def test_gradients_reach_every_parameter(self) -> None:
        adapter = self.make_adapter(self.in_features, self.out_features).train()
        hidden, mask, condition = self._inputs([6, 8], seed=2)
        out = self._run(adapter, hidden, mask, condition)
        out.float().pow(2).mean().backward()
        silent = [
            n
            for n, p in adapter.named_parameters()
            if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)
        ]
        assert not silent, f"no gradient reaches {silent}"


class PairwiseAdapterContract(AdapterContract):
    """`AdapterContract` plus the symmetry every pairwise map must have."""

    def test_pairwise_outputs_are_symmetric(self) -> None:
        adapter = self.make_adapter(self.in_features, self.out_features).eval()
        assert isinstance(adapter, PairwiseAdapter)
        hidden, mask, condition = self._inputs([6, 9], seed=3)
        with torch.no_grad():
            out = self._run(adapter, hidden, mask, condition)
        torch.testing.assert_close(out, out.transpose(1, 2), atol=ATOL, rtol=1e-4)


class TaskContract:
    """Contract tests for a task. Implement `make_task` and `make_data`.

    ``make_data`` returns a small data module with train, val, test and predict splits
    whose samples carry ``"ids"``. `max_steps` training steps must run in seconds.
    """

    max_steps = 4

    def make_task(self) -> TaskInterface:
        """Return a fresh, unbuilt task with a tiny backbone."""
        raise NotImplementedError

    def make_data(self, batch_size: int = 4) -> DataInterface:
        """Return a small data module."""
        raise NotImplementedError

    def _predict(self, task: TaskInterface, data: DataInterface, **kwargs: Any) -> list[Any]:
        return fast_trainer().predict(task, datamodule=data, **kwargs) or []

    @staticmethod
    def _items(predictions: list[Any], key: str = "predictions") -> list[Tensor]:
        """Split predicted batches into one tensor per item (rows of a tensor, or a list)."""
        return [torch.as_tensor(item).float() for batch in predictions for item in batch[key]]

    def _assert_same_items(self, got: list[Tensor], expected: list[Tensor], atol: float) -> None:
        assert len(got) == len(expected)
        for index, (a, b) in enumerate(zip(got, expected, strict=True)):
            torch.testing.assert_close(a, b, atol=atol, rtol=1e-4, msg=f"item {index} differs")

    def _runs(self, stage: str) -> bool:
        return stage in type(self.make_task()).supported_stages

    def test_fit_test_and_predict_run_end_to_end(self) -> None:
        task, data = self.make_task(), self.make_data()
        if not self._runs("fit"):
            with pytest.raises(IncompatibleError, match="cannot fit"):
                fast_trainer(max_steps=1).fit(task, datamodule=data)
            assert self._predict(task, data)
            return
        trainer = fast_trainer(max_steps=self.max_steps, limit_val_batches=2)
        trainer.fit(task, datamodule=data)
        assert trainer.callback_metrics["train_loss"].isfinite()
        results = fast_trainer().test(task, datamodule=data)
        assert results and "test_loss" in results[0]
        predictions = self._predict(task, data)
        assert predictions and all("predictions" in batch for batch in predictions)

    def test_checkpoint_reloads_to_identical_predictions(self, tmp_path: Any) -> None:
        task, data = self.make_task(), self.make_data()
        trainer = fast_trainer(max_steps=self.max_steps)
        if self._runs("fit"):
            trainer.fit(task, datamodule=data)
        else:  # nothing to train: a checkpoint of the built model must still reload
            trainer.predict(task, datamodule=data)
        path = tmp_path / "task.ckpt"
        trainer.save_checkpoint(path)
        before = self._items(self._predict(task, data))
        after = self._items(self._predict(self.make_task(), self.make_data(), ckpt_path=path))
        self._assert_same_items(after, before, atol=0.0)

    def test_predictions_do_not_depend_on_batch_mates(self) -> None:
        task = self.make_task()
        one = self._items(self._predict(task, self.make_data(batch_size=1)))
        many = self._items(self._predict(task, self.make_data(batch_size=5)))
        self._assert_same_items(one, many, atol=1e-4)

    def test_missing_data_column_fails_before_the_model_is_built(self) -> None:
        task, data = self.make_task(), self.make_data()
        data.provided_columns = lambda stage: {"ids"}  # type: ignore[method-assign]
        with pytest.raises(IncompatibleError, match="sequences"):
            if self._runs("fit"):
                fast_trainer(max_steps=1).fit(task, datamodule=data)
            else:
                fast_trainer().predict(task, datamodule=data)
        assert task.backbone is None, "the backbone was built before the data check"
