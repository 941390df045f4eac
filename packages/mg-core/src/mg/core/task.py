"""`TaskInterface`: the LightningModule every mg task subclasses.

A task owns an objective. It builds a backbone and an adapter from the callables the
user configures (``configure_model``), batches samples (``collate``), runs the model
(``forward``) and computes the loss and metrics (``evaluate``). Everything else —
steps, logging, optimizers, the data-column check, slim checkpoints — lives here once.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from mg.core.backbone import BackboneCallable, BackboneInterface, Capability
from mg.core.compat import (
    CompatibilityReport,
    IncompatibleError,
    check_compatibility,
    target_class,
)
from mg.core.data import STAGES, DataInterface, Sample

OptimizerCallable = Callable[[Iterable[nn.Parameter]], Optimizer]
"""``optimizer(trainable_parameters)`` → Optimizer, e.g. ``torch.optim.AdamW``."""

LRSchedulerCallable = Callable[[Optimizer], LRScheduler | ReduceLROnPlateau]
"""``lr_scheduler(optimizer)`` → scheduler."""

if TYPE_CHECKING:
    # torchmetrics imports transformers whenever it is installed; mg.core must not.
    from torchmetrics import Metric, MetricCollection

Stage = Literal["train", "val", "test", "predict"]


class TaskInterface(pl.LightningModule, ABC):
    """Base class of every task.

    Subclasses declare what they need at class level, so compatibility is known before
    anything is built, and implement the four members below.

    Class attributes:
        adapter_type: the adapter base type this task accepts (None: takes no adapter).
        uses_lm_head: the backbone must load its masked-LM head.
        needs_capabilities: backbone capabilities the task relies on.
        supported_stages: the Lightning stages the task can run (an embedding task, with
            no objective, only predicts).

    Args:
        backbone (BackboneCallable): builds the backbone; the task fills its reserved
            ``(use_lm_head, default_config)`` arguments.
        optimizer (OptimizerCallable): builds the optimizer over trainable parameters only.
        lr_scheduler (LRSchedulerCallable | None): builds a learning-rate scheduler.
        lr_scheduler_interval (str): step the scheduler every ``"epoch"`` or every ``"step"``.
        lr_scheduler_monitor (str): the logged value a ReduceLROnPlateau scheduler watches.
    """

    adapter_type: ClassVar[type[nn.Module] | None] = None
    uses_lm_head: ClassVar[bool] = False
    needs_capabilities: ClassVar[frozenset[Capability]] = frozenset()
    supported_stages: ClassVar[frozenset[str]] = frozenset(STAGES)

    def __init__(
        self,
        backbone: BackboneCallable,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | None = None,
        lr_scheduler_interval: Literal["epoch", "step"] = "epoch",
        lr_scheduler_monitor: str = "val_loss",
    ) -> None:
        super().__init__()
        self.backbone_fn = backbone
        self.optimizer_fn = optimizer
        self.lr_scheduler_fn = lr_scheduler
        self.lr_scheduler_interval = lr_scheduler_interval
        self.lr_scheduler_monitor = lr_scheduler_monitor
        self.backbone: BackboneInterface | None = None
        self.adapter: nn.Module | None = None
        # Subclasses that take an adapter store its callable here; the checks read it.
        self.adapter_fn: Callable[..., nn.Module] | None = None
        self.metrics = nn.ModuleDict()
        self._omitted_keys: set[str] = set()

    # ----------------------------------------------------------------- declarations
    @classmethod
    def required_capabilities(cls) -> frozenset[Capability]:
        """Return every backbone capability this task needs."""
        needs = set(cls.needs_capabilities)
        if cls.uses_lm_head:
            needs.add(Capability.MASKED_LM_HEAD)
        return frozenset(needs)

    @classmethod
    def required_data_columns(cls, stage: str) -> set[str]:
        """Return the data columns this task reads in ``stage``.

        The default needs labels for every stage but predict.

        Args:
            stage (str): ``"fit"``, ``"validate"``, ``"test"`` or ``"predict"``.
        """
        return {"sequences"} if stage == "predict" else {"sequences", "labels"}

    @classmethod
    def provided_data_columns(cls, stage: str) -> set[str]:
        """Return the columns ``predict_step`` writes (the prediction writer's columns)."""
        return {"ids", "predictions"}

    @classmethod
    def default_adapter_class(cls) -> type | None:
        """Return the adapter class the task builds when the user names none."""
        parameter = inspect.signature(cls.__init__).parameters.get("adapter")
        if parameter is None or parameter.default in (inspect.Parameter.empty, None):
            return None
        return target_class(parameter.default)

    def backbone_class(self) -> type[BackboneInterface] | None:
        """Return the class the backbone callable builds, when it can be told."""
        cls = target_class(self.backbone_fn)
        return cls if cls is not None and issubclass(cls, BackboneInterface) else None

    # ----------------------------------------------------------------- the four members
    @abstractmethod
    def configure_model(self) -> None:
        """Build ``self.backbone`` and ``self.adapter``.

        Lightning calls this once the trainer knows the device and strategy; it must
        return at once when the model is already built (``self.backbone is not None``).
        """

    @abstractmethod
    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Turn samples into a batch of tensors: tokenize, pad, stack labels.

        Runs in DataLoader workers, so tokenization never slows the training step.

        Args:
            samples (list[Sample]): dicts with the columns the data module provides.

        Returns:
            dict[str, Any]: at least ``input_ids`` and ``attention_mask`` (bool) tensors.
        """

    @abstractmethod
    def forward(self, batch: dict[str, Any]) -> Any:
        """Run backbone and adapter on a collated batch and return predictions."""

    @abstractmethod
    def evaluate(self, preds: Any, batch: dict[str, Any], stage: Stage) -> dict[str, Tensor]:
        """Compute the loss and update the stage's metrics.

        Args:
            preds (Any): what ``forward`` returned.
            batch (dict[str, Any]): the collated batch, labels included.
            stage (Stage): ``"train"``, ``"val"`` or ``"test"``.

        Returns:
            dict[str, Tensor]: ``{"loss": ...}`` plus anything else to log.
        """

    # ----------------------------------------------------------------- building blocks
    def build_backbone(self, default_config: dict[str, Any] | None = None) -> BackboneInterface:
        """Build the backbone from its callable with this task's reserved arguments."""
        backbone = self.backbone_fn(self.uses_lm_head, default_config)
        if not isinstance(backbone, BackboneInterface):
            raise TypeError(
                f"The backbone option built a {type(backbone).__name__}, not a backbone: give "
                "a subclass of mg.core.BackboneInterface."
            )
        if self.uses_lm_head and backbone.get_decoder() is None:
            # A class may declare a head that a particular checkpoint lacks.
            raise IncompatibleError(
                f"{type(self).__name__} needs the backbone's masked-LM head, but this "
                f"{type(backbone).__name__} has none: point it at a checkpoint saved with its "
                "masked-LM head (a *ForMaskedLM model)."
            )
        return backbone

    def configure_metrics(self, stage: Stage) -> dict[str, Metric]:
        """Return fresh metrics for ``stage``; logged as ``{stage}_{name}`` every epoch."""
        return {}

    def stage_metrics(self, stage: Stage) -> MetricCollection:
        """Return the metric collection of ``stage``, built on first use."""
        from torchmetrics import MetricCollection

        key = f"{stage}_metrics"  # a bare "train" would clash with Module.train
        if key not in self.metrics:
            self.metrics[key] = MetricCollection(self.configure_metrics(stage)).to(self.device)
            # Lightning caches where logged metrics live at the first log; make it look again.
            self._metric_attributes = None
        return self.metrics[key]  # type: ignore[return-value]

    # ----------------------------------------------------------------- Lightning hooks
    def compatibility(
        self, datamodule: DataInterface | None = None, stage: str = "fit"
    ) -> CompatibilityReport:
        """Say whether this task's backbone, adapter (and data) fit together, and why not.

        Args:
            datamodule (DataInterface | None): also check that it provides every column.
            stage (str): the Lightning stage whose columns to check.
        """
        return check_compatibility(self, self.backbone_fn, self.adapter_fn, datamodule, stage)

    def setup(self, stage: str) -> None:
        """Check parts, columns and labels before any weights load; hand ``collate`` over."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if isinstance(datamodule, DataInterface):
            self.compatibility(datamodule, stage).raise_if_incompatible()
            if "labels" in self.required_data_columns(str(getattr(stage, "value", stage))):
                datamodule.check_labels(stage, self.label_problem)
            datamodule.collate_fn = self.collate

    def label_problem(self, label: Any) -> str | None:
        """Say what is wrong with one label for this task (wrong range, NaN, ...), or None.

        Data modules call this for every label before training starts, so a bad row
        fails at once with its file, row and column rather than mid-epoch.
        """
        return None

    def _step(self, batch: dict[str, Any], stage: Stage) -> Tensor:
        preds = self(batch)
        outputs = self.evaluate(preds, batch, stage)
        size = batch_size_of(batch)
        for name, value in outputs.items():
            self.log(
                f"{stage}_{name}",
                value.detach(),
                on_step=stage == "train",
                on_epoch=True,
                prog_bar=name == "loss",
                batch_size=size,
                sync_dist=stage != "train",
            )
        for name, metric in self.stage_metrics(stage).items():
            self.log(f"{stage}_{name}", metric, on_step=False, on_epoch=True, batch_size=size)
        return outputs["loss"]

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        """Run one training step."""
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        """Run one validation step."""
        return self._step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        """Run one test step."""
        return self._step(batch, "test")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Return ``{"ids": [...], "predictions": tensor}`` for the prediction writer."""
        return {"ids": batch.get("ids"), "predictions": self(batch)}

    def configure_optimizers(self) -> Any:
        """Build the optimizer over trainable parameters only, and the scheduler if set."""
        trainable = [p for p in self.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError(
                f"{type(self).__name__} has no trainable parameters: unfreeze the backbone or "
                "give it an adapter with weights."
            )
        optimizer = self.optimizer_fn(trainable)
        if self.lr_scheduler_fn is None:
            return optimizer
        scheduler = self.lr_scheduler_fn(optimizer)
        interval = self.lr_scheduler_interval
        # Warmup schedules (mg.tasks.schedules) size themselves to the run and step per step.
        if callable(getattr(scheduler, "set_total_steps", None)):
            scheduler.set_total_steps(self.trainer.estimated_stepping_batches)
            interval = "step"
        config = {"scheduler": scheduler, "interval": interval, "frequency": 1}
        if isinstance(scheduler, ReduceLROnPlateau):
            config["monitor"] = self.lr_scheduler_monitor
        return {"optimizer": optimizer, "lr_scheduler": config}

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
        result = super().load_state_dict(state_dict, strict=False, assign=assign)
        missing = [k for k in result.missing_keys if k not in self._omitted_keys]
        if strict and (missing or result.unexpected_keys):
            raise RuntimeError(
                f"The checkpoint does not fit {type(self).__name__}: missing keys {missing[:5]}, "
                f"unexpected keys {result.unexpected_keys[:5]}. Was it saved with the same "
                "backbone and adapter options?"
            )
        return result


def batch_size_of(batch: dict[str, Any]) -> int:
    """Return the number of items in a collated batch."""
    return int(batch["input_ids"].shape[0])
