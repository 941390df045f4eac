"""`CellData` on a real .h5ad: splits by column, by donor and by class, labels read as the
task says, class names kept through a checkpoint's state, and cells aligned to the
backbone's genes before batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mg.core.cells import GeneVocabulary
from mg.core.data import LabelKind
from mg.tasks.data import CellData
from mg.tasks.data.cells.synthetic import CELL_TYPES, GENES, marker_cells, write_h5ad


@pytest.fixture(scope="module")
def h5ad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    adata = marker_cells(n_cells=200, n_donors=10, seed=2)
    adata.obs["split"] = ["test" if i % 5 == 0 else "Train" for i in range(adata.n_obs)]
    return write_h5ad(adata, tmp_path_factory.mktemp("cells") / "cells.h5ad")


def _ready(data: CellData, stage: str = "fit") -> CellData:
    data.setup(stage)
    data.use_label_kind(LabelKind.CLASS)
    return data


def test_a_split_column_places_every_cell_as_written(h5ad: Path) -> None:
    data = _ready(CellData(str(h5ad), "cell_type", split_column="split"), "test")
    assert data.datasets["test"].ids == [f"cell{i:04d}" for i in range(0, 200, 5)]
    fit = _ready(CellData(str(h5ad), "cell_type", split_column="split"))
    # "Train" as written counts as train; no cell says val, so there is no val split.
    assert len(fit.datasets["train"]) == 160 and "val" not in fit.datasets


def test_donors_never_span_two_splits_and_the_seed_decides(h5ad: Path) -> None:
    import anndata

    donors = anndata.read_h5ad(h5ad).obs["donor"]
    data = _ready(CellData(str(h5ad), "cell_type", group_column="donor", val_fraction=0.2))
    data.setup("test")
    seen = {split: {donors[i] for i in data.datasets[split].ids} for split in data.datasets}
    assert not seen["train"] & seen["val"] and not seen["train"] & seen["test"]
    again = _ready(CellData(str(h5ad), "cell_type", group_column="donor", val_fraction=0.2))
    assert again.datasets["train"].ids == data.datasets["train"].ids
    other = _ready(CellData(str(h5ad), "cell_type", group_column="donor", seed=5))
    assert other.datasets["train"].ids != data.datasets["train"].ids


def test_folds_hold_whole_donors_and_validate_every_cell_once(h5ad: Path) -> None:
    import anndata

    donors = anndata.read_h5ad(h5ad).obs["donor"]

    def splits(**options: object) -> dict[str, list[str]]:
        data = _ready(CellData(str(h5ad), "cell_type", group_column="donor", **options))
        data.setup("test")
        return {name: data.datasets[name].ids for name in ("train", "val", "test")}

    # The test fold rotates with the validation fold, as `mg cv` does without a test share.
    rotating = [splits(n_folds=5, fold=k, test_fold=k, test_fraction=0) for k in range(5)]
    for folds in rotating:
        seen = {name: {donors[i] for i in ids} for name, ids in folds.items()}
        assert not seen["train"] & seen["val"] and not seen["val"] & seen["test"]
        assert not seen["train"] & seen["test"] and seen["val"]
        assert sorted(i for ids in folds.values() for i in ids) == sorted(donors.index)
    tested = sorted(i for folds in rotating for i in folds["test"])
    assert tested == sorted(donors.index)  # every cell tested exactly once
    # A fixed test share is drawn first; the folds deal the other donors.
    fixed = [splits(n_folds=3, fold=k, test_fraction=0.2) for k in range(3)]
    assert fixed[0]["test"] == fixed[1]["test"] == fixed[2]["test"] != []
    pool = sorted(set(donors.index) - set(fixed[0]["test"]))
    assert sorted(i for folds in fixed for i in folds["val"]) == pool
    with pytest.raises(ValueError, match="cannot fill n_folds=20"):
        splits(n_folds=20, test_fraction=0)


def test_class_names_are_the_sorted_training_labels_and_survive_a_checkpoint(h5ad: Path) -> None:
    data = _ready(CellData(str(h5ad), "cell_type"))
    assert data.class_names == sorted(CELL_TYPES)
    sample = data.datasets["train"][0]
    assert data.class_names[sample["labels"]] in CELL_TYPES
    state = data.state_dict()
    assert state["class_names"] == sorted(CELL_TYPES)
    # A run that saw other names reads its labels again with the saved ones.
    restored = _ready(CellData(str(h5ad), "cell_type"))
    restored.class_names = list(reversed(state["class_names"]))
    restored.load_state_dict(state)
    assert restored.class_names == state["class_names"]
    assert restored.datasets["train"][0]["labels"] == sample["labels"]


def test_cells_are_aligned_to_the_backbone_genes_before_batching(h5ad: Path) -> None:
    data = _ready(CellData(str(h5ad), "cell_type"))
    genes = ("NOT_MEASURED", "CD14", "LYZ")
    data.use_genes("fit", GeneVocabulary(genes, fill_value=0.0), "ToyReader", False)
    import anndata

    matrix = anndata.read_h5ad(h5ad).to_df()
    sample = data.datasets["train"][3]
    row = matrix.loc[sample["ids"]]
    assert np.allclose(sample["expression"], [0.0, row["CD14"], row["LYZ"]])


def test_predict_reads_the_test_split_unless_a_predict_path_is_given(h5ad: Path) -> None:
    data = _ready(CellData(str(h5ad), "cell_type", split_column="split"), "predict")
    assert data.datasets["predict"].ids == [f"cell{i:04d}" for i in range(0, 200, 5)]
    assert "labels" not in data.datasets["predict"][0]
    every = _ready(CellData(str(h5ad), "cell_type", predict_path=str(h5ad)), "predict")
    assert len(every.datasets["predict"]) == 200
    assert data.provided_columns("predict") == {"expression", "ids"}
    assert data.provided_columns("fit") == {"expression", "ids", "labels"}


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"split_column": "split", "group_column": "donor"}, "not both"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "leave cells for training"),
        ({"split_column": "split", "n_folds": 5}, "split_column or n_folds"),
        ({"n_folds": 5, "test_fold": 1}, "set test_fraction to 0"),
    ],
)
def test_options_that_cannot_work_are_refused_when_built(
    h5ad: Path, options: dict, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        CellData(str(h5ad), "cell_type", **options)


def test_a_backbone_gene_list_matching_too_little_names_a_better_column(h5ad: Path) -> None:
    data = _ready(CellData(str(h5ad), "cell_type"))
    ensembl = GeneVocabulary.from_names([f"ENSG{i:011d}" for i in range(len(GENES))])
    with pytest.raises(ValueError, match="gene_ids"):
        data.use_genes("fit", ensembl, "ToyReader", False)


def test_a_soma_experiment_made_from_the_file_gives_the_same_splits(
    h5ad: Path, tmp_path: Path
) -> None:
    import anndata

    from mg.tasks.data.cells.synthetic import write_soma

    experiment = write_soma(anndata.read_h5ad(h5ad), tmp_path / "soma")
    for options in ({"group_column": "donor"}, {"val_fraction": 0.2}):
        from_file = _ready(CellData(str(h5ad), "cell_type", **options))
        from_soma = _ready(CellData(experiment, "cell_type", **options))
        for split in ("train", "val"):
            assert from_soma.datasets[split].ids == from_file.datasets[split].ids
        first = from_soma.datasets["train"][0]
        assert first["labels"] == from_file.datasets["train"][0]["labels"]
