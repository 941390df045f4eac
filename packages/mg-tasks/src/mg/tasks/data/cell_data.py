"""`CellData`: single cells from an ``.h5ad`` file or a TileDB-SOMA experiment, for `mg fit`.

It puts the parts of `mg.tasks.data.cells` together behind the `DataInterface` hooks: the
source is opened and split when a stage is set up, labels are read as the task says
(`use_label_kind`), and the cells are aligned to the backbone's genes and checked
(`use_genes`), all before any weights load. The cell packages are imported only when a
``CellData`` is built, so mg runs without the ``cells`` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import Sampler

from mg.core.data import SPLITS_OF_STAGE, DataInterface, LabelCheck, LabelKind, stage_name
from mg.core.inputs import InputKind
from mg.core.label_values import LabelFormatError, as_int
from mg.core.labels import label_handler
from mg.tasks.data.batching import train_position
from mg.tasks.data.samplers import EpochBatchSampler

if TYPE_CHECKING:
    from mg.core.cells import GeneVocabulary
    from mg.tasks.data.cells import CellDataset, CellSource, GeneAlignment

SPLIT_VALUES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
"""The values a ``split_column`` may hold (case and spaces aside), and the split each names."""


class CellData(DataInterface):
    """Cells with labels from obs, split by a column, by group or at random, for any cell task.

    Give the cells as ``path``: an ``.h5ad`` file (read in backed mode, one slice per batch)
    or a TileDB-SOMA experiment folder or URI (streamed, never loaded whole). Labels come
    from obs columns and are read as the task says (its ``label_kind``); class names are
    the sorted training labels unless ``class_names`` gives them. Splits come from
    ``split_column`` (``train``/``val``/``test`` per cell), else are drawn with ``seed``:
    by ``group_column`` (no donor in two splits), else within each class of the first
    label column; with ``n_folds``, validation is one fold of whole donors (or cells).
    Prediction reads ``predict_path``, else the test split.

    Before any weights load, a missing or empty label column, an unknown split value, a
    label the task cannot read, too few of the backbone's genes, and a negative, NaN or
    (for a counts model) non-integer value each stop the run with one line naming the
    file, the cell and the column or gene.

    Args:
        path (str | None): the ``.h5ad`` file or SOMA experiment of the train, val and test
            splits; None when only predicting from ``predict_path`` (an exported model).
        label_columns (str | list[str] | None): obs column(s) holding labels; None for none.
        split_column (str | None): obs column naming each cell's split.
        group_column (str | None): obs column whose groups (donors, samples) stay whole.
        val_fraction (float): share of cells (or groups) for validation when drawn.
        test_fraction (float): share of cells (or groups) for testing when drawn.
        seed (int): seed of the drawn splits and of the training order.
        n_folds (int | None): k-fold cross-validation (``mg cv``): deal the cells, or whole
            ``group_column`` groups, into this many folds; ``val_fraction`` then does not
            apply.
        fold (int): with ``n_folds``, the fold that validates.
        test_fold (int | None): with ``n_folds``, the fold of all cells that tests
            (``test_fraction`` must then be 0); the other cells are folded again and
            ``fold`` validates. None draws the test cells by ``test_fraction`` first.
        class_names (list[str] | None): class names in index order.
        gene_column (str | None): var column with gene names as the backbone writes them
            (symbols or Ensembl ids); None reads the var index.
        layer (str | None): the expression layer (``.h5ad``: a layer name, None for ``X``;
            SOMA: the X layer, None for ``"data"``).
        obs_filter (str | None): keep only cells passing this filter, e.g.
            ``"tissue == 'blood'"`` (SOMA value-filter syntax, for both kinds).
        measurement (str): the SOMA measurement (``"RNA"``).
        obs_id_column (str): the SOMA obs column holding cell ids (``.h5ad``: the obs
            index).
        predict_path (str | None): cells to predict on (same kinds as ``path``).
        batch_size (int): cells per batch.
        num_workers (int): DataLoader worker processes.

    Raises:
        ValueError: ``split_column`` with ``group_column`` or ``n_folds``, ``test_fold``
            with ``test_fraction``, or fractions that leave no training cells.
    """

    input_kind = InputKind.CELLS

    def __init__(
        self,
        path: str | None = None,
        label_columns: str | list[str] | None = None,
        *,
        split_column: str | None = None,
        group_column: str | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
        n_folds: int | None = None,
        fold: int = 0,
        test_fold: int | None = None,
        class_names: list[str] | None = None,
        gene_column: str | None = None,
        layer: str | None = None,
        obs_filter: str | None = None,
        measurement: str = "RNA",
        obs_id_column: str = "obs_id",
        predict_path: str | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        if split_column and group_column:
            raise ValueError(
                "Give split_column or group_column, not both: a split column already says "
                "where each cell goes."
            )
        if n_folds and split_column:
            raise ValueError(
                "Give split_column or n_folds, not both: a split column already says where "
                "each cell goes."
            )
        if n_folds and test_fold is not None and test_fraction:
            raise ValueError(
                f"test_fold {test_fold} holds the test cells, and so would test_fraction "
                f"({test_fraction}): set test_fraction to 0."
            )
        if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
            raise ValueError(
                f"val_fraction ({val_fraction}) and test_fraction ({test_fraction}) must be 0 "
                "or more and leave cells for training (sum below 1)."
            )
        self.path = path
        if isinstance(label_columns, str):
            label_columns = [label_columns]
        self.label_columns = list(label_columns or [])
        self.split_column = split_column
        self.group_column = group_column
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.n_folds = n_folds
        self.fold = fold
        self.test_fold = test_fold
        self.given_class_names = list(class_names) if class_names else None
        self.class_names: list[str] | None = self.given_class_names
        self.gene_column = gene_column
        self.layer = layer
        self.obs_filter = obs_filter
        self.measurement = measurement
        self.obs_id_column = obs_id_column
        self.predict_path = predict_path
        self.kind: LabelKind | None = None
        self._sources: dict[str, CellSource] = {}
        self._rows: dict[str, list[int]] = {}
        self._alignments: dict[str, GeneAlignment] = {}
        self._resume_position: tuple[int, int] | None = None
        self._names_known = False  # learned from the training cells, or restored

    # ----------------------------------------------------------------- sources and splits
    def _open(self, where: str) -> CellSource:
        if where not in self._sources:
            from mg.tasks.data.cells import H5adSource, SomaSource

            if where.endswith(".h5ad"):
                self._sources[where] = H5adSource(where, self.layer, self.obs_filter)
            else:
                layer = self.layer or "data"
                self._sources[where] = SomaSource(
                    where, self.measurement, layer, self.obs_filter, self.obs_id_column
                )
        return self._sources[where]

    def _source_of(self, split: str) -> CellSource:
        if split == "predict" and self.predict_path:
            return self._open(self.predict_path)
        self._split_rows()  # says when path is missing
        assert self.path is not None
        return self._open(self.path)

    def _split_rows(self) -> dict[str, list[int]]:
        """Each split's cells (positions in obs), decided once from the options."""
        if self._rows:
            return self._rows
        from mg.tasks.data.cells import check_label_columns

        if self.path is None:
            raise ValueError(
                "CellData needs path (the cells of the train, val and test splits) for this "
                "stage; only predicting from predict_path runs without it."
            )
        source = self._open(self.path)
        if self.label_columns:
            check_label_columns(source, self.label_columns)
        if self.split_column:
            self._rows = self._rows_from_column(source)
        elif self.n_folds:
            self._rows = self._fold_rows(source)
        else:
            self._rows = self._drawn_rows(source, self.val_fraction, self.test_fraction)
        if not self._rows.get("train"):
            raise ValueError(f"{source.where}: no cell falls in the training split.")
        return self._rows

    def _drawn_rows(
        self, source: CellSource, val_fraction: float, test_fraction: float
    ) -> dict[str, list[int]]:
        """Draw the splits with the seed: by group, else within each class."""
        from mg.tasks.data.cells import check_label_columns, group_split, stratified_split

        if self.group_column:
            check_label_columns(source, [self.group_column])
            groups = source.obs[self.group_column].astype(str).tolist()
            return group_split(
                groups, val_fraction, test_fraction, self.seed, column=self.group_column
            )
        strata = source.obs[self.label_columns[0]] if self.label_columns else None
        # Within each class when the first label is categorical; at random otherwise.
        if strata is None or strata.dtype.kind == "f":
            keys: list[Any] = [0] * len(source)
        else:
            keys = strata.astype(str).tolist()
        return stratified_split(source.ids, keys, val_fraction, test_fraction, self.seed)

    def _fold_rows(self, source: CellSource) -> dict[str, list[int]]:
        """Test on fold ``test_fold`` (or a drawn share); fold the rest; validate on ``fold``.

        Folds deal whole groups (``group_column``) or single cells, so a donor never sits
        on two sides; the same rule as `SequenceData`'s folds.
        """
        from mg.tasks.data.cells import check_label_columns, fold_split

        assert self.n_folds is not None
        if self.group_column:
            check_label_columns(source, [self.group_column])
            units = source.obs[self.group_column].astype(str).tolist()
        else:
            units = list(source.ids)
        column = self.group_column or "cell id"
        test: list[int] = []
        pool = list(range(len(source)))
        if self.test_fold is not None:
            first = fold_split(units, self.n_folds, self.test_fold, self.seed, column=column)
            test, pool = first["held_out"], first["rest"]
        elif self.test_fraction:
            drawn = self._drawn_rows(source, 0.0, self.test_fraction)
            test, pool = drawn["test"], drawn["train"]
        folds = fold_split(
            [units[row] for row in pool], self.n_folds, self.fold, self.seed, column=column
        )
        return {
            "train": [pool[i] for i in folds["rest"]],
            "val": [pool[i] for i in folds["held_out"]],
            "test": test,
        }

    def _rows_from_column(self, source: CellSource) -> dict[str, list[int]]:
        from mg.tasks.data.cells import check_label_columns

        column = self.split_column
        assert column is not None
        check_label_columns(source, [column])
        rows: dict[str, list[int]] = {"train": [], "val": [], "test": []}
        for row, value in enumerate(source.obs[column].astype(str)):
            split = SPLIT_VALUES.get(value.strip().lower())
            if split is None:
                raise ValueError(
                    f"{source.where}: obs column {column!r} holds {value!r} for cell "
                    f"{source.ids[row]!r} (row {row}); each cell's split must be one of "
                    "train, val (validation) or test."
                )
            rows[split].append(row)
        return rows

    def _rows_of(self, split: str) -> list[int]:
        if split == "predict":
            if self.predict_path:
                return list(range(len(self._source_of(split))))
            split = "test"
        return self._split_rows().get(split, [])

    # ----------------------------------------------------------------- labels
    def _labelled(self, split: str) -> bool:
        return bool(self.label_columns) and split != "predict" and self.kind != LabelKind.NONE

    def _learn_class_names(self) -> None:
        """Sorted training labels as class names, unless given, restored or indices.

        Only a labelled split needs them, so predicting reads no training cells.
        """
        if self._names_known or self.given_class_names or self.kind != LabelKind.CLASS:
            return
        self._names_known = True
        train = self._split_rows()["train"]  # checks the label columns first
        assert self.path is not None
        values = self._open(self.path).obs[self.label_columns[0]].to_numpy()[train]
        if all(as_int(v) is not None for v in values):
            self.class_names = None
            return
        self.class_names = sorted({str(v).strip() for v in values})

    def _read_labels(self, split: str, source: CellSource, rows: Sequence[int]) -> list[Any]:
        """Each cell's label as the task reads it; a bad one names the file, cell and column."""
        assert self.kind is not None
        handler = label_handler(self.kind)
        columns = [source.obs[c].to_numpy() for c in self.label_columns]
        labels = []
        for row in rows:
            values = [column[row] for column in columns]
            values = [v.item() if hasattr(v, "item") else v for v in values]
            try:
                labels.append(handler.parse(values, "", self.class_names))
            except LabelFormatError as error:
                raise ValueError(
                    f"{source.where}: cell {source.ids[row]!r} (row {row}, {split} split), obs "
                    f"column(s) {self.label_columns}: {error}"
                ) from None
        return labels

    # ----------------------------------------------------------------- datasets
    def _dataset(self, split: str) -> CellDataset:
        from mg.tasks.data.cells import CellDataset, check_label_columns

        source = self._source_of(split)
        rows = self._rows_of(split)
        labelled = self._labelled(split)
        if labelled:
            check_label_columns(source, self.label_columns)
            self._learn_class_names()
        labels = self._read_labels(split, source, rows) if labelled and self.kind else None
        return CellDataset(
            source,
            rows,
            self.label_columns if labelled else (),
            self._alignments.get(source.where),
            labels,
        )

    def _build(self, splits: Sequence[str]) -> None:
        for split in splits:
            if split == "predict" or self._rows_of(split):
                self.datasets[split] = self._dataset(split)

    def setup(self, stage: str | None = None) -> None:
        """Open the cells and decide the splits of ``stage``; labels wait for the task's kind."""
        stage = stage_name(stage) if stage is not None else None
        splits = SPLITS_OF_STAGE[stage] if stage else ("train", "val", "test", "predict")
        self._build([s for s in splits if s not in self.datasets])

    def provided_columns(self, stage: str) -> set[str]:
        """Expression and ids; labels too except for predict, when label columns are set."""
        columns = {"expression", "ids"}
        if self.label_columns and stage_name(stage) != "predict":
            columns.add("labels")
        return columns

    def use_label_kind(self, kind: LabelKind) -> None:
        """Read the labels as ``kind`` (see `DataInterface.use_label_kind`)."""
        self.kind = LabelKind(str(getattr(kind, "value", kind)))
        self._build(list(self.datasets))

    def use_genes(
        self, stage: str, vocabulary: GeneVocabulary, reader: str, expects_counts: bool
    ) -> None:
        """Align the cells of ``stage`` to the backbone's genes, say the coverage, check values.

        Each source is aligned and checked once (the coverage said once); its splits are
        set up here if Lightning has not yet, so that everything is checked before any
        weights load.
        """
        from mg.tasks.data.cells import GeneAlignment, check_expression

        self._build([s for s in SPLITS_OF_STAGE[stage_name(stage)] if s not in self.datasets])
        for dataset in self.datasets.values():
            source = dataset.source  # type: ignore[attr-defined]
            if source.where not in self._alignments:
                alignment = GeneAlignment.build(
                    source.gene_names(self.gene_column),
                    vocabulary,
                    where=source.where,
                    column=self.gene_column,
                    other_columns=source.text_var_columns(),
                )
                rank_zero_info(alignment.summary(source.where))
                check_expression(
                    source,
                    expects_counts=expects_counts,
                    reader=reader,
                    gene_column=self.gene_column,
                )
                self._alignments[source.where] = alignment
            dataset.alignment = self._alignments[source.where]  # type: ignore[attr-defined]

    def check_labels(self, stage: str, problem: LabelCheck) -> None:
        """Check every label of ``stage``'s splits with the task's rule, naming the cell."""
        for split in SPLITS_OF_STAGE[stage_name(stage)]:
            dataset = self.datasets.get(split)
            labels = getattr(dataset, "labels", None)
            if dataset is None or labels is None:
                continue
            for index, label in enumerate(labels):
                if (said := problem(label)) is not None:
                    row = int(dataset.rows[index])  # type: ignore[attr-defined]
                    raise ValueError(
                        f"{self.path}: cell {dataset.ids[index]!r} (row {row}, {split} split), "  # type: ignore[attr-defined]
                        f"obs column(s) {self.label_columns}: {said}."
                    )

    # ----------------------------------------------------------------- batches and resume
    def batch_sampler(self, split: str) -> Sampler[list[int]] | None:
        """A seeded order per epoch for training (a resumed fit continues it); file order else."""
        if split not in self.datasets:
            return None
        epoch, skip = 0, 0
        train = split == "train"
        if train and self._resume_position is not None:
            epoch, skip = self._resume_position
            self._resume_position = None
        return EpochBatchSampler(
            range(len(self.datasets[split])),  # type: ignore[arg-type]
            self.batch_size,
            False,
            shuffle=train,
            seed=self.seed,
            epoch=epoch,
            skip_batches=skip,
        )

    def state_dict(self) -> dict[str, Any]:
        """Save class names learned from the training cells and the training position."""
        state: dict[str, Any] = {}
        if self.class_names and not self.given_class_names:
            state["class_names"] = self.class_names
        position = train_position(self.trainer)
        if position is not None:
            state["train_position"] = position
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the saved class names (labels are read again with them) and position."""
        position = state_dict.get("train_position")
        if position is not None:
            self._resume_position = (int(position["epoch"]), int(position["batches_done"]))
        saved = state_dict.get("class_names")
        if saved and not self.given_class_names:
            self._names_known = True
            if saved != self.class_names:
                self.class_names = list(saved)
                self._build(list(self.datasets))
