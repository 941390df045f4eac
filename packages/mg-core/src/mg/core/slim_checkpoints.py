"""`SlimCheckpoints`: a task's checkpoints keep only the backbone weights that train.

A frozen or LoRA-tuned backbone's pretrained weights are left out of the checkpoint and
recorded as omitted; loading accepts exactly those keys missing, and nothing else.
"""

from __future__ import annotations

from typing import Any

from mg.core.backbone import BackboneInterface


class SlimCheckpoints:
    """Checkpoint hooks of `TaskInterface` (mixed in before ``LightningModule``).

    It reads the task's ``backbone`` and keeps ``_omitted_keys``, which the task initialises.
    """

    backbone: BackboneInterface | None
    _omitted_keys: set[str]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep only trainable backbone weights when the backbone is frozen or LoRA-tuned."""
        omitted = self.backbone.on_save_checkpoint(checkpoint, "backbone.") if self.backbone else []
        checkpoint["mg"] = {"omitted_keys": omitted}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Remember which backbone weights the checkpoint left to the pretrained model."""
        self._omitted_keys = set(checkpoint.get("mg", {}).get("omitted_keys", []))

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        """Load weights, accepting slim checkpoints that omit frozen backbone weights.

        Only the keys the checkpoint itself recorded as omitted may be missing; any other
        missing or unexpected key is still an error when ``strict``.
        """
        result = super().load_state_dict(state_dict, strict=False, assign=assign)  # type: ignore[misc]
        missing = [k for k in result.missing_keys if k not in self._omitted_keys]
        if strict and (missing or result.unexpected_keys):
            raise RuntimeError(
                f"The checkpoint does not fit {type(self).__name__}: missing keys {missing[:5]}, "
                f"unexpected keys {result.unexpected_keys[:5]}. Was it saved with the same "
                "backbone and adapter options?"
            )
        return result
