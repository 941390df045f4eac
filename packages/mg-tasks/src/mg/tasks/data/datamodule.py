"""`SequenceData`: the generic data module over sequence files and Hugging Face datasets.

It composes parts with one job each: a `DataSource` reads the inputs, a `SplitPlan` says
which rows each split takes, a `SplitBuilder` turns them into samples (in memory or on
disk, labels read as the task says) and a `BatchingPolicy` orders the batches. What is
left here is the options and the Lightning hooks.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import Sampler

from mg.core.data import DataInterface, LabelKind
from mg.tasks.data.batching import BatchingPolicy, InferenceOrder, train_position
from mg.tasks.data.builder import SplitBuilder, Storage
from mg.tasks.data.dataset import SequenceDataset
from mg.tasks.data.plan import Split, SplitPlan
from mg.tasks.data.readers import FileFormat
from mg.tasks.data.source import DataSource
from mg.tasks.data.split_checks import SplitCheckHooks
from mg.tasks.data.store import StoredSequenceDataset


class SequenceData(SplitCheckHooks, DataInterface):
    r"""Sequences and labels from CSV, TSV, Parquet, JSON Lines or FASTA files, or a HF dataset.

    Give the data either as one ``path`` (a file or a folder of files; training rows, plus
    validation and test rows split off at random or by fold) or as separate
    ``train_file``/``val_file``/``test_file``/``predict_file`` (each a file or a folder), or
    as ``hf_dataset``. Prediction reads ``predict_file``, else the test split, in file
    order: never the training rows unless you point ``predict_file`` at them.

    Labels are read the way the task says (its ``label_kind``: class, multilabel,
    regression, token, pairs), so a config states it once, on the task.

    Files are read and checked when a stage is set up, before any model weights load: a
    missing column, an empty file or split, or a label that cannot be read raises a
    ValueError naming the file, the 1-based data row and the column.

    Args:
        path (str | None): a file or folder holding all the data.
        train_file (str | None): training data (file or folder), instead of ``path``.
        val_file (str | None): validation data.
        test_file (str | None): test data.
        predict_file (str | None): data to predict on.
        hf_dataset (str | None): a Hugging Face dataset name or a folder saved with
            ``save_to_disk`` (needs the ``datasets`` package); its ``train``, ``validation``
            (or ``valid``/``val``/``dev``) and ``test`` splits are used unless a fraction or
            fold option carves them from ``train``.
        hf_config (str | None): the Hugging Face dataset configuration.
        file_format (FileFormat): the format of every file, or ``"auto"`` to tell each
            file's format from its suffix.
        sequence_column (str): the column that holds the sequences.
        id_column (str): the column that holds ids; when the default ``"id"`` is absent, ids
            are made from the file name and row (``"train-3"``). In FASTA files the id is the
            header's first word.
        label_columns (str | list[str] | None): the column(s) that hold labels; None for
            unlabelled data. Several columns give a multilabel or multi-output target.
        label_type (str | None): a `LabelKind` value; None (the default) reads labels as
            the task says. Set it only to use SequenceData without a task, or to state
            the kind explicitly (a task reading another kind then stops with an error before any
            weights load). ``class`` an index or a class name; ``multilabel`` 0/1
            per column (or a list in one column); ``regression`` a number per column (or a
            list); ``token`` one class per residue (``"0110"``, ``"0 1 1 0"`` or a JSON
            list); ``pairs`` a JSON list of ``[i, j]`` 0-based pairs or a dot-bracket
            string; ``none`` ignores ``label_columns``.
        class_names (list[str] | None): class names in index order; without, names are
            read from the training data and sorted (a column of whole numbers is read as
            class indices; a column mixing numbers and names is an error).
        label_table (str | None): a table (CSV, TSV, Parquet, JSON Lines) with
            ``id_column`` and the label columns, joined on id (e.g. labels for a FASTA file).
        header_pattern (str | None): FASTA only: a regular expression whose named groups
            become columns read from each header, e.g. ``"label=(?P<label>\S+)"``.
        val_fraction (float): share of ``path``/``train_file`` rows held out for validation.
        test_fraction (float): share of ``path``/``train_file`` rows held out for testing.
        n_folds (int | None): k-fold cross-validation: split the training rows (after the
            test rows are held out) into this many folds.
        fold (int): the fold used for validation (``0 .. n_folds - 1``), or the value of
            ``fold_column`` that marks validation rows.
        fold_column (str | None): a column assigning each row to a fold; rows whose value
            equals ``fold`` are validation rows, the others training rows.
        test_fold (int | str | None): with ``n_folds`` or ``fold_column``, the fold held
            out for testing: with ``n_folds``, fold ``test_fold`` of all rows (the other
            rows are then folded again for validation); with ``fold_column``, the rows of
            that value (it must differ from ``fold``). Rotating it over ``0 .. n_folds - 1``
            (``mg cv`` does) tests every row exactly once.
        seed (int): seed of the random split, the fold assignment and length grouping.
        batch_size (int): samples per batch.
        num_workers (int): DataLoader worker processes (tokenization runs there).
        group_by_length (bool): training: batch sequences of similar length together, in a
            new shuffled order every epoch.
        max_tokens (int | None): a token budget per batch (as fairseq's ``max_tokens``): a
            batch holds at most this many padded tokens, counted as items x (longest
            sequence's residues + 2 for the special tokens most backbones add);
            ``batch_size`` still caps the items. Training batches are then length-grouped,
            shuffled per epoch (seed + epoch) and dealt equally to DDP processes; a single
            sequence over the budget gets a batch of its own. None: ``batch_size`` alone.
        inference_order (InferenceOrder): how validation, test and predict batch their items:
            ``"sorted"`` (longest first within windows of ``sort_window`` items; less
            padding, and predictions are still written in file order) or ``"file"``.
        sort_window (int): items per length-sorted inference window; the prediction writer
            holds at most about one window of rows while it restores file order.
        max_rows (int | None): read at most this many rows of each input, for quick runs.
        storage (Storage): where a split's parsed samples live. ``memory``: Python lists
            (fast, about 1-3 KB a row). ``disk``: a store in a temporary folder (under
            ``TMPDIR``), read by index, so memory stays flat however many rows there are;
            it holds splits given as whole inputs (``train_file``, ``val_file``,
            ``test_file``, ``predict_file``, or ``path`` without fractions or folds).
            ``auto`` (the default) keeps such an input on disk when its files total more
            than 100 MB (a Hugging Face split: its Arrow table), in memory otherwise.
    """

    def __init__(
        self,
        *,
        path: str | None = None,
        train_file: str | None = None,
        val_file: str | None = None,
        test_file: str | None = None,
        predict_file: str | None = None,
        hf_dataset: str | None = None,
        hf_config: str | None = None,
        file_format: FileFormat = "auto",
        sequence_column: str = "sequence",
        id_column: str = "id",
        label_columns: str | list[str] | None = None,
        label_type: str | None = None,
        class_names: list[str] | None = None,
        label_table: str | None = None,
        header_pattern: str | None = None,
        val_fraction: float = 0.0,
        test_fraction: float = 0.0,
        n_folds: int | None = None,
        fold: int = 0,
        fold_column: str | None = None,
        test_fold: int | str | None = None,
        seed: int = 0,
        batch_size: int = 16,
        num_workers: int = 0,
        group_by_length: bool = False,
        max_tokens: int | None = None,
        inference_order: InferenceOrder = "sorted",
        sort_window: int = 4096,
        max_rows: int | None = None,
        storage: Storage = "auto",
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        self.storage = storage
        self.path, self.train_file = path, train_file
        self.val_file, self.test_file, self.predict_file = val_file, test_file, predict_file
        self.hf_dataset, self.hf_config = hf_dataset, hf_config
        self.file_format = file_format
        self.sequence_column, self.id_column = sequence_column, id_column
        if isinstance(label_columns, str):
            label_columns = [label_columns]
        self.label_columns: list[str] = list(label_columns or [])
        self.label_type, self.label_table = label_type, label_table
        self.header_pattern = header_pattern
        self.seed, self.group_by_length = seed, group_by_length
        self.max_tokens, self.max_rows = max_tokens, max_rows
        self.inference_order, self.sort_window = inference_order, sort_window
        self.batching = BatchingPolicy(
            seed, group_by_length, max_tokens, inference_order, sort_window
        )
        self.source = DataSource(
            path=path,
            train_file=train_file,
            val_file=val_file,
            test_file=test_file,
            predict_file=predict_file,
            hf_dataset=hf_dataset,
            hf_config=hf_config,
            file_format=file_format,
            sequence_column=sequence_column,
            id_column=id_column,
            label_table=label_table,
            header_pattern=header_pattern,
            max_rows=max_rows,
        )
        self.plan = SplitPlan(
            pool=self.source.pool_key,
            val_file=val_file,
            test_file=test_file,
            predict_file=predict_file,
            hf_splits=self.source.hf_splits if hf_dataset else None,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            n_folds=n_folds,
            fold=fold,
            fold_column=fold_column,
            test_fold=test_fold,
            seed=seed,
        )
        self.builder = SplitBuilder(
            self.source, self.plan, storage, self.label_columns, label_type, class_names
        )
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}.")
        self._sets: dict[str, SequenceDataset | StoredSequenceDataset] = {}
        self._pending_stage: str | None = None
        self._told = False  # whether the checks entry point said the task's label kind
        self._resume_position: tuple[int, int] | None = None

    @property
    def labelled(self) -> bool:
        """Whether label columns are configured and the labels are read (kind not none)."""
        return self.builder.labelled

    @property
    def class_names(self) -> list[str] | None:
        """The class names, given or read from the training data (None: class indices)."""
        return self.builder.class_names

    def use_label_kind(self, kind: LabelKind | str) -> None:
        """Read labels as the task says (see `DataInterface.use_label_kind`).

        Splits already read are read again when the kind changes (files are not re-read).

        Raises:
            ValueError: ``label_type`` was set to another kind than the task reads, or the
                task reads class labels but ``class_names`` were given for another kind.
        """
        changed = self.builder.use_kind(str(getattr(kind, "value", kind)))
        self._told = True
        if changed:
            self._rebuild()
        stage, self._pending_stage = self._pending_stage, None
        if stage:
            self.setup(stage)

    def _rebuild(self) -> None:
        """Read the splits set up so far again (labels are read another way)."""
        self._sets.clear()
        for split in list(self.datasets):
            self.datasets[split] = self.dataset(split)  # type: ignore[arg-type]

    def _build(self, split: str) -> SequenceDataset | StoredSequenceDataset:
        return self.builder.build(split)

    def dataset(self, split: Split) -> SequenceDataset:
        """Return (building once) the samples of ``split``.

        Raises:
            ValueError: the split is not configured, or its data fails a check.
        """
        if split not in self._sets:
            self._sets[split] = self._build(split)
        return self._sets[split]  # type: ignore[return-value]

    def stage_splits(self, stage: str | None) -> list[str]:
        """Return the splits a Lightning stage reads (see `SplitPlan.stage_splits`)."""
        return self.plan.stage_splits(stage)

    def has_split(self, split: str) -> bool:
        """Whether the options give ``split`` any data."""
        return self.plan.has_split(split)

    # ----------------------------------------------------------------- DataInterface
    def setup(self, stage: str | None = None) -> None:
        """Read, split and check the data of ``stage`` (once).

        When labels must be read but their kind is not known yet, reading waits until the
        checks entry point (`mg.core.checks.check_run`) says the task's kind
        (`use_label_kind`): Lightning sets the data up before the task.
        """
        # Under a trainer, labels wait for the task's kind even when label_type is set, so
        # that a label_type contradicting the task is said as such.
        waiting = self.builder.kind is None or (self.trainer is not None and not self._told)
        if self.label_columns and waiting:
            self._pending_stage = stage
            return
        for split in self.stage_splits(stage):
            self.datasets[split] = self.dataset(split)  # type: ignore[arg-type]
        if stage == "predict" and not self.predict_file:
            data = self.datasets["predict"]
            rank_zero_info(f"Predicting the {len(data)} rows of the test split ({data.files[0]}).")

    def batch_sampler(self, split: str) -> Sampler[list[int]] | None:
        """The batch order of ``split`` (see `BatchingPolicy.sampler`).

        The training order depends on ``seed`` and the epoch alone, so a resumed fit draws the
        interrupted epoch's batches again and skips those already trained on.
        """
        if split not in self.datasets:
            return None
        epoch, skip = 0, 0
        if split == "train" and self._resume_position is not None:
            epoch, skip = self._resume_position
            self._resume_position = None  # only the first loader after a restore continues
        return self.batching.sampler(split, self.datasets[split], self.batch_size, epoch, skip)

    def state_dict(self) -> dict[str, Any]:
        """Save the class names read from the data, and where the training order stands.

        Class names make a checkpoint predict with the same ones; the training position lets
        a resumed fit continue the same batch order.
        """
        state: dict[str, Any] = {}
        if self.builder.class_names_learned:
            state["class_names"] = self.builder.class_names
        position = train_position(self.trainer)
        if position is not None:
            state["train_position"] = position
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore class names read from the training data, unless the options give them.

        Lightning sets the data up before it restores a checkpoint, so splits already read
        with other names are read again. A saved training position makes the next training
        loader continue that epoch's order.
        """
        position = state_dict.get("train_position")
        if position is not None:
            self._resume_position = (int(position["epoch"]), int(position["batches_done"]))
        if "class_names" in state_dict and self.builder.restore_class_names(
            state_dict["class_names"]
        ):
            self._rebuild()
