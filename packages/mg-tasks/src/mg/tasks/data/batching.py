"""`BatchingPolicy`: how a split's items are grouped into batches, and in which order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import Sampler

from mg.core.data import stage_name
from mg.tasks.data.samplers import TOKEN_ALLOWANCE, EpochBatchSampler, LengthGroupedBatchSampler

InferenceOrder = Literal["sorted", "file"]
"""How evaluation and prediction batches are ordered (see `SequenceData`)."""


class BatchingPolicy:
    """The batching options of `SequenceData`, checked, and the batch sampler they give.

    Args:
        seed (int): seed of the training order.
        group_by_length (bool): length-group training batches.
        max_tokens (int | None): a padded-token budget per batch.
        inference_order (InferenceOrder): ``"sorted"`` or ``"file"``.
        sort_window (int): items per length-sorted inference window.

    Raises:
        ValueError: an option that cannot work, naming it and the fix.
    """

    def __init__(
        self,
        seed: int,
        group_by_length: bool,
        max_tokens: int | None,
        inference_order: InferenceOrder,
        sort_window: int,
    ) -> None:
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(
                f"max_tokens must be at least 1 (or None for no budget), not {max_tokens}."
            )
        if inference_order not in get_args(InferenceOrder):
            raise ValueError(
                f"inference_order must be one of {get_args(InferenceOrder)}, not "
                f"{inference_order!r}."
            )
        if sort_window < 1:
            raise ValueError(f"sort_window must be at least 1, not {sort_window}.")
        self.seed = seed
        self.group_by_length = group_by_length
        self.max_tokens = max_tokens
        self.inference_order = inference_order
        self.sort_window = sort_window
        self._budget_warned: set[str] = set()

    def sampler(
        self, split: str, data: Any, batch_size: int, epoch: int = 0, skip: int = 0
    ) -> Sampler[list[int]]:
        """A seeded batch order for training; a length-sorted (or file) order for inference.

        Args:
            split (str): the split ``data`` is.
            data (Any): its dataset (``len``, ``ids`` and ``lengths``).
            batch_size (int): samples per batch (the most, under a token budget).
            epoch (int): the training epoch the order is drawn for.
            skip (int): training batches of that epoch already done (a resumed fit).
        """
        train = split == "train"
        sort = not train and self.inference_order == "sorted"
        if not (self.max_tokens or sort or (train and self.group_by_length)):
            return EpochBatchSampler(
                range(len(data)),
                batch_size,
                False,
                shuffle=train,
                seed=self.seed,
                epoch=epoch,
                skip_batches=skip,
            )
        lengths = data.lengths
        if self.max_tokens is not None:
            self._warn_over_budget(split, data, lengths)
        return LengthGroupedBatchSampler(
            range(len(data)),
            batch_size,
            False,
            lengths=lengths,
            shuffle=train,
            seed=self.seed,
            epoch=epoch,
            skip_batches=skip,
            max_tokens=self.max_tokens,
            sort_window=self.sort_window if sort else None,
        )

    def _warn_over_budget(self, split: str, data: Any, lengths: Sequence[int]) -> None:
        """Say once per split how many sequences exceed the token budget on their own."""
        assert self.max_tokens is not None
        over = [i for i, n in enumerate(lengths) if n + TOKEN_ALLOWANCE > self.max_tokens]
        if not over or split in self._budget_warned:
            return
        self._budget_warned.add(split)
        longest = max(over, key=lambda i: lengths[i])
        rank_zero_warn(
            f"{len(over)} {split} sequence(s) exceed max_tokens={self.max_tokens} on their own "
            f"(the longest: {data.ids[longest]!r}, {lengths[longest]} residues); each gets a "
            "batch of its own. Raise max_tokens, or lower the backbone's max_length to "
            "truncate them."
        )


def train_position(trainer: Any) -> dict[str, int] | None:
    """The epoch and batch a fit resumed from this moment would continue at (None: no fit)."""
    if trainer is None or stage_name(trainer.state.fn) != "fit":
        return None
    done = int(trainer.fit_loop.epoch_loop.batch_progress.current.completed)
    epoch = int(trainer.current_epoch)
    total = trainer.num_training_batches
    if isinstance(total, int | float) and done >= total:
        epoch, done = epoch + 1, 0  # saved at the end of an epoch: the next one starts
    return {"epoch": epoch, "batches_done": done}
