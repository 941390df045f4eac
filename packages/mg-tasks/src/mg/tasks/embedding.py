"""Embed: the backbone's hidden states as features, per sequence or per residue."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from mg.adapters.pooling import pool
from mg.core import BackboneCallable, TaskInterface
from mg.core.inputs import InputKind
from mg.core.task import Stage
from mg.tasks.batching import (
    Sample,
    gather_tokens,
    pack_index,
    residue_mask,
    unpack,
)

EmbedPooling = Literal["mean", "max", "cls", "none"]
"""How `Embed` turns token states into one vector: ``"none"`` keeps one per residue."""


class Embed(TaskInterface):
    """Embed sequences with a backbone: one vector per sequence, or one per residue.

    A prediction-only task (``supported_stages``): it has no objective, so ``fit``,
    ``validate`` and ``test`` stop with an error before anything is built; run ``predict``.

    Pooling reads residue tokens only (special tokens and padding are left out), except
    ``"cls"``, which takes the state of the backbone's leading CLS token.

    Data: samples with ``"sequences"``, or ``"expression"`` with a cell backbone (from
    `CellData`): one vector per cell.

    Predictions: ``"predictions"``: with pooling, a tensor ``(batch, size)``; with
    ``pooling="none"``, per item a tensor ``(residues, size)``. When ``layers`` is set,
    a layer dimension comes before ``size``: ``(batch, layers, size)`` or
    ``(residues, layers, size)``.

    Args:
        backbone (BackboneCallable): builds the backbone.
        pooling (EmbedPooling): ``"mean"``, ``"max"``, ``"cls"`` or ``"none"`` (per residue).
        layers (list[int] | Literal["all"] | None): which hidden states to return: None
            for the last layer only; a list of indices into the embedding output followed
            by every layer's output (0 is the embedding output, -1 the last layer); or
            ``"all"`` for all of them.
        **kwargs (Any): `TaskInterface` options; unused, as Embed does not train.

    Raises:
        ValueError: an unknown ``pooling``, or an empty ``layers`` list.
    """

    input_kinds = frozenset({InputKind.SEQUENCE, InputKind.CELLS})
    supported_stages = frozenset({"predict"})

    def __init__(
        self,
        backbone: BackboneCallable,
        *,
        pooling: EmbedPooling = "mean",
        layers: list[int] | Literal["all"] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone, **kwargs)
        if pooling not in ("mean", "max", "cls", "none"):
            raise ValueError(f"pooling must be 'mean', 'max', 'cls' or 'none', not {pooling!r}.")
        if isinstance(layers, str) and layers != "all":
            raise ValueError(f"layers must be a list of indices, 'all' or None, not {layers!r}.")
        if isinstance(layers, list) and not layers:
            raise ValueError("layers is empty: give at least one layer index, 'all' or None.")
        self.pooling = pooling
        self.layers = layers

    def setup(self, stage: str) -> None:
        """Check the data, then refuse any stage but predict (also without a data module)."""
        super().setup(stage)
        if stage != "predict":
            raise ValueError(
                f"Embed only predicts embeddings; it has no objective to {stage}. Run predict "
                "(`mg predict`) instead."
            )

    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Tokenize the sequences."""
        return self.tokenize_samples(samples)

    def forward(self, batch: dict[str, Any]) -> Tensor | list[Tensor]:
        """Embed a batch.

        Returns:
            Tensor | list[Tensor]: pooled ``(batch, [layers,] size)``, or with
            ``pooling="none"`` one ``(residues, [layers,] size)`` tensor per item.
        """
        out = self.backbone(
            batch["input_ids"], batch["attention_mask"], all_hidden_states=self.layers is not None
        )
        # float32 whatever the precision: pooling sums many states, and writers need numpy.
        states = self._select_layers(out.last_hidden_state, out.hidden_states).float()
        # The output's own masks: a backbone may drop positions it read (AIDO.Cell's
        # read-depth tokens), so the batch's masks need not line up with its states.
        special = out.special_tokens_mask
        masks = {
            "attention_mask": out.attention_mask,
            "special_tokens_mask": special if special is not None else batch["special_tokens_mask"],
        }
        residues = residue_mask(masks)
        if self.pooling == "none":
            index, packed = pack_index(residues)
            return unpack(gather_tokens(states, index), packed)
        if self.pooling == "cls":
            first = masks["special_tokens_mask"][:, 0] & masks["attention_mask"][:, 0]
            if not bool(first.all()):
                raise ValueError(
                    f"pooling='cls' needs a leading CLS token, which "
                    f"{type(self.backbone).__name__} does not add; use 'mean' or 'max'."
                )
        # Pooling reads (batch, length, features): fold any layer dimension into features.
        flat = states.flatten(2)
        pooled = pool(
            flat, masks["attention_mask"] if self.pooling == "cls" else residues, self.pooling
        )
        return pooled.view(states.shape[0], *states.shape[2:])

    def _select_layers(self, last: Tensor, hidden: tuple[Tensor, ...] | None) -> Tensor:
        """Return ``(batch, length, size)``; with ``layers``: ``(batch, length, layers, size)``."""
        if self.layers is None:
            return last
        if hidden is None:
            raise ValueError(
                f"{type(self.backbone).__name__} returned no hidden states although they "
                "were asked for (all_hidden_states=True)."
            )
        chosen = range(len(hidden)) if self.layers == "all" else self.layers
        for i in chosen:
            if not -len(hidden) <= i < len(hidden):
                raise ValueError(
                    f"layers holds {i}, but the backbone has {len(hidden)} hidden states "
                    f"(the embedding output and {len(hidden) - 1} layers): use indices in "
                    f"[{-len(hidden)}, {len(hidden) - 1}]."
                )
        return torch.stack([hidden[i] for i in chosen], dim=2)

    def evaluate(self, preds: Any, batch: dict[str, Any], stage: Stage) -> dict[str, Tensor]:
        """Embed has no objective; `setup` stops every stage but predict before this."""
        raise ValueError("Embed has no objective to evaluate; run predict.")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Return the embeddings (see `forward`) with the ids."""
        embeddings = self(batch)
        if isinstance(embeddings, Tensor):
            embeddings = embeddings.cpu()
        return {"ids": batch["ids"], "predictions": embeddings}
