"""Cells from .h5ad and TileDB-SOMA: rows, splits, gene alignment and one-line checks."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import sparse
from torch.utils.data import DataLoader

from mg.core.cells import GeneIdKind, GeneVocabulary
from mg.tasks.data.cells import (
    CellDataset,
    GeneAlignment,
    H5adSource,
    SomaSource,
    check_expression,
    check_label_columns,
    group_split,
    open_cells,
    stratified_split,
)
from mg.tasks.data.cells.synthetic import (
    GENES,
    MARKERS,
    ensembl_id,
    marker_cells,
    write_h5ad,
    write_soma,
)


@pytest.fixture(scope="module")
def adata() -> Any:
    return marker_cells()


@pytest.fixture(scope="module")
def files(adata: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("cells")
    h5ad = write_h5ad(adata, folder / "cells.h5ad")
    soma = write_soma(adata, folder / "soma")
    return h5ad, soma


def dense(adata: Any) -> np.ndarray:
    return adata.X.toarray()


def test_h5ad_reads_ids_obs_and_rows_in_the_order_asked(adata: Any, files: Any) -> None:
    source = open_cells(files[0])
    assert isinstance(source, H5adSource)
    assert source.ids == list(adata.obs_names)
    assert source.gene_names() == list(GENES)
    rows = [7, 3, 3, 200, 0]
    np.testing.assert_array_equal(source.read_rows(rows).toarray(), dense(adata)[rows])


def test_soma_reads_the_same_cells_and_filters_obs_by_value(adata: Any, files: Any) -> None:
    source = open_cells(files[1])
    assert isinstance(source, SomaSource)
    assert source.ids == list(adata.obs_names)
    assert source.gene_names() == list(GENES)
    rows = [9, 1, 1, 150]
    np.testing.assert_array_equal(source.read_rows(rows).toarray(), dense(adata)[rows])
    b_cells = SomaSource(files[1], obs_filter="cell_type == 'B cell'", obs_columns=["cell_type"])
    expected = adata.obs_names[adata.obs["cell_type"] == "B cell"]
    assert b_cells.ids == list(expected)
    np.testing.assert_array_equal(
        b_cells.read_rows(np.arange(len(b_cells))).toarray(), dense(adata[expected])
    )


def test_soma_bad_filter_and_missing_experiment_are_one_line(files: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="the obs filter \"tissue == 'x'\" cannot be read"):
        SomaSource(files[1], obs_filter="tissue == 'x'")
    with pytest.raises(FileNotFoundError, match="is not a TileDB-SOMA experiment"):
        SomaSource(str(tmp_path / "nothing"))


def test_donor_split_keeps_each_donor_in_one_split_and_matches_across_sources(
    files: Any,
) -> None:
    by_source = []
    for source in (H5adSource(files[0]), SomaSource(files[1])):
        splits = group_split(list(source.obs["donor"]), 0.2, 0.2, seed=3, column="donor")
        donors = {name: set(source.obs["donor"].iloc[rows]) for name, rows in splits.items()}
        assert all(donors[name] for name in ("train", "val", "test"))
        assert not (donors["train"] & donors["val"] or donors["train"] & donors["test"])
        assert not donors["val"] & donors["test"]
        assert sum(len(r) for r in splits.values()) == len(source)
        by_source.append({name: [source.ids[r] for r in rows] for name, rows in splits.items()})
    assert by_source[0] == by_source[1]


def test_stratified_split_keeps_label_shares_is_seeded_and_ignores_row_order(
    adata: Any,
) -> None:
    ids = list(adata.obs_names)
    labels = list(adata.obs["cell_type"])
    splits = stratified_split(ids, labels, 0.1, 0.2, seed=1)
    assert splits == stratified_split(ids, labels, 0.1, 0.2, seed=1)
    assert splits != stratified_split(ids, labels, 0.1, 0.2, seed=2)
    for cell_type in set(labels):
        total = labels.count(cell_type)
        in_test = sum(labels[r] == cell_type for r in splits["test"])
        assert in_test == round(total * 0.2)
    reverse = stratified_split(ids[::-1], labels[::-1], 0.1, 0.2, seed=1)
    n = len(ids)
    assert {ids[n - 1 - r] for r in reverse["test"]} == {ids[r] for r in splits["test"]}


def test_group_split_refuses_too_few_groups() -> None:
    with pytest.raises(ValueError, match="obs column 'donor' has 2 distinct value"):
        group_split(["a", "b", "a"], 0.2, 0.2, column="donor")


def test_alignment_matches_symbols_fills_missing_genes_and_says_how_many(
    adata: Any, files: Any
) -> None:
    source = H5adSource(files[0])
    vocabulary = GeneVocabulary(("LYZ", "NOT_IN_DATA", "CD3E", *GENES[6:20]), fill_value=-1.0)
    alignment = GeneAlignment.build(source.gene_names(), vocabulary, where=source.where)
    assert alignment.found == len(vocabulary) - 1
    assert f"has {len(vocabulary) - 1} of the model's {len(vocabulary)} genes" in (
        alignment.summary(source.where)
    )
    aligned = alignment.apply(source.read_rows([4, 5]))
    original = dense(adata)[[4, 5]]
    np.testing.assert_array_equal(aligned[:, 0], original[:, GENES.index("LYZ")])
    np.testing.assert_array_equal(aligned[:, 1], [-1.0, -1.0])
    np.testing.assert_array_equal(aligned[:, 2], original[:, GENES.index("CD3E")])


def test_alignment_by_ensembl_ids_ignores_versions_and_names_the_column_to_use(
    adata: Any, files: Any
) -> None:
    source = H5adSource(files[0])
    model_genes = tuple(ensembl_id(g).split(".")[0] for g in GENES[::-1])
    vocabulary = GeneVocabulary.from_names(model_genes)
    assert vocabulary.id_kind is GeneIdKind.ENSEMBL
    with pytest.raises(ValueError) as error:
        GeneAlignment.build(
            source.gene_names(),
            vocabulary,
            where=source.where,
            other_columns=source.text_var_columns(),
        )
    message = str(error.value)
    assert "\n" not in message and "cells.h5ad" in message
    assert "matches only 0 of the model's 30 genes" in message
    assert "set gene_column: gene_ids" in message
    alignment = GeneAlignment.build(
        source.gene_names("gene_ids"), vocabulary, where=source.where, column="gene_ids"
    )
    assert alignment.found == len(GENES)
    aligned = alignment.apply(source.read_rows([0]))
    np.testing.assert_array_equal(aligned[0], dense(adata)[0][::-1])


def write_with(adata: Any, path: Path, row: int, gene: str, value: float) -> Path:
    changed = adata.copy()
    matrix = changed.X.toarray()
    matrix[row, GENES.index(gene)] = value
    changed.X = sparse.csr_matrix(matrix)
    return write_h5ad(changed, path)


@pytest.mark.parametrize("value", [-1.0, float("nan")])
def test_negative_or_nan_value_names_file_cell_gene(
    adata: Any, tmp_path: Path, value: float
) -> None:
    path = write_with(adata, tmp_path / "bad.h5ad", 17, "MS4A1", value)
    with pytest.raises(ValueError) as error:
        check_expression(H5adSource(path), expects_counts=False, reader="Model")
    message = str(error.value)
    assert "\n" not in message
    assert "bad.h5ad" in message and "'cell0017'" in message and "'MS4A1'" in message
    assert "finite and non-negative" in message


def test_counts_model_refuses_log_normalised_and_fractional_values(
    adata: Any, tmp_path: Path
) -> None:
    logged = adata.copy()
    matrix = logged.X.toarray()
    logged.X = sparse.csr_matrix(np.log1p(matrix / matrix.sum(1, keepdims=True) * 1e4))
    path = write_h5ad(logged, tmp_path / "logged.h5ad")
    with pytest.raises(ValueError, match="looks log-normalised") as error:
        check_expression(H5adSource(path), expects_counts=True, reader="AIDOCell")
    assert "'cell0000'" in str(error.value) and "AIDOCell reads raw counts" in str(error.value)
    check_expression(H5adSource(path), expects_counts=False, reader="Baseline")  # fine for it
    fractional = write_with(adata, tmp_path / "half.h5ad", 3, "LYZ", 250.5)
    with pytest.raises(ValueError, match=r"not whole numbers: cell 'cell0003'.*'LYZ'"):
        check_expression(H5adSource(fractional), expects_counts=True, reader="AIDOCell")
    check_expression(
        H5adSource(write_h5ad(adata, tmp_path / "ok.h5ad")), expects_counts=True, reader="AIDOCell"
    )


def test_label_column_with_a_missing_value_names_the_cell(adata: Any, tmp_path: Path) -> None:
    holed = adata.copy()
    cell_type = holed.obs["cell_type"].astype(object)
    cell_type.iloc[42] = None
    holed.obs["cell_type"] = cell_type
    source = H5adSource(write_h5ad(holed, tmp_path / "holed.h5ad"))
    with pytest.raises(
        ValueError, match=r"obs column 'cell_type' has no value for cell 'cell0042'"
    ):
        check_label_columns(source, ["cell_type"])
    with pytest.raises(ValueError, match="obs has no column 'tissue'"):
        check_label_columns(source, ["tissue"])
    check_label_columns(source, ["donor", "age"])


def test_csc_matrix_is_refused_before_reading(adata: Any, tmp_path: Path) -> None:
    csc = adata.copy()
    csc.X = sparse.csc_matrix(csc.X)
    path = write_h5ad(csc, tmp_path / "csc.h5ad")
    with pytest.raises(ValueError, match=r"csc\.h5ad: X is stored as a CSC sparse matrix"):
        H5adSource(path)


def test_dataset_batches_are_one_read_with_labels_and_survive_pickling(
    adata: Any, files: Any
) -> None:
    source = SomaSource(files[1])
    vocabulary = GeneVocabulary(tuple(MARKERS["B cell"]))
    alignment = GeneAlignment.build(source.gene_names(), vocabulary, where=source.where)
    dataset = CellDataset(source, [5, 6, 7], ["cell_type", "age"], alignment)
    dataset = pickle.loads(pickle.dumps(dataset))  # what a spawned DataLoader worker gets
    batches = list(DataLoader(dataset, batch_size=2, collate_fn=list))
    samples = [s for batch in batches for s in batch]
    assert [s["ids"] for s in samples] == ["cell0005", "cell0006", "cell0007"]
    for sample, row in zip(samples, (5, 6, 7), strict=True):
        expected = dense(adata)[row, [GENES.index(g) for g in MARKERS["B cell"]]]
        np.testing.assert_array_equal(sample["expression"], expected)
        assert sample["labels"] == [adata.obs["cell_type"].iloc[row], adata.obs["age"].iloc[row]]


def test_h5ad_obs_filter_selects_the_same_cells_as_soma(adata: Any, files: Any) -> None:
    text = "cell_type in ['B cell', 'monocyte'] and not donor == 'donor3' and age >= 30"
    from_file = H5adSource(files[0], obs_filter=text)
    from_soma = SomaSource(files[1], obs_filter=text)
    assert from_file.ids == from_soma.ids and 0 < len(from_file) < len(adata)
    rows = np.arange(len(from_file))
    np.testing.assert_array_equal(
        from_file.read_rows(rows).toarray(), from_soma.read_rows(rows).toarray()
    )
    np.testing.assert_array_equal(from_file.read_rows(rows).toarray(), dense(adata[from_file.ids]))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("tissue == 'blood'", "names 'tissue', which is not an obs column"),
        ("__import__('os').system('x') == 0", "is not an obs column name"),
        ("cell_type = 'B'", "cannot be read"),
    ],
)
def test_h5ad_obs_filter_is_parsed_never_run(files: Any, text: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)) as error:
        H5adSource(files[0], obs_filter=text)
    assert "cells.h5ad" in str(error.value) and "\n" not in str(error.value)
