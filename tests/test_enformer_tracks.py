"""Enformer's 128-bp bins meet the tasks: TrackRegression learns a planted signal from
real FASTA, BED and bigWig files through EnformerTiny; tasks that read one state per token
refuse it, with the reason, before any weights load."""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from mg.backbones import EnformerTiny, OneHotDNA
from mg.core.compat import IncompatibleError, check_compatibility
from mg.core.embedding_cache import open_backbone_cache
from mg.core.testing.contracts import fast_trainer
from mg.tasks import MLM, Embed, SequenceRegression, TokenClassification
from mg.tasks.data.genome.tracks import IntervalTrackData
from mg.tasks.tracks import TrackRegression

MOTIF = "GCGCGCGC"  # the genome has no G elsewhere, so the motif is only where planted
WINDOW, BIN = 1024, 128
GENOME = 24_000


def _fasta(path: Path, name: str, sequence: str) -> Path:
    with path.open("w") as handle:
        handle.write(f">{name}\n")
        handle.writelines(sequence[i : i + 60] + "\n" for i in range(0, len(sequence), 60))
    return path


def _bigwig(path: Path, name: str, values: np.ndarray) -> Path:
    import pyBigWig

    handle = pyBigWig.open(str(path), "w")
    handle.addHeader([(name, len(values))])
    handle.addEntries(name, 0, values=[float(v) for v in values], span=1, step=1)
    handle.close()
    return path


def _bed(path: Path, rows: list[tuple[str, int, int, str, int, str]]) -> Path:
    path.write_text("".join("\t".join(map(str, row)) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A genome with the motif planted in some bins; the track rises over each motif."""
    folder = tmp_path_factory.mktemp("enformer_tracks")
    rng = random.Random(0)
    bases = [rng.choice("ACT") for _ in range(GENOME)]
    signal = np.full(GENOME, 0.5, dtype=np.float32)
    for start in range(40, GENOME - 100, 150):
        if rng.random() < 0.4:
            bases[start : start + len(MOTIF)] = MOTIF
            signal[start - 24 : start + len(MOTIF) + 24] = 20.0
    fasta = _fasta(folder / "genome.fa", "chr1", "".join(bases))
    track = _bigwig(folder / "track.bw", "chr1", signal)
    rows: dict[str, list[tuple[str, int, int, str, int, str]]] = {"train": [], "val": []}
    for start in range(0, GENOME - WINDOW, 89):
        split = "val" if start >= GENOME - 4 * WINDOW else "train"
        if split == "train" and start + WINDOW > GENOME - 4 * WINDOW:
            continue  # no training window overlaps a validation one
        rows[split].append(("chr1", start, start + WINDOW, f"w{start}", 0, "+-"[start % 2]))
    beds = {split: _bed(folder / f"{split}.bed", r) for split, r in rows.items()}
    return {"fasta": fasta, "track": track, **beds}


def test_enformer_tiny_learns_a_planted_track_signal(files: dict[str, Path]) -> None:
    torch.manual_seed(0)
    data = IntervalTrackData(
        train=str(files["train"]),
        val=str(files["val"]),
        reference=str(files["fasta"]),
        tracks=[str(files["track"])],
        context_length=WINDOW,
        bin_size=BIN,
        batch_size=16,
    )

    def task() -> TrackRegression:
        # bin_size is left unset: it is the backbone's own 128-bp bins.
        return TrackRegression(
            partial(EnformerTiny, max_length=WINDOW),
            num_tracks=1,
            optimizer=partial(torch.optim.Adam, lr=2e-3),
        )

    assert task().bin_size == BIN
    before = fast_trainer().validate(task(), datamodule=data)[0]["val_pearson"]
    trained = task()
    fast_trainer(max_epochs=3).fit(trained, datamodule=data)
    after = fast_trainer().validate(trained, datamodule=data)[0]["val_pearson"]
    assert after > 0.5 and after > before + 0.3, (before, after)


def test_a_bin_size_other_than_the_backbones_bins_fails_at_construction() -> None:
    with pytest.raises(IncompatibleError, match=r"bin_size=32.*128-residue bin.*bin_size to 128"):
        TrackRegression(partial(EnformerTiny, max_length=WINDOW), bin_size=32)
    # A backbone with one state per residue keeps the old default of 32-residue bins.
    assert TrackRegression(OneHotDNA).bin_size == 32
    # Data binned at 32 bp for a task at the backbone's 128: the batch names the window.
    task = TrackRegression(partial(EnformerTiny, max_length=WINDOW))
    window = {"ids": "w0", "sequences": "ACGT" * 64, "labels": np.zeros((8, 1))}
    with pytest.raises(ValueError, match=r"'w0'.*8 bins.*makes 2 bins.*same bin_size"):
        task.collate([window])


def test_tasks_reading_token_states_refuse_binned_outputs_with_the_reason() -> None:
    for task in (TokenClassification, Embed):
        report = check_compatibility(task, EnformerTiny)
        assert not report.compatible
        assert any("one per 128-residue bin" in r for r in report.reasons), report.reasons
        assert len(report.reasons) == 1, report.reasons  # no second, vaguer reason
    masked = check_compatibility(MLM, EnformerTiny)
    assert any("masked-LM head" in r for r in masked.reasons), masked.reasons
    for task in (SequenceRegression, TrackRegression):
        assert check_compatibility(task, EnformerTiny).compatible


def test_the_embedding_cache_refuses_binned_states(tmp_path: Path) -> None:
    backbone = EnformerTiny(finetune="frozen", max_length=WINDOW)
    with pytest.raises(ValueError, match="128-residue bin"):
        open_backbone_cache(backbone, str(tmp_path), None, 0)


def test_an_exported_enformer_track_model_predicts_as_its_checkpoint(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv
    import shutil

    import yaml

    from mg.cli.main import main

    config = {
        "seed_everything": 0,
        "trainer": {
            "max_steps": 2,
            "enable_progress_bar": False,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(tmp_path / "runs"), "name": "tracks"},
            },
        },
        "model": {
            "class_path": "TrackRegression",
            "init_args": {
                "backbone": {"class_path": "EnformerTiny", "init_args": {"max_length": WINDOW}},
                "num_tracks": 1,
            },
        },
        "data": {
            "class_path": "IntervalTrackData",
            "init_args": {
                "train": str(files["train"]),
                "val": str(files["val"]),
                "predict": str(files["val"]),
                "reference": str(files["fasta"]),
                "tracks": [str(files["track"])],
                "context_length": WINDOW,
                "bin_size": BIN,
                "batch_size": 8,
            },
        },
    }
    path = tmp_path / "tracks.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["fit", "--config", str(path)]) == 0
    export = tmp_path / "export"
    assert (
        main(["export", "--config", str(path), "--ckpt_path", "last", "--output", str(export)]) == 0
    )
    exported = yaml.safe_load((export / "config.yaml").read_text())
    assert exported["model"]["init_args"]["backbone"]["class_path"].endswith(".Enformer")
    machine_files = {"train", "val", "predict", "reference", "tracks"}
    assert not machine_files & set(exported["data"]["init_args"])  # given where it runs

    def predictions(config_path: Path, output: Path, *extra: str) -> list[dict[str, str]]:
        writer = {
            "class_path": "mg.cli.writer.PredictionWriter",
            "init_args": {"output": str(output)},
        }
        override = output.with_suffix(".yaml")
        override.write_text(yaml.safe_dump({"trainer": {"callbacks": [writer]}}))
        status = main(["predict", "--config", str(config_path), "--config", str(override), *extra])
        assert status == 0
        with output.open() as handle:
            return list(csv.DictReader(handle, delimiter="\t"))

    expected = predictions(path, tmp_path / "checkpoint.tsv", "--ckpt_path", "last")
    moved = Path(shutil.move(export, tmp_path / "elsewhere"))
    windows = ["--data.init_args.predict", str(files["val"])]
    windows += ["--data.init_args.reference", str(files["fasta"])]
    got = predictions(moved / "config.yaml", tmp_path / "export.tsv", *windows)
    assert [r["ids"] for r in got] == [r["ids"] for r in expected]
    for mine, theirs in zip(got, expected, strict=True):
        values = np.array(yaml.safe_load(mine["predictions"]), dtype=float)
        reference = np.array(yaml.safe_load(theirs["predictions"]), dtype=float)
        assert np.allclose(values, reference, atol=1e-5)
    # Where it runs, the genome is the user's to give: without it, one line says so.
    capsys.readouterr()
    assert main(["predict", "--config", str(moved / "config.yaml"), *windows[:2]]) != 0
    said = capsys.readouterr().err.strip().splitlines()
    assert said[0] == (
        "mg: error: No reference genome given: set the data's reference to the genome FASTA "
        "(--data.init_args.reference genome.fa)."
    )
    assert not any("Traceback" in line for line in said)
