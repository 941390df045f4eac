"""Gradual unfreezing: train the head first, then open the backbone from the top down.

A new head on a pretrained backbone gives large, noisy gradients at first; letting them
into every layer at once can wreck what the backbone knows. This callback keeps the
backbone frozen for the first epochs, then unfreezes its layers one group per epoch from
the last (most task-specific) to the first, and the embeddings last. In a config::

    trainer:
      callbacks:
        - class_path: mg.tasks.unfreezing.GradualUnfreezing
          init_args:
            unfreeze_at_epoch: 1
            layers_per_epoch: 1

(A ``callbacks:`` list in a config replaces mg's default callbacks; on the command line,
``--trainer.callbacks+=mg.tasks.unfreezing.GradualUnfreezing`` adds to them.)
"""

from __future__ import annotations

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from torch import nn


def backbone_layers(backbone: nn.Module) -> list[nn.Module]:
    """Return the backbone's stack of layers (its longest `nn.ModuleList`), first to last.

    Returns:
        list[nn.Module]: the layers; empty when the backbone has no layer list.
    """
    stacks = [m for m in backbone.modules() if isinstance(m, nn.ModuleList)]
    return list(max(stacks, key=len)) if stacks else []


class EpochUnfreezing(Callback):
    """Base of the callbacks that choose, from the epoch alone, which backbone weights train.

    At fit start it checks that the task has a backbone that trains in full (the optimizer
    then holds every weight, and frozen ones get no gradient until their turn), runs the
    subclass's `check_backbone`, and applies the plan; then again at each epoch's start.
    """

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Check that the backbone trains in full, then set the plan of the first epoch."""
        who = type(self).__name__
        backbone = getattr(pl_module, "backbone", None)
        if backbone is None:
            raise ValueError(
                f"{who} needs a task with a backbone; {type(pl_module).__name__} has none."
            )
        mode = getattr(backbone, "finetune", "full")
        if mode != "full":
            raise ValueError(
                f"{who} unfreezes backbone weights, but the backbone is set to "
                f"finetune={mode!r}; set finetune: full, or drop the callback."
            )
        self.check_backbone(backbone)
        self.set_trainable(pl_module.backbone, trainer.current_epoch)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Unfreeze the weights whose turn has come."""
        self.set_trainable(pl_module.backbone, trainer.current_epoch)

    def check_backbone(self, backbone: nn.Module) -> None:
        """Raise ValueError when the plan cannot apply to ``backbone``; nothing by default."""

    def set_trainable(self, backbone: nn.Module, epoch: int) -> None:
        """Set which of ``backbone``'s weights train at ``epoch``."""
        raise NotImplementedError


class GradualUnfreezing(EpochUnfreezing):
    """Keep the backbone frozen, then unfreeze its layers top-down, a few per epoch.

    Epochs before ``unfreeze_at_epoch`` train the task's head alone. From then on, each
    epoch unfreezes ``layers_per_epoch`` more layers, starting at the last; once every
    layer trains, the rest of the backbone (embeddings) does too. Which weights train
    follows from the epoch alone, so a resumed run continues the same plan.

    The optimizer already holds every backbone weight (mg builds it over the weights that
    train at the start, all of them with ``finetune: full``); frozen ones get no gradient
    and so no update, until their turn.

    Args:
        unfreeze_at_epoch (int): the first epoch (0-based) in which backbone layers train.
        layers_per_epoch (int): layers unfrozen at each epoch from then on.

    Raises:
        ValueError: an option below its minimum.
    """

    def __init__(self, unfreeze_at_epoch: int = 1, layers_per_epoch: int = 1) -> None:
        super().__init__()
        if unfreeze_at_epoch < 0 or layers_per_epoch < 1:
            raise ValueError(
                f"GradualUnfreezing needs unfreeze_at_epoch >= 0 and layers_per_epoch >= 1, "
                f"got {unfreeze_at_epoch} and {layers_per_epoch}."
            )
        self.unfreeze_at_epoch = unfreeze_at_epoch
        self.layers_per_epoch = layers_per_epoch

    def unfrozen_layers(self, epoch: int, n_layers: int) -> int:
        """Return how many of ``n_layers`` layers (counted from the last) train at ``epoch``."""
        if epoch < self.unfreeze_at_epoch:
            return 0
        return min(n_layers, (epoch - self.unfreeze_at_epoch + 1) * self.layers_per_epoch)

    def set_trainable(self, backbone: nn.Module, epoch: int) -> None:
        """Train the last `unfrozen_layers` layers, and everything once all of them train."""
        layers = backbone_layers(backbone)
        count = self.unfrozen_layers(epoch, len(layers))
        everything = epoch >= self.unfreeze_at_epoch and count == len(layers)
        backbone.requires_grad_(everything)
        if not everything:
            for layer in layers[len(layers) - count :]:
                layer.requires_grad_(True)
