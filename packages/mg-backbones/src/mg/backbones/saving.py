"""`SavesPretrained`: the ``save_pretrained`` of every backbone that can write a folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from mg.backbones.finetuning import has_lora, merged_copy


class SavesPretrained:
    """Mixin of a backbone that writes its ``self.model`` to a folder its family loads.

    The folder is made here; each class writes its own files in `write_pretrained`.
    """

    model: nn.Module

    def exportable_model(self) -> Any:
        """Return the model as the saved folder should hold it (LoRA updates merged in)."""
        return merged_copy(self.model) if has_lora(self.model) else self.model

    def save_pretrained(self, folder: str | os.PathLike[str]) -> Path:
        """Write this backbone to ``folder``, LoRA updates merged into the weights.

        The folder loads back through ``model_path`` of this backbone's family, the same
        path a user takes with published weights; what it holds: `write_pretrained`.

        Args:
            folder (str | os.PathLike[str]): created if missing.

        Returns:
            Path: the folder.
        """
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        self.write_pretrained(path)
        return path

    def write_pretrained(self, folder: Path) -> None:
        """Write the model files into ``folder``, which exists."""
        raise NotImplementedError
