"""The data-module interface.

A data module yields samples as dicts of named columns (``{"sequences": "ACGT",
"labels": 1, "ids": "seq0"}``) and declares which columns it provides for each stage.
It never tokenizes: the task's ``collate`` turns samples into tensors, inside the
DataLoader workers.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from mg.core.alphabets import AlphabetCheck

if TYPE_CHECKING:
    from mg.core.cells import GeneVocabulary

STAGES = ("fit", "validate", "test", "predict")
"""Lightning's stage names, used for column declarations."""

SPLITS_OF_STAGE: dict[str, tuple[str, ...]] = {
    "fit": ("train", "val"),
    "validate": ("val",),
    "test": ("test",),
    "predict": ("predict",),
}
"""The data splits each Lightning stage reads (validation during fit is optional)."""


def stage_name(stage: Any) -> str:
    """Return a stage's name: ``"fit"`` for ``"fit"`` and for Lightning's ``TrainerFn.FITTING``."""
    return str(getattr(stage, "value", stage))


class LabelKind(StrEnum):
    """What one sample's label is; every task declares the kind it reads.

    Data modules read label columns as the task says, so the user never states it twice.

    Attributes:
        CLASS: one class per sequence (an index, or a class name).
        MULTILABEL: a 0/1 flag per label.
        REGRESSION: one number per output.
        TOKEN: one class per residue.
        PAIRS: residue pairs ``[i, j]`` (contact or base-pair maps).
        NONE: the task reads no labels.
    """

    CLASS = "class"
    MULTILABEL = "multilabel"
    REGRESSION = "regression"
    TOKEN = "token"
    PAIRS = "pairs"
    NONE = "none"


Sample = dict[str, Any]
Collate = Callable[[list[Sample]], dict[str, Any]]
LabelCheck = Callable[[Any], str | None]
"""Given one sample's label, say what is wrong with it (None when it is fine)."""


class DataInterface(pl.LightningDataModule):
    """Base class of every mg data module.

    Subclasses fill ``self.datasets`` (split name → dataset of sample dicts) in
    ``setup`` and declare their columns in `provided_columns`. The task sets
    `collate_fn` before any loader is built.

    Args:
        batch_size (int): samples per batch.
        num_workers (int): DataLoader worker processes (tokenization runs there).
    """

    def __init__(self, batch_size: int = 16, num_workers: int = 0) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.collate_fn: Collate | None = None
        self.datasets: dict[str, Dataset] = {}

    @abstractmethod
    def provided_columns(self, stage: str) -> set[str]:
        """Return the columns every sample carries in ``stage``.

        Args:
            stage (str): ``"fit"``, ``"validate"``, ``"test"`` or ``"predict"``.

        Returns:
            set[str]: column names, e.g. ``{"sequences", "labels", "ids"}``.
        """

    def use_label_kind(self, kind: LabelKind) -> None:
        """Read labels as ``kind`` from now on; the task calls this before any check.

        The default does nothing (in-memory data already holds parsed labels). Data
        modules that parse files override it, and raise a ``ValueError`` when the user
        declared a different kind.

        Args:
            kind (LabelKind): the label kind of the task this data feeds.
        """

    def check_sequences(
        self, stage: str, alphabet: AlphabetCheck, reader: str, column: str = "sequences"
    ) -> None:
        """Check every sequence of a column of ``stage``'s splits against a backbone's alphabet.

        The default does nothing; data modules that read files override it and raise a
        ``ValueError`` naming the file, row, id, column, character and position of the
        first offender, before any weights load.

        Args:
            stage (str): the Lightning stage about to run.
            alphabet (AlphabetCheck): the characters the backbone accepts.
            reader (str): the backbone's name, for messages.
            column (str): the sample key whose sequences the backbone reads.
        """

    def use_genes(
        self, stage: str, vocabulary: GeneVocabulary, reader: str, expects_counts: bool
    ) -> None:
        """Align cells to a cell backbone's genes and check their values; before any weights load.

        The checks entry point calls this when the task's backbone reads cells. The default
        does nothing (data of sequences); a cell data module matches its genes to
        ``vocabulary``, says how many it has, and raises a ``ValueError`` naming the file,
        cell and gene of the first value the backbone cannot read.

        Args:
            stage (str): the Lightning stage about to run (its splits are aligned).
            vocabulary (GeneVocabulary): the genes the backbone reads, in its order.
            reader (str): the backbone's name, for messages.
            expects_counts (bool): the backbone reads raw integer counts.
        """

    def split_sequences(self) -> dict[str, Any]:
        """Return each set-up split's sequences (a list, or a store read in chunks).

        The checks entry point counts what ``max_length`` cuts from these.
        """
        found = {}
        for split, dataset in self.datasets.items():
            sequences = getattr(dataset, "sequences", None)
            if sequences is not None and len(sequences):
                found[split] = sequences
        return found

    def check_labels(self, stage: str, problem: LabelCheck) -> None:
        """Check every label of ``stage``'s splits before any weights load.

        The default does nothing; data modules that read files override it and raise a
        ``ValueError`` naming the file, row and column of the first bad label.

        Args:
            stage (str): the Lightning stage about to run.
            problem (LabelCheck): returns what is wrong with a label, or None if it is fine.
        """

    def batch_sampler(self, split: str) -> Sampler[list[int]] | None:
        """Return a batch sampler for ``split``, or None for plain batching.

        Override to group similar lengths, for example.
        """
        return None

    def _loader(self, split: str) -> DataLoader:
        if split not in self.datasets:
            raise RuntimeError(
                f"{type(self).__name__} has no {split!r} split; call setup() first, or give "
                f"the data module a {split} file."
            )
        if self.collate_fn is None:
            raise RuntimeError(
                f"{type(self).__name__}.collate_fn is not set: a task sets it when it is "
                "attached to a Trainer together with this data module."
            )
        common: dict[str, Any] = {
            "collate_fn": self.collate_fn,
            "num_workers": self.num_workers,
            "persistent_workers": self.num_workers > 0,
        }
        sampler = self.batch_sampler(split)
        if sampler is not None:
            return DataLoader(self.datasets[split], batch_sampler=sampler, **common)
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size,
            shuffle=split == "train",
            **common,
        )

    def train_dataloader(self) -> DataLoader:
        """Return the training loader (shuffled)."""
        return self._loader("train")

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        """Return the validation loader; none (validation is skipped) without a val split."""
        return self._loader("val") if "val" in self.datasets else []

    def test_dataloader(self) -> DataLoader:
        """Return the test loader."""
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        """Return the prediction loader (in file order)."""
        return self._loader("predict")

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        """Move a collated batch's tensors to ``device``, passing plain values straight on.

        Lightning's default walks every element of every list (each id string of the
        batch) looking for tensors: about 0.6 ms a step on a CPU. A task batch is a dict of
        tensors and lists of plain values, so only what is neither goes the general way.
        (It lives on the data module: Lightning warns when a module overrides it while a
        data module is in use.)
        """
        if not isinstance(batch, dict):
            return super().transfer_batch_to_device(batch, device, dataloader_idx)
        non_blocking = device.type not in ("cpu", "mps")  # Lightning's choice too
        moved = {}
        for key, value in batch.items():
            if isinstance(value, Tensor):
                moved[key] = value.to(device, non_blocking=non_blocking)
            elif _plain(value):
                moved[key] = value
            else:
                moved[key] = super().transfer_batch_to_device(value, device, dataloader_idx)
        return moved


_PLAIN_TYPES = (str, bytes, int, float, bool, type(None))


def _plain(value: Any) -> bool:
    """Whether a batch value holds no tensor: a plain value, or a list or tuple of them."""
    if isinstance(value, _PLAIN_TYPES):
        return True
    return isinstance(value, (list, tuple)) and all(isinstance(v, _PLAIN_TYPES) for v in value)
