"""`TaskChecks`: what a task says about its data, and the hooks that check it before weights load.

The checks themselves live in `mg.core.checks` (`check_run`, the one entry point); this
mixin of `TaskInterface` holds the task's side: which sample keys hold sequences and for
which backbone, extra characters, the ``setup`` hook that runs the checks, and the
options checked against the backbone callable.
"""

from __future__ import annotations

from typing import Any

from mg.core.backbone import BackboneCallable, BackboneInterface
from mg.core.checks import backbone_options, check_run
from mg.core.compat import CompatibilityReport, check_compatibility, target_class
from mg.core.data import DataInterface
from mg.core.inputs import InputKind


class TaskChecks:
    """Data and option checks of `TaskInterface` (mixed in before ``LightningModule``).

    It reads the task's ``backbone_fn``, ``adapter_fn``, ``cache_embeddings`` and trainer.
    """

    backbone_fn: BackboneCallable
    adapter_fn: Any
    cache_embeddings: bool
    _trainer: Any
    trainer: Any

    def compatibility(
        self, datamodule: DataInterface | None = None, stage: str = "fit"
    ) -> CompatibilityReport:
        """Say whether this task's backbone, adapter (and data) fit together, and why not.

        Args:
            datamodule (DataInterface | None): also check that it provides every column
                (`mg.core.checks.check_run` tells it this task's label kind first).
            stage (str): the Lightning stage whose columns to check.
        """
        return check_compatibility(self, self.backbone_fn, self.adapter_fn, datamodule, stage)  # type: ignore[arg-type]

    def check_data(self, datamodule: DataInterface, stage: str) -> CompatibilityReport:
        """Check parts, columns, sequences and labels of ``stage`` before any weights load.

        See `mg.core.checks.check_run`, the one entry point; a task adds checks here.

        Raises:
            IncompatibleError: the parts or the data's columns do not fit.
            ValueError: a sequence or a label is wrong (the message names file, row and value).
        """
        return check_run(self, datamodule, stage)  # type: ignore[arg-type]

    def sequence_backbones(self) -> dict[str, BackboneCallable]:
        """Return each sample key holding sequences, with the backbone callable that reads it."""
        return {"sequences": self.backbone_fn}

    def extra_characters(self) -> str:
        """Return characters the data may hold beyond the backbones' alphabets (none)."""
        return ""

    def setup(self, stage: str) -> None:
        """Check the data (see `check_data`), which hands ``collate`` to the data module."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if isinstance(datamodule, DataInterface):
            self.check_data(datamodule, stage)

    def check_options(self) -> None:
        """Refuse options that cannot work with the configured backbone, before weights load.

        ``cache_embeddings`` needs a backbone that stays frozen: its class says from the
        callable's options (`BackboneInterface.declared_finetune`); one that cannot say is
        checked once built (`mg.core.embedding_cache.open_backbone_cache`).
        """
        if not self.cache_embeddings:
            return
        cls = target_class(self.backbone_fn)
        if getattr(cls, "input_kind", InputKind.SEQUENCE) != InputKind.SEQUENCE:
            # The cache keys items by token ids; a cell's inputs are expression values.
            raise ValueError(
                f"cache_embeddings works for sequence backbones only, not {cls.__name__} "
                "(it reads cells): set cache_embeddings: false."
            )
        if not (isinstance(cls, type) and issubclass(cls, BackboneInterface)):
            return  # checked once built
        mode = cls.declared_finetune(backbone_options(self.backbone_fn))
        if mode is not None and mode != "frozen":
            raise ValueError(
                f"cache_embeddings needs a frozen backbone, but the backbone's finetune is "
                f"{mode!r}: its hidden states change as it trains. Set finetune: frozen, or "
                "cache_embeddings: false."
            )
