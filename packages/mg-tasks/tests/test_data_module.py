import statistics
import warnings

import pytest
from data_helpers import (
    ToyClassification,
    assert_names,
    rows,
    write_jsonl,
    write_table,
)

from mg.core.compat import check_compatibility
from mg.core.testing import ToyBackbone
from mg.core.testing.contracts import fast_trainer
from mg.tasks.data import LengthGroupedBatchSampler, SequenceData

# Every test runs with splits in memory and again in the disk store: same samples, same errors.
pytestmark = pytest.mark.usefixtures("storage")


def ids(data: SequenceData, split: str) -> list[str]:
    return data.dataset(split).ids


# ----------------------------------------------------------------- column mapping and schema
def test_column_mapping_and_generated_ids(tmp_path):
    path = write_table(
        tmp_path / "my data.csv", [{"dna": " AC GT ", "y": "1"}, {"dna": "GG", "y": "0"}]
    )
    data = SequenceData(
        label_type="class", train_file=str(path), sequence_column="dna", label_columns="y"
    )
    data.setup("fit")
    assert data.datasets["train"][0] == {"sequences": "ACGT", "ids": "my data-1", "labels": 1}
    assert data.dataset("train").origin(1) == f"{path}, row 2"


def test_id_column_that_is_set_must_exist(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(2))
    data = SequenceData(predict_file=str(path), id_column="name")
    with pytest.raises(ValueError) as error:
        data.setup("predict")
    assert_names(error, path, "'name'", "id_column", "['id', 'sequence']")


@pytest.mark.parametrize(
    ("label_type", "columns", "values", "expected"),
    [
        ("class", "y", ["2", "0"], [2, 0]),
        ("class", "y", ["dog", "cat"], [1, 0]),
        ("multilabel", ["a", "b"], [("1", "0"), ("0", "1")], [[1, 0], [0, 1]]),
        ("multilabel", "y", ["[1, 0, 1]", "0 1 1"], [[1, 0, 1], [0, 1, 1]]),
        ("regression", "y", ["1.5", "-2e3"], [1.5, -2000.0]),
        ("regression", ["a", "b"], [("1", "2.5"), ("3", "4")], [[1.0, 2.5], [3.0, 4.0]]),
        ("token", "y", ["0110", "1 0 2 0"], [[0, 1, 1, 0], [1, 0, 2, 0]]),
        ("token", "y", ["[0, 1, 1, 0]", "1,0,2,0"], [[0, 1, 1, 0], [1, 0, 2, 0]]),
        ("pairs", "y", ["(..)", "[[3, 0], [1, 2]]"], [[[0, 3]], [[0, 3], [1, 2]]]),
        ("pairs", "y", ["[]", "...."], [[], []]),
    ],
)
def test_samples_follow_the_schema(tmp_path, label_type, columns, values, expected):
    names = [columns] if isinstance(columns, str) else columns
    table = []
    for i, value in enumerate(values):
        row = {"id": f"s{i}", "sequence": "ACGU"}
        row.update(dict(zip(names, value if isinstance(value, tuple) else (value,), strict=True)))
        table.append(row)
    path = write_table(tmp_path / "d.csv", table)
    data = SequenceData(train_file=str(path), label_columns=columns, label_type=label_type)
    data.setup("fit")
    samples = [data.datasets["train"][i] for i in range(len(values))]
    assert [s["labels"] for s in samples] == expected
    assert all(set(s) == {"sequences", "ids", "labels"} for s in samples)
    assert all(type(s["labels"]) is type(expected[0]) for s in samples)


def test_jsonl_list_values_parse_without_text(tmp_path):
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [{"sequence": "GGAAACC", "pairs": [[0, 6], [1, 5]], "tok": [0, 1, 1, 1, 1, 1, 0]}],
    )
    pairs = SequenceData(train_file=str(path), label_columns="pairs", label_type="pairs")
    tokens = SequenceData(train_file=str(path), label_columns="tok", label_type="token")
    assert pairs.dataset("train")[0]["labels"] == [[0, 6], [1, 5]]
    assert tokens.dataset("train")[0]["labels"] == [0, 1, 1, 1, 1, 1, 0]


def test_label_type_none_and_no_label_columns_give_no_labels(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(3, label=1))
    for data in (
        SequenceData(path=str(path)),
        SequenceData(path=str(path), label_columns="label", label_type="none"),
    ):
        assert data.provided_columns("fit") == {"sequences", "ids"}
        assert "labels" not in data.dataset("train")[0]


def test_class_names_inferred_from_training_data_and_unknown_names_rejected(tmp_path):
    train = write_table(tmp_path / "train.csv", rows(4, y=lambda i: ["b", "a", "c", "a"][i]))
    val = write_table(tmp_path / "val.csv", rows(3, y=lambda i: ["c", "a", "zebra"][i]))
    data = SequenceData(
        label_type="class", train_file=str(train), val_file=str(val), label_columns="y"
    )
    assert [s["labels"] for s in data.dataset("train")] == [1, 0, 2, 0]
    assert data.class_names == ["a", "b", "c"]
    with pytest.raises(ValueError) as error:
        data.setup("fit")
    assert_names(error, val, "row 3", "'y'", "unknown class name 'zebra'", "['a', 'b', 'c']")


def test_given_class_names_fix_the_order_and_survive_a_checkpoint(tmp_path):
    train = write_table(tmp_path / "train.csv", rows(3, y=lambda i: ["hi", "lo", "mid"][i]))
    data = SequenceData(
        label_type="class",
        train_file=str(train),
        label_columns="y",
        class_names=["lo", "mid", "hi"],
    )
    assert [s["labels"] for s in data.dataset("train")] == [2, 0, 1]
    learned = SequenceData(label_type="class", train_file=str(train), label_columns="y")
    learned.setup("fit")
    test = write_table(tmp_path / "test.csv", rows(2, y=lambda i: ["mid", "lo"][i]))
    restored = SequenceData(label_type="class", test_file=str(test), label_columns="y")
    restored.setup("test")
    assert [s["labels"] for s in restored.datasets["test"]] == [1, 0]  # names of its own data
    restored.load_state_dict(learned.state_dict())
    assert [s["labels"] for s in restored.datasets["test"]] == [2, 1]  # the training names


# ----------------------------------------------------------------- inputs
def test_folder_input_keeps_file_and_row_of_each_sample(tmp_path):
    folder = tmp_path / "data"
    write_table(folder / "part1.csv", rows(2, y="1"))
    write_table(folder / "part2.tsv", rows(3, y="0"), "\t")
    data = SequenceData(label_type="class", train_file=str(folder), label_columns="y")
    with pytest.warns(UserWarning, match="repeats 2 id"):  # both parts number seq0, seq1
        data.setup("fit")
    dataset = data.datasets["train"]
    assert len(dataset) == 5
    assert [s["labels"] for s in dataset] == [1, 1, 0, 0, 0]
    assert dataset.origin(4) == f"{folder / 'part2.tsv'}, row 3"


def test_folder_file_missing_the_label_column_is_named(tmp_path):
    folder = tmp_path / "data"
    write_table(folder / "a.csv", rows(2, y="1"))
    write_table(folder / "b.csv", rows(2))
    with pytest.raises(ValueError) as error:
        SequenceData(label_type="class", path=str(folder), label_columns="y").setup("fit")
    assert_names(error, folder / "b.csv", "'y'", "label_columns", "['id', 'sequence']")


def test_fasta_with_label_table_joined_on_id(tmp_path):
    fasta = tmp_path / "seqs.fasta"
    fasta.write_text(">p1 x\nMKV\nLL\n>p2\nMAA\n>p3\nMGG\n")
    labels = write_table(
        tmp_path / "labels.tsv",
        [
            {"id": "p3", "y": "2.5"},
            {"id": "p1", "y": "0.5"},
            {"id": "p2", "y": "1"},
            {"id": "p9", "y": "7"},
        ],
        "\t",
    )
    data = SequenceData(
        path=str(fasta), label_table=str(labels), label_columns="y", label_type="regression"
    )
    samples = list(data.dataset("train"))
    assert samples == [
        {"sequences": "MKVLL", "ids": "p1", "labels": 0.5},
        {"sequences": "MAA", "ids": "p2", "labels": 1.0},
        {"sequences": "MGG", "ids": "p3", "labels": 2.5},
    ]
    # A bad label is reported where it is: in the label table.
    write_table(
        labels, [{"id": "p1", "y": "0.5"}, {"id": "p2", "y": "nan"}, {"id": "p3", "y": "1"}], "\t"
    )
    again = SequenceData(
        path=str(fasta), label_table=str(labels), label_columns="y", label_type="regression"
    )
    with pytest.raises(ValueError) as error:
        again.setup("fit")
    assert_names(error, labels, "row 2", "'y'", "NaN")


def test_fasta_ids_without_labels_are_listed(tmp_path):
    fasta = tmp_path / "seqs.fasta"
    fasta.write_text(">p1\nMKV\n>p2\nMAA\n>p3\nMGG\n")
    labels = write_table(tmp_path / "labels.csv", [{"id": "p2", "y": "1"}])
    data = SequenceData(
        label_type="class", path=str(fasta), label_table=str(labels), label_columns="y"
    )
    with pytest.raises(ValueError) as error:
        data.setup("fit")
    assert_names(error, labels, fasta, "2 of the 3 ids", "'p1'", "'p3'")
    # Prediction does not need labels: the same file predicts unlabelled.
    data = SequenceData(
        label_type="class", predict_file=str(fasta), label_table=str(labels), label_columns="y"
    )
    assert data.provided_columns("predict") == {"sequences", "ids"}


def test_fasta_labels_from_header_pattern(tmp_path):
    fasta = tmp_path / "seqs.fa"
    fasta.write_text(">s1 class=pos\nACGT\n>s2 class=neg\nAC\nGG\n")
    data = SequenceData(
        label_type="class",
        path=str(fasta),
        header_pattern=r"class=(?P<cls>\w+)",
        label_columns="cls",
    )
    assert list(data.dataset("train")) == [
        {"sequences": "ACGT", "ids": "s1", "labels": 1},
        {"sequences": "ACGG", "ids": "s2", "labels": 0},
    ]


def test_max_rows_limits_each_input(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(50, y="1"))
    data = SequenceData(
        label_type="class", path=str(path), label_columns="y", val_fraction=0.2, max_rows=10
    )
    data.setup("fit")
    assert len(data.datasets["train"]) == 8 and len(data.datasets["val"]) == 2


# ----------------------------------------------------------------- splits
def test_seeded_split_is_reproducible_disjoint_and_complete(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(100, y="1"))

    def make(seed):
        data = SequenceData(
            label_type="class",
            path=str(path),
            label_columns="y",
            val_fraction=0.2,
            test_fraction=0.1,
            seed=seed,
        )
        return {split: ids(data, split) for split in ("train", "val", "test")}

    first, again, other = make(0), make(0), make(1)
    assert first == again
    assert first != other
    assert [len(first[s]) for s in ("train", "val", "test")] == [70, 20, 10]
    everything = first["train"] + first["val"] + first["test"]
    assert sorted(everything) == sorted(f"seq{i}" for i in range(100))
    # Without predict_file, prediction reads the test split: never the training rows.
    data = SequenceData(label_type="class", path=str(path), label_columns="y", test_fraction=0.1)
    assert ids(data, "predict") == ids(data, "test")
    data = SequenceData(label_type="class", path=str(path), label_columns="y", val_fraction=0.2)
    with pytest.raises(ValueError, match=r"no predict split.*give predict_file"):
        ids(data, "predict")


def test_kfold_holds_out_every_row_once(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(23, y="1"))
    held_out: list[str] = []
    for fold in range(5):
        data = SequenceData(
            label_type="class", path=str(path), label_columns="y", n_folds=5, fold=fold, seed=3
        )
        data.setup("fit")
        train, val = ids(data, "train"), ids(data, "val")
        assert not set(train) & set(val)
        assert len(train) + len(val) == 23
        assert len(val) in (4, 5)
        held_out += val
    assert sorted(held_out) == sorted(f"seq{i}" for i in range(23))


def test_kfold_after_a_held_out_test_split(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(40, y="1"))
    tests = set()
    for fold in range(4):
        data = SequenceData(
            label_type="class",
            path=str(path),
            label_columns="y",
            test_fraction=0.25,
            n_folds=4,
            fold=fold,
        )
        tests.add(tuple(ids(data, "test")))
        assert not set(ids(data, "test")) & set(ids(data, "train") + ids(data, "val"))
    assert len(tests) == 1  # the test rows do not move with the fold


def test_fold_column_selects_validation_rows(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(9, y="1", fold=lambda i: i % 3))
    data = SequenceData(
        label_type="class", path=str(path), label_columns="y", fold_column="fold", fold=1
    )
    data.setup("fit")
    assert ids(data, "val") == ["seq1", "seq4", "seq7"]
    assert len(ids(data, "train")) == 6
    with pytest.raises(ValueError) as error:
        SequenceData(
            label_type="class", path=str(path), label_columns="y", fold_column="fold", fold=7
        ).setup("fit")
    assert_names(error, path, "'fold'", "fold=7", "['0', '1', '2']")


def test_conflicting_split_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="val_file and val_fraction"):
        SequenceData(train_file="a.csv", val_file="b.csv", val_fraction=0.1)
    with pytest.raises(ValueError, match="path / train_file"):
        SequenceData(path="a.csv", train_file="b.csv")
    with pytest.raises(ValueError, match=r"fold in 0\.\.n_folds - 1"):
        SequenceData(path="a.csv", n_folds=3, fold=3)
    with pytest.raises(ValueError, match="no data"):
        SequenceData()


# ----------------------------------------------------------------- columns per stage
def test_provided_columns_per_stage(tmp_path):
    train = write_table(tmp_path / "train.csv", rows(4, y="1"))
    test = write_table(tmp_path / "test.csv", rows(4, y="0"))
    predict = write_table(tmp_path / "predict.csv", rows(4))
    data = SequenceData(
        label_type="class",
        train_file=str(train),
        test_file=str(test),
        predict_file=str(predict),
        label_columns="y",
    )
    assert data.provided_columns("fit") == {"sequences", "ids", "labels"}
    assert data.provided_columns("test") == {"sequences", "ids", "labels"}
    assert data.provided_columns("predict") == {"sequences", "ids"}
    with pytest.raises(ValueError, match="no val split for validate: give val_file"):
        data.provided_columns("validate")
    unlabelled = SequenceData(train_file=str(train))
    assert unlabelled.provided_columns("fit") == {"sequences", "ids"}
    report = check_compatibility(ToyClassification, ToyBackbone, data=unlabelled, stage="fit")
    assert any("'labels'" in reason for reason in report.reasons)


# ----------------------------------------------------------------- bad data
def test_missing_sequence_column_names_file_columns_and_option(tmp_path):
    path = write_table(tmp_path / "d.csv", [{"id": "a", "seq": "ACGT", "y": "1"}])
    with pytest.raises(ValueError) as error:
        SequenceData(label_type="class", path=str(path), label_columns="y").setup("fit")
    assert_names(error, path, "'sequence'", "['id', 'seq', 'y']", "sequence_column")


def test_missing_label_column_names_file_columns_and_option(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(2, score="1"))
    with pytest.raises(ValueError) as error:
        SequenceData(label_type="class", path=str(path), label_columns="label").setup("fit")
    assert_names(error, path, "'label'", "['id', 'sequence', 'score']", "label_columns")


def test_nan_regression_target_names_file_row_column(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(4, y=lambda i: "NaN" if i == 2 else "0.5"))
    data = SequenceData(path=str(path), label_columns="y", label_type="regression")
    with pytest.raises(ValueError) as error:
        data.setup("fit")
    assert_names(error, path, "row 3", "column 'y'", "NaN")


def test_empty_regression_target_in_second_column_is_named(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(2, a="1", b=lambda i: "" if i else "2"))
    data = SequenceData(path=str(path), label_columns=["a", "b"], label_type="regression")
    with pytest.raises(ValueError) as error:
        data.setup("fit")
    assert_names(error, path, "row 2", "column 'b'", "empty")


def test_empty_file_and_header_only_file_are_named(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError) as error:
        SequenceData(path=str(empty)).setup("fit")
    assert_names(error, empty, "empty")
    header = tmp_path / "header.csv"
    header.write_text("id,sequence\n")
    with pytest.raises(ValueError) as error:
        SequenceData(path=str(header)).setup("fit")
    assert_names(error, header, "no data rows")


def test_empty_split_is_named(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(10, y="1"))
    with pytest.raises(ValueError) as error:
        SequenceData(
            label_type="class", path=str(path), label_columns="y", val_fraction=0.01
        ).setup("fit")
    assert_names(error, path, "val split is empty", "val_fraction=0.01", "10 rows")


def test_empty_sequence_names_file_row_column(tmp_path):
    path = write_table(
        tmp_path / "d.csv", [{"id": "a", "sequence": "AC"}, {"id": "b", "sequence": " "}]
    )
    with pytest.raises(ValueError) as error:
        SequenceData(predict_file=str(path)).setup("predict")
    assert_names(error, path, "row 2", "'sequence'", "empty")


def test_class_index_outside_range_is_caught_by_the_task_check(tmp_path):
    train = write_table(tmp_path / "train.csv", rows(4, y="1"))
    val = write_table(tmp_path / "val.csv", rows(5, y=lambda i: "3" if i == 3 else "0"))
    data = SequenceData(
        label_type="class", train_file=str(train), val_file=str(val), label_columns="y"
    )
    data.check_labels("fit", lambda label: None)  # every label passes
    with pytest.raises(ValueError) as error:
        data.check_labels("fit", lambda label: f"{label} >= 2" if label >= 2 else None)
    assert_names(error, val, "row 4", "column 'y'", "3 >= 2")


def test_task_setup_checks_labels_before_the_model_is_built(tmp_path):
    train = write_table(tmp_path / "train.csv", rows(6, y=lambda i: "2" if i == 4 else "1"))
    data = SequenceData(label_type="class", train_file=str(train), label_columns="y", batch_size=2)
    task = ToyClassification(n_classes=2)
    with pytest.raises(ValueError) as error:
        fast_trainer(max_steps=1).fit(task, datamodule=data)
    assert_names(error, train, "row 5", "column 'y'", "outside 0..1")
    assert task.backbone is None


def test_task_fits_on_good_data(tmp_path):
    train = write_table(tmp_path / "train.csv", rows(6, y=lambda i: str(i % 2)))
    data = SequenceData(
        label_type="class",
        train_file=str(train),
        label_columns="y",
        batch_size=3,
        group_by_length=True,
    )
    task = ToyClassification(n_classes=2)
    fast_trainer(max_steps=2).fit(task, datamodule=data)
    assert task.backbone is not None


@pytest.mark.parametrize(
    ("label_type", "value", "words"),
    [
        ("token", "01x1", ["not an integer"]),
        ("token", "011", ["3 token labels", "4 residues"]),
        ("token", "[0, 1", ["not a valid JSON list"]),
        ("pairs", "(.))", ["unbalanced"]),
        ("pairs", "[[0, 9]]", ["outside the sequence"]),
        ("pairs", "hello", ["neither a JSON list"]),
        ("multilabel", "0 2 1", ["0 or 1"]),
        ("class", "-1", ["negative"]),
        ("regression", "abc", ["not a number"]),
    ],
)
def test_unparsable_labels_name_file_row_column(tmp_path, label_type, value, words):
    table = rows(3, y="0")
    for row in table:
        row["sequence"] = "ACGU"
        row["y"] = {"token": "0000", "pairs": "....", "multilabel": "0 1 1"}.get(label_type, "1")
    table[1]["y"] = value
    path = write_table(tmp_path / "d.csv", table)
    data = SequenceData(path=str(path), label_columns="y", label_type=label_type)
    with pytest.raises(ValueError) as error:
        data.setup("fit")
    assert_names(error, path, "row 2", "column 'y'", *words)


def test_multilabel_rows_must_have_the_same_width(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(3, y=lambda i: "0 1" if i < 2 else "0 1 1"))
    data = SequenceData(path=str(path), label_columns="y", label_type="multilabel")
    with pytest.raises(ValueError) as error:
        data.setup("fit")
    assert_names(error, path, "row 3", "column 'y'", "row 1 has 2")


# ----------------------------------------------------------------- length grouping
def test_group_by_length_batches_similar_lengths_and_covers_every_row(tmp_path):
    table = [{"id": f"s{i}", "sequence": "A" * (5 + (i * 37) % 200)} for i in range(203)]
    path = write_table(tmp_path / "d.csv", table)
    data = SequenceData(path=str(path), batch_size=8, group_by_length=True, seed=1)
    data.setup("fit")
    data.collate_fn = lambda samples: [len(s["sequences"]) for s in samples]
    loader = data.train_dataloader()
    sampler = loader.batch_sampler
    assert isinstance(sampler, LengthGroupedBatchSampler)

    epoch0 = list(sampler)
    epoch1 = list(sampler)
    assert sorted(i for b in epoch0 for i in b) == list(range(203))
    assert sorted(i for b in epoch1 for i in b) == list(range(203))
    assert epoch0 != epoch1  # a new order every epoch
    sampler.set_epoch(0)
    assert list(sampler) == epoch0  # and the same order for the same seed and epoch
    assert len(sampler) == len(epoch0) == 26

    lengths = data.datasets["train"].lengths
    grouped = statistics.mean(
        max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epoch0
    )
    plain = statistics.mean(
        max(lengths[i : i + 8]) - min(lengths[i : i + 8]) for i in range(0, 203, 8)
    )
    assert grouped < plain / 10
    batches = list(loader)
    assert sum(len(b) for b in batches) == 203


def test_length_sampler_only_batches_its_sampler_share():
    lengths = list(range(40))
    sampler = LengthGroupedBatchSampler(range(0, 40, 2), 4, lengths=lengths, seed=0)
    assert sorted(i for b in sampler for i in b) == list(range(0, 40, 2))
    ordered = LengthGroupedBatchSampler(range(40), 8, lengths=lengths, shuffle=False)
    assert next(iter(ordered)) == [39, 38, 37, 36, 35, 34, 33, 32]


def test_predict_batches_longest_first_unless_file_order_is_asked(tmp_path):
    table = [{"id": f"s{i}", "sequence": "A" * (3 + (i * 7) % 11)} for i in range(10)]
    path = write_table(tmp_path / "d.csv", table)
    lengths = [len(r["sequence"]) for r in table]
    data = SequenceData(predict_file=str(path), batch_size=3)
    data.setup("predict")
    data.collate_fn = lambda samples: [s["ids"] for s in samples]
    order = [i for b in data.predict_dataloader() for i in b]
    assert sorted(order) == sorted(r["id"] for r in table)  # every row once
    assert [lengths[int(i[1:])] for i in order] == sorted(lengths, reverse=True)

    data = SequenceData(predict_file=str(path), batch_size=3, inference_order="file")
    data.setup("predict")
    data.collate_fn = lambda samples: [s["ids"] for s in samples]
    assert [i for b in data.predict_dataloader() for i in b] == [r["id"] for r in table]


def test_max_tokens_batches_fit_the_budget_and_a_long_sequence_is_named_once(tmp_path):
    table = [{"id": f"s{i}", "sequence": "A" * (10 + (i * 53) % 190)} for i in range(120)]
    table[7]["sequence"] = "C" * 700  # longer than the budget on its own
    path = write_table(tmp_path / "d.csv", table)
    data = SequenceData(path=str(path), batch_size=64, max_tokens=600, val_fraction=0.25)
    data.setup("fit")
    with pytest.warns(UserWarning, match=r"1 train sequence\(s\) exceed max_tokens=600.*'s7', 700"):
        sampler = data.batch_sampler("train")
    assert isinstance(sampler, LengthGroupedBatchSampler) and sampler.max_tokens == 600
    lengths = data.datasets["train"].lengths
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) * (max(lengths[i] for i in batch) + 2) <= 600 or len(batch) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once only
        data.batch_sampler("train")


def test_batching_options_are_checked_when_given(tmp_path):
    path = write_table(tmp_path / "d.csv", rows(4))
    with pytest.raises(ValueError, match="inference_order must be one of"):
        SequenceData(path=str(path), inference_order="random")
    with pytest.raises(ValueError, match="max_tokens must be at least 1"):
        SequenceData(path=str(path), max_tokens=0)


def test_split_plan_says_which_splits_are_carved_from_the_pool():
    from mg.tasks.data.plan import SplitPlan

    carved = SplitPlan(pool="pool", val_fraction=0.2)
    assert carved.is_carved(carved.source("train")) and carved.is_carved(carved.source("val"))
    whole = SplitPlan(pool="pool", val_file="v.csv", test_file="t.csv")
    assert not any(whole.is_carved(whole.source(s)) for s in ("train", "val", "test"))
    assert whole.stage_splits("fit") == ["train", "val"]
    assert SplitPlan(pool="pool").stage_splits("fit") == ["train"]
