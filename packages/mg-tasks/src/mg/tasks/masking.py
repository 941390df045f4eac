"""Masking for the masked objectives (MLM and masked discrete diffusion).

Only residue positions are ever masked: special tokens (CLS, EOS) and padding are left
alone. Targets use ``-100`` (`IGNORE_INDEX`) wherever there is nothing to predict.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mg.core.backbone import BackboneInterface
from mg.core.labels import IGNORE_INDEX
from mg.tasks.batching import item_generators, residue_mask, uniform_at, uniform_per_item


def _at_least_one(chosen: Tensor, residues: Tensor, draws: Tensor) -> Tensor:
    """Make sure every item with residues has at least one chosen position."""
    empty = ~chosen.any(1) & residues.any(1)
    if empty.any():
        scores = draws.masked_fill(~residues, float("inf"))
        first = torch.zeros_like(chosen).scatter_(1, scores.argmin(1, keepdim=True), True)
        chosen = chosen | (first & empty[:, None])
    return chosen


def mask_for_mlm(
    input_ids: Tensor,
    residues: Tensor,
    *,
    mask_rate: float,
    mask_id: int,
    replacement_ids: list[int],
    generators: list[torch.Generator] | None = None,
) -> tuple[Tensor, Tensor]:
    """Choose residues to predict and corrupt them the BERT way (80/10/10).

    Of the chosen positions, 80% become the mask token, 10% a random residue token and
    10% keep their token. Every item with residues gets at least one chosen position.

    Args:
        input_ids (Tensor): ``(batch, length)`` token ids.
        residues (Tensor): ``(batch, length)`` bool, positions that may be chosen.
        mask_rate (float): probability that a residue is chosen.
        mask_id (int): the mask token's id.
        replacement_ids (list[int]): ids random replacements are drawn from.
        generators (list[torch.Generator] | None): per-item generators (evaluation);
            None uses the global generator (training).

    Returns:
        tuple[Tensor, Tensor]: the corrupted ids, and targets ``(batch, length)`` holding
        the original id at chosen positions and `IGNORE_INDEX` elsewhere.
    """
    draws = uniform_at(residues, generators)
    chosen = _at_least_one(residues & (draws < mask_rate), residues, draws)
    action = uniform_at(residues, generators)
    pick = uniform_at(residues, generators)
    choices = torch.tensor(replacement_ids, device=input_ids.device)
    random_ids = choices[(pick * len(replacement_ids)).long().clamp(max=len(replacement_ids) - 1)]
    corrupted = torch.where(chosen & (action < 0.8), torch.full_like(input_ids, mask_id), input_ids)
    corrupted = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_ids, corrupted)
    targets = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    return corrupted, targets


def mask_batch_for_mlm(
    batch: dict[str, Any],
    backbone: BackboneInterface,
    *,
    mask_rate: float,
    seed: int,
    training: bool,
    task_name: str,
) -> tuple[Tensor, Tensor]:
    """Mask a collated batch for a masked-LM objective (`mask_for_mlm` on its residues).

    Training draws from the global generator; evaluation seeds a generator per item from
    ``seed``, so scores do not depend on batching or on the epoch.

    Args:
        batch (dict[str, Any]): the collated batch (``input_ids``, masks, ``ids``).
        backbone (BackboneInterface): gives the mask token and the residue token ids.
        mask_rate (float): probability that a residue is chosen.
        seed (int): seed of the evaluation masks.
        training (bool): draw training masks (random) or evaluation masks (seeded).
        task_name (str): the task, named in the error when the backbone has no mask token.

    Returns:
        tuple[Tensor, Tensor]: the corrupted ids and the targets (see `mask_for_mlm`).

    Raises:
        ValueError: the backbone has no mask token.
    """
    residues = residue_mask(batch)
    mask_id = backbone.get_special_token_id("mask")
    if mask_id is None:
        raise ValueError(f"{task_name} needs a mask token; {type(backbone).__name__} has none.")
    return mask_for_mlm(
        batch["input_ids"],
        residues,
        mask_rate=mask_rate,
        mask_id=mask_id,
        replacement_ids=backbone.get_alphabet_token_ids(),
        generators=None if training else item_generators(batch, residues, seed),
    )


def mask_for_diffusion(
    input_ids: Tensor,
    residues: Tensor,
    *,
    mask_id: int,
    generators: list[torch.Generator] | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Mask a random fraction ``t ~ U(0, 1]`` of each item's residues (the forward process).

    Args:
        input_ids (Tensor): ``(batch, length)`` token ids.
        residues (Tensor): ``(batch, length)`` bool, positions that may be masked.
        mask_id (int): the mask token's id.
        generators (list[torch.Generator] | None): per-item generators (evaluation);
            None uses the global generator (training).

    Returns:
        tuple[Tensor, Tensor, Tensor]: the masked ids; targets (original ids at masked
        positions, `IGNORE_INDEX` elsewhere); and the masking rate ``t`` ``(batch,)``.
    """
    rate = 1.0 - uniform_per_item(input_ids.shape[0], input_ids.device, generators)  # (0, 1]
    draws = uniform_at(residues, generators)
    chosen = _at_least_one(residues & (draws < rate[:, None]), residues, draws)
    masked = torch.where(chosen, torch.full_like(input_ids, mask_id), input_ids)
    targets = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    return masked, targets, rate


def mask_task_batch(task: Any, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
    """Mask a batch as a masked-LM task does, with its ``mask_rate`` and ``seed`` options.

    Randomly in training, seeded per item otherwise (see `mask_batch_for_mlm`).

    Returns:
        tuple[Tensor, Tensor]: the corrupted ids and the targets (original ids where
        chosen, ``IGNORE_INDEX`` elsewhere).
    """
    return mask_batch_for_mlm(
        batch,
        task.backbone,
        mask_rate=task.mask_rate,
        seed=task.seed,
        training=task.training,
        task_name=type(task).__name__,
    )
