"""SequenceData's test_fold: rotating the test fold tests every row exactly once."""

import pytest
from data_helpers import rows, write_table

from mg.tasks.data import SequenceData


def ids(data: SequenceData, split: str) -> list[str]:
    return list(data.dataset(split).ids)


def test_rotating_the_test_fold_tests_every_row_once(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(23, y="1"))
    tested: list[str] = []
    for fold in range(4):
        data = SequenceData(
            path=str(path),
            label_columns="y",
            label_type="class",
            n_folds=4,
            fold=fold,
            test_fold=fold,
            seed=1,
        )
        train, val, test = ids(data, "train"), ids(data, "val"), ids(data, "test")
        assert not set(train) & set(val) and not set(test) & set(train + val)
        assert sorted(train + val + test) == sorted(f"seq{i}" for i in range(23))
        assert len(test) in (5, 6) and val
        tested += test
    assert sorted(tested) == sorted(f"seq{i}" for i in range(23))


def test_a_fold_column_gives_the_test_rows_by_value(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(9, y="1", fold=lambda i: i % 3))
    data = SequenceData(
        path=str(path),
        label_columns="y",
        label_type="class",
        fold_column="fold",
        fold=1,
        test_fold=2,
    )
    assert ids(data, "test") == ["seq2", "seq5", "seq8"]
    assert ids(data, "val") == ["seq1", "seq4", "seq7"]
    assert ids(data, "train") == ["seq0", "seq3", "seq6"]
    with pytest.raises(ValueError, match="test_fold=5; its values are"):
        ids(
            SequenceData(
                path=str(path),
                label_columns="y",
                label_type="class",
                fold_column="fold",
                test_fold=5,
            ),
            "test",
        )


def test_test_fold_without_folds_or_with_a_test_file_is_refused():
    with pytest.raises(ValueError, match="set one of those, and neither test_file"):
        SequenceData(path="a.csv", test_fold=1)
    with pytest.raises(ValueError, match="set one of those, and neither test_file"):
        SequenceData(path="a.csv", n_folds=3, test_fold=1, test_fraction=0.2)
    with pytest.raises(ValueError, match=r"test_fold must be in 0\.\.2"):
        SequenceData(path="a.csv", n_folds=3, test_fold=3)
    with pytest.raises(ValueError, match="must differ"):
        SequenceData(path="a.csv", fold_column="f", fold=1, test_fold=1)
