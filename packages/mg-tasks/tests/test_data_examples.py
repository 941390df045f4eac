import pytest

from mg.tasks.data import SequenceData, example_names, example_path, write_examples
from mg.tasks.data.examples import examples_folder
from mg.tasks.data.synthetic import (
    GC_MOTIF,
    NUCLEAR_SIGNAL,
    PROMOTER_MOTIF,
    TOKEN_MOTIFS,
    gc_fraction,
    gc_score,
    occurrences,
)


def data_for(stem: str, **options) -> SequenceData:
    suffix = ".jsonl" if stem == "hairpins" else ".csv"
    files = {
        f"{split}_file": str(example_path(f"{stem}_{split}{suffix}"))
        for split in ("train", "val", "test")
    }
    return SequenceData(**{"label_type": "class", **files, **options})


def all_samples(data: SequenceData) -> list[dict]:
    return [s for split in ("train", "val", "test") for s in data.dataset(split)]


def test_shipped_files_are_exactly_what_the_generators_write(tmp_path):
    written = write_examples(tmp_path)
    assert sorted(p.name for p in written) == sorted(example_names())
    for path in written:
        assert path.read_bytes() == example_path(path.name).read_bytes(), path.name
    shipped = sum(example_path(name).stat().st_size for name in example_names())
    assert shipped < 300_000


def test_example_path_names_the_examples_there_are():
    assert example_path("gc_train.csv").parent == examples_folder()
    with pytest.raises(FileNotFoundError, match=r"promoters_train\.csv"):
        example_path("nope.csv")


def test_promoters_label_is_motif_presence():
    data = data_for("promoters", label_columns="label")
    samples = all_samples(data)
    assert len(samples) == 560
    assert all((PROMOTER_MOTIF in s["sequences"]) == (s["labels"] == 1) for s in samples)
    assert 0.4 < sum(s["labels"] for s in samples) / len(samples) < 0.6


def test_gc_targets_follow_gc_content_and_motif_count():
    data = data_for("gc", label_columns=["gc", "motif_count", "score"], label_type="regression")
    samples = all_samples(data)
    for s in samples:
        gc, count, score = s["labels"]
        assert gc == pytest.approx(gc_fraction(s["sequences"]), abs=1e-6)
        assert count == len(occurrences(s["sequences"], GC_MOTIF))
        assert score == pytest.approx(gc_score(gc, int(count)), abs=1e-3)
    scores = [s["labels"][2] for s in samples]
    assert min(scores) > 1000 and max(scores) - min(scores) > 1000  # labels in the thousands
    assert {s["labels"][1] for s in samples} >= {0, 1, 2, 3}


def test_motif_tokens_mark_exactly_the_motif_residues():
    samples = all_samples(data_for("motif_tokens", label_columns="labels", label_type="token"))
    for s in samples:
        expected = [0] * len(s["sequences"])
        for index, motif in enumerate(TOKEN_MOTIFS, start=1):
            for start in occurrences(s["sequences"], motif):
                expected[start : start + len(motif)] = [index] * len(motif)
        assert s["labels"] == expected
    assert all(any(s["labels"]) for s in samples)


def test_hairpin_structure_and_pairs_agree_and_pair_complementary_bases():
    partners = {("A", "U"), ("U", "A"), ("G", "C"), ("C", "G")}
    from_structure = all_samples(
        data_for("hairpins", label_columns="structure", label_type="pairs")
    )
    from_pairs = all_samples(data_for("hairpins", label_columns="pairs", label_type="pairs"))
    assert [s["labels"] for s in from_structure] == [s["labels"] for s in from_pairs]
    for s in from_structure:
        assert len(s["labels"]) >= 4
        assert all((s["sequences"][i], s["sequences"][j]) in partners for i, j in s["labels"])


def test_localization_fasta_joins_its_label_table_and_follows_the_signals():
    data = SequenceData(
        label_type="class",
        path=str(example_path("localization.fasta")),
        label_table=str(example_path("localization_labels.tsv")),
        label_columns="location",
        val_fraction=0.2,
        test_fraction=0.2,
    )
    data.setup("fit")
    assert data.class_names == ["cytosol", "er_lumen", "nucleus"]
    samples = [s for split in ("train", "val", "test") for s in data.dataset(split)]
    assert len(samples) == 300
    assert any(len(s["sequences"]) > 60 for s in samples)  # multi-line FASTA bodies
    for s in samples:
        name = data.class_names[s["labels"]]
        assert (NUCLEAR_SIGNAL in s["sequences"]) == (name == "nucleus")
        assert s["sequences"].endswith("KDEL") == (name == "er_lumen")


def test_multilabel_example_with_fold_column():
    data = SequenceData(
        path=str(example_path("motifs_multilabel.tsv")),
        label_columns=["tata_box", "gc_box", "caat_box"],
        label_type="multilabel",
        fold_column="fold",
        fold=4,
    )
    data.setup("fit")
    assert len(data.datasets["val"]) == 60 and len(data.datasets["train"]) == 240
    motifs = ("TATAAT", "GGGCGG", "CCAAT")
    for s in [*data.dataset("train"), *data.dataset("val")]:
        assert s["labels"] == [int(m in s["sequences"]) for m in motifs]
