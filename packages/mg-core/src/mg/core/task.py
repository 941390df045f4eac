"""`TaskInterface`: the LightningModule every mg task subclasses.

A task owns an objective. It builds a backbone and an adapter from the callables the
user configures (``configure_model``), batches samples (``collate``), runs the model
(``forward``) and computes the loss and metrics (``evaluate``). Everything else lives
once in a part of its own, mixed in here: steps and epoch sums (`EpochSums`), metrics per
stage (`StageMetrics`), the data checks' hooks (`TaskChecks`), slim checkpoints
(`SlimCheckpoints`); optimizers are built by `mg.core.optimizers`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from mg.core.backbone import BackboneCallable, BackboneInterface, BackboneOutput
from mg.core.cells import CellBackboneInterface
from mg.core.checks import say_what_is_cut
from mg.core.compat import IncompatibleError
from mg.core.data import DataInterface, Sample
from mg.core.embedding_cache import EmbeddingCache, open_backbone_cache
from mg.core.epoch_sums import EpochSums, Stage
from mg.core.labels import label_handler
from mg.core.metric_updates import BufferedUpdates
from mg.core.optimizers import build_optimizer, may_fuse, scheduler_config
from mg.core.slim_checkpoints import SlimCheckpoints
from mg.core.stage_metrics import StageMetrics
from mg.core.task_checks import TaskChecks
from mg.core.task_declarations import TaskDeclarations

OptimizerCallable = Callable[[Iterable[nn.Parameter]], Optimizer]
"""``optimizer(trainable_parameters)`` → Optimizer, e.g. ``torch.optim.AdamW``."""

LRSchedulerCallable = Callable[[Optimizer], LRScheduler | ReduceLROnPlateau]
"""``lr_scheduler(optimizer)`` → scheduler."""


class TaskInterface(
    TaskDeclarations, EpochSums, StageMetrics, TaskChecks, SlimCheckpoints, pl.LightningModule, ABC
):
    """Base class of every task.

    A task is its objective: subclasses declare what they need at class level
    (`TaskDeclarations`), so compatibility is known before anything is built, and implement
    `collate` and
    `evaluate` (plus `adapter_arguments` when they take an adapter). The base builds the
    backbone, the adapter and the optimizers; the steps and their epoch sums are
    `EpochSums`'s, metrics `StageMetrics`'s, the data checks' hooks `TaskChecks`'s (the
    checks are `mg.core.checks`'s), checkpoints `SlimCheckpoints`'s.

    Class attributes:
        adapter_type: the adapter base type this task accepts (None: takes no adapter).
        default_adapter: the adapter built when the user names none.
        label_kind: what one sample's label is; its handler (`mg.core.labels`) parses,
            checks, stacks and draws labels (a subclass whose kind depends on an option
            sets ``self.label_kind``).
        uses_lm_head: the backbone must load its masked-LM head.
        needs_capabilities: backbone capabilities the task relies on.
        supported_stages: the Lightning stages the task can run (an embedding task, with
            no objective, only predicts).

    Args:
        backbone (BackboneCallable): builds the backbone; the task fills its reserved
            ``(use_lm_head, default_config)`` arguments.
        adapter (Callable[..., nn.Module] | None): builds the adapter; the task fills its
            reserved arguments from `adapter_arguments`. A subclass declares its default
            adapter once, as ``default_adapter``, and exposes it as the default of its own
            ``adapter`` parameter (``adapter: ... = default_adapter``), so the CLI shows it.
        optimizer (OptimizerCallable): builds the optimizer over trainable parameters only.
        lr_scheduler (LRSchedulerCallable | None): builds a learning-rate scheduler.
        lr_scheduler_interval (str): step the scheduler every ``"epoch"`` or every ``"step"``.
        lr_scheduler_monitor (str): the logged value a ReduceLROnPlateau scheduler watches.
        log_train_steps (bool): also log the training loss at every step (as
            ``train_loss_step``); by default values are summed on the device and logged
            once per epoch as ``train_loss``, which keeps the step fast, and the progress
            bar shows the epoch's running loss every ``log_every_n_steps`` batches.
        pad_to_multiple_of (int | None): pad every batch's width up to a multiple of this
            (8 suits tensor cores); by default to the longest item.
        cache_embeddings (bool): compute the frozen backbone's hidden states once per
            sequence and read them from disk afterwards (epochs 2+ skip the backbone).
            Needs a frozen backbone (no LoRA) and a task that declares
            ``supports_embedding_cache``; see `mg.core.embedding_cache`.
        cache_dir (str | None): where the cache lives (one sub-folder per backbone
            fingerprint); by default ``embedding_cache`` in the trainer's root folder.
    """

    def __init__(
        self,
        backbone: BackboneCallable,
        adapter: Callable[..., nn.Module] | None = None,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | None = None,
        lr_scheduler_interval: Literal["epoch", "step"] = "epoch",
        lr_scheduler_monitor: str = "val_loss",
        log_train_steps: bool = False,
        pad_to_multiple_of: int | None = None,
        cache_embeddings: bool = False,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__()
        if cache_embeddings and not self.supports_embedding_cache:
            raise ValueError(
                f"cache_embeddings is not available for {type(self).__name__}: it changes the "
                "backbone's inputs every step (masking) or reads more than the last hidden "
                "states. Set cache_embeddings: false."
            )
        self.cache_embeddings = cache_embeddings
        self.cache_dir = cache_dir
        self._embedding_cache: EmbeddingCache | None = None
        self.backbone_fn = backbone
        self.adapter_fn = adapter
        self.optimizer_fn = optimizer
        self.lr_scheduler_fn = lr_scheduler
        self.lr_scheduler_interval = lr_scheduler_interval
        self.lr_scheduler_monitor = lr_scheduler_monitor
        self.log_train_steps = log_train_steps
        if pad_to_multiple_of is not None and pad_to_multiple_of < 1:
            raise ValueError(f"pad_to_multiple_of must be positive, not {pad_to_multiple_of}.")
        self.pad_to_multiple_of = pad_to_multiple_of
        self.backbone: BackboneInterface | None = None
        self.adapter: nn.Module | None = None
        self.metrics = nn.ModuleDict()
        # "stage_name" -> (item-weighted sum, items) of this epoch's step outputs (the loss).
        self._sums: dict[str, tuple[Tensor, int]] = {}
        self._train_batches = 0
        self._metric_updates: dict[str, BufferedUpdates] = {}
        self._omitted_keys: set[str] = set()

    # ----------------------------------------------------------------- what a task writes
    def adapter_arguments(self, backbone: BackboneInterface) -> tuple[Any, ...]:
        """Return the reserved positional arguments this task fills in its adapter.

        Tasks that take an adapter override this, e.g. ``(embedding_size, n_classes)``.

        Args:
            backbone (BackboneInterface): the backbone just built.
        """
        raise NotImplementedError(
            f"{type(self).__name__} takes an adapter but does not say how to build it: "
            "override adapter_arguments()."
        )

    def backbone_defaults(self) -> dict[str, Any] | None:
        """Return model-config defaults the backbone should use (user values win), or None."""
        return None

    @abstractmethod
    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Turn samples into a batch of tensors: tokenize, pad, stack labels.

        Runs in DataLoader workers, so tokenization never slows the training step.

        Args:
            samples (list[Sample]): dicts with the columns the data module provides.

        Returns:
            dict[str, Any]: at least ``input_ids`` and ``attention_mask`` (bool) tensors.
        """

    def forward(self, batch: dict[str, Any]) -> Any:
        """Run the backbone, then the adapter on its last hidden states.

        Tasks without an adapter, or whose adapter reads more, override this.
        """
        out = self.backbone_outputs(batch)
        return self.adapter(out.last_hidden_state, out.attention_mask)

    def backbone_outputs(self, batch: dict[str, Any]) -> BackboneOutput:
        """Run the backbone on a batch, or read its outputs from the embedding cache.

        With ``cache_embeddings`` a batch whose items are all cached skips the backbone;
        otherwise the whole batch runs and the new items are stored.
        """
        assert self.backbone is not None, "configure_model() builds the backbone first"
        if not self.cache_embeddings:
            return self.backbone(batch["input_ids"], batch["attention_mask"])
        if self._embedding_cache is None:
            self._embedding_cache = open_backbone_cache(
                self.backbone, self.cache_dir, self._trainer, self.global_rank
            )
        if self.backbone.training:
            self.backbone.eval()  # a cache is only exact for a deterministic backbone
        with torch.no_grad():
            return self._embedding_cache.backbone_outputs(
                self.backbone, batch["input_ids"], batch["attention_mask"]
            )

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

    def tokenize_samples(
        self,
        samples: Sequence[Sample],
        sequences: Sequence[str] | None = None,
        backbone: BackboneInterface | None = None,
    ) -> dict[str, Any]:
        """Tokenize and pad the samples' sequences into the batch layout every task uses.

        Call it from ``collate``: padding (``pad_to_multiple_of``) is decided here, once.

        Args:
            samples (Sequence[Sample]): sample dicts with ``"sequences"`` and, usually, ``"ids"``.
            sequences (Sequence[str] | None): sequences to tokenize instead of the samples' own.
            backbone (BackboneInterface | None): the backbone whose tokenizer to use (a
                task with several); by default ``self.backbone``.

        A cell backbone reads the samples' ``"expression"`` rows instead (its
        ``batch_cells``), so a task written for sequences reads cells unchanged.

        Returns:
            dict[str, Any]: ``input_ids`` (long; expression values for some cell
            backbones), ``attention_mask`` and ``special_tokens_mask`` (bool), and ``ids``
            (None where a sample has no id).
        """
        backbone = backbone or self.backbone
        assert backbone is not None, "configure_model() builds the backbone first"
        if isinstance(backbone, CellBackboneInterface):
            # Cells: the aligned expression rows, stacked; the backbone makes its inputs.
            rows = [torch.as_tensor(s["expression"], dtype=torch.float32) for s in samples]
            tokens = backbone.batch_cells(torch.stack(rows))
        else:
            texts = [s["sequences"] for s in samples] if sequences is None else list(sequences)
            tokens = backbone.batch(texts, pad_to_multiple_of=self.pad_to_multiple_of)
        return {
            "input_ids": tokens.input_ids,
            "attention_mask": tokens.attention_mask,
            "special_tokens_mask": tokens.special_tokens_mask,
            "ids": [s.get("ids") for s in samples],
        }

    @property
    def label_size(self) -> int | None:
        """The number of classes, labels or outputs a label holds (None: any, or no labels).

        The label handler of ``label_kind`` checks and stacks labels to this size.
        """
        return None

    def label_problem(self, label: Any) -> str | None:
        """Say what is wrong with one label for this task (wrong range, NaN, ...), or None.

        The checks entry point calls this for every label before training starts, so a bad
        row fails at once with its file, row and column rather than mid-epoch. It asks the
        handler of ``label_kind`` (`mg.core.labels`); a task adds rules of its own here.
        """
        return label_handler(self.label_kind).check(label, self.label_size)

    def add_labels(self, batch: dict[str, Any], samples: Sequence[Sample]) -> dict[str, Any]:
        """Stack the samples' labels into ``batch["labels"]`` when they have labels.

        Call it from ``collate`` after tokenizing: the handler of ``label_kind`` stacks
        them (per-residue and pair labels line up with the batch's tokens).
        """
        if samples and "labels" in samples[0]:
            batch["labels"] = label_handler(self.label_kind).stack(samples, batch, self.label_size)
        return batch

    # ----------------------------------------------------------------- model building
    def configure_model(self) -> None:
        """Build the backbone and, when the task takes one, the adapter (once).

        Lightning calls this on the target device before any weights are restored; a
        second call (``trainer.test`` after ``trainer.fit``) keeps the model already built.
        """
        if self.backbone is not None:
            return
        self.backbone = self.build_backbone(self.backbone_defaults())
        if not any(p.requires_grad for p in self.backbone.parameters()):
            self.backbone.eval()  # frozen: no dropout, as in `train` (fit never calls it)
        if self.adapter_type is not None and self.adapter_fn is not None:
            self.adapter = self.adapter_fn(*self.adapter_arguments(self.backbone))
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if isinstance(datamodule, DataInterface):
            say_what_is_cut(self.backbone, datamodule)

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

    # ----------------------------------------------------------------- Lightning hooks
    def train(self, mode: bool = True) -> TaskInterface:
        """Set training mode; a backbone with no trainable weight stays in eval mode.

        A frozen backbone is a fixed feature extractor: dropout in it would only add noise
        that no weight learns from, and it would make cached hidden states differ from
        computed ones.
        """
        super().train(mode)
        backbone = self.backbone
        if (
            mode
            and backbone is not None
            and not any(p.requires_grad for p in backbone.parameters())
        ):
            backbone.eval()
        return self

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Return ``{"ids": [...], "predictions": tensor}`` for the prediction writer."""
        return {"ids": batch.get("ids"), "predictions": self(batch)}

    def configure_optimizers(self) -> Any:
        """Build the optimizer over trainable parameters only, and the scheduler if set.

        torch's Adam and AdamW, left without an implementation choice, get the fused kernel
        where it is safe (see `mg.core.optimizers`).
        """
        trainable = [p for p in self.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError(
                f"{type(self).__name__} has no trainable parameters: unfreeze the backbone or "
                "give it an adapter with weights."
            )
        optimizer = build_optimizer(self.optimizer_fn, trainable, may_fuse=may_fuse(self._trainer))
        if self.lr_scheduler_fn is None:
            return optimizer
        config = scheduler_config(
            self.lr_scheduler_fn(optimizer),
            self.lr_scheduler_interval,
            self.lr_scheduler_monitor,
            self._trainer,
        )
        return {"optimizer": optimizer, "lr_scheduler": config}
