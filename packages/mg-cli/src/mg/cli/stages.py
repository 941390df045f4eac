"""Training in stages: a checkpoint's weights with a fresh optimizer (reset_optimizer_states).

A second stage of training (a lower learning rate, another optimizer, the backbone
unfrozen) starts from the first stage's weights but not from its optimizer's moments nor
its schedule. ``mg fit --ckpt_path stage1.ckpt`` with this callback does that, while the
epoch and step counts go on from the checkpoint (so ``trainer.max_epochs`` counts both
stages)::

    mg fit --config stage2.yaml --ckpt_path runs/mg/version_0/checkpoints/last.ckpt
           --trainer.callbacks+=mg.cli.stages.ResetOptimizerStates
"""

from __future__ import annotations

import sys
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback


class ResetOptimizerStates(Callback):
    """Drop the optimizer and learning-rate scheduler states of the checkpoint a fit resumes.

    The optimizers and schedulers the config builds start afresh; weights, epoch, step and
    the other callbacks' states are restored as usual. It is said once when it applies.
    """

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Empty the checkpoint's optimizer and scheduler states before Lightning reads them."""
        if trainer.state.fn != "fit":
            return
        dropped = len(checkpoint.get("optimizer_states") or [])
        # Lightning restores them pairwise with the new optimizers: an empty list restores none.
        checkpoint["optimizer_states"] = []
        checkpoint["lr_schedulers"] = []
        if trainer.is_global_zero:
            print(
                f"reset_optimizer_states: {dropped} optimizer state(s) of the checkpoint "
                "left out; the optimizer and schedule start afresh.",
                file=sys.stderr,
                flush=True,
            )
