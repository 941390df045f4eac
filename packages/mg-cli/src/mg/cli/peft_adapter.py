"""Write a LoRA-tuned backbone's adapter as a PEFT folder at the end of ``mg fit``.

In a config (or ``--trainer.callbacks+=mg.cli.peft_adapter.SavePeftAdapter``)::

    trainer:
      callbacks:
        - class_path: mg.cli.peft_adapter.SavePeftAdapter

The run folder then holds ``peft_adapter/`` (``adapter_config.json`` and
``adapter_model.safetensors``), which ``peft.PeftModel.from_pretrained`` loads onto the
base model, and which ``lora_options: {init_from: FOLDER}`` starts a new mg run from.
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback


class SavePeftAdapter(Callback):
    """Save the backbone's LoRA weights in PEFT's format when training ends.

    Args:
        folder (str): the adapter folder, relative to the run folder (or absolute).

    Raises:
        ValueError: at fit start, when the backbone is not LoRA-tuned.
    """

    def __init__(self, folder: str = "peft_adapter") -> None:
        super().__init__()
        self.folder = folder

    def _model(self, pl_module: pl.LightningModule) -> object:
        backbone = getattr(pl_module, "backbone", None)
        model = getattr(backbone, "model", None)
        if model is None or getattr(backbone, "finetune", None) != "lora":
            raise ValueError(
                "SavePeftAdapter writes LoRA weights, but the backbone is not set to "
                "finetune: lora; set it, or drop the callback."
            )
        return model

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Refuse a backbone without LoRA before the first step."""
        self._model(pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Write the adapter folder into the run folder."""
        from mg.backbones.peft_format import save_peft_adapter

        if not trainer.is_global_zero:
            return
        target = Path(self.folder)
        if not target.is_absolute():
            target = Path(trainer.log_dir or ".") / target
        written = save_peft_adapter(self._model(pl_module), target)  # type: ignore[arg-type]
        print(f"PEFT adapter: {written}", file=sys.stderr, flush=True)
