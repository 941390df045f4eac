"""Build configs for every (task, backbone, adapter) triple of the compatibility matrix."""

from __future__ import annotations

import json
import random
from functools import cache
from pathlib import Path
from typing import Any

from mg.cli.matrix import compute_matrix
from mg.core.alphabets import RESIDUES
from mg.core.backbone import Modality
from mg.core.compat import CompatibilityReport
from mg.core.inputs import InputKind
from mg.core.registry import load, load_all, plugins

ALPHABETS = {m: RESIDUES[m] for m in (Modality.DNA, Modality.RNA, Modality.PROTEIN)}
# Per task: the data to generate for it and the options a few-step run needs (the task
# itself says how its labels are read).
TASK_SETUP: dict[str, tuple[str, dict[str, Any]]] = {
    "SequenceClassification": ("class", {"n_classes": 2}),
    "SequenceRegression": ("regression", {}),
    "TokenClassification": ("token", {"n_classes": 2}),
    "PairwiseTokenClassification": ("pairs", {"min_separation": 3}),
    "ConditionalDiffusion": ("class", {"n_classes": 2, "num_steps": 2}),
    "ConditionalMLM": ("class", {"n_classes": 2}),
    "Diffusion": ("none", {"num_steps": 2}),
    "MLM": ("none", {}),
    "Inference": ("none", {}),
    "Embed": ("none", {}),
    "VariantLikelihoodRatio": ("variant", {}),
    "VariantEmbeddingDistance": ("variant", {}),
    "FusionClassification": ("fusion_class", {"n_classes": 2}),
    "FusionRegression": ("fusion_regression", {}),
    "TrackRegression": ("tracks", {"num_tracks": 1}),  # bin_size: the data's (see below)
    "SaturationMutagenesis": ("windows", {}),
}
# Label kinds whose data also carries columns beyond sequence and label (MultiColumnData).
EXTRA_COLUMNS: dict[str, dict[str, str]] = {
    "variant": {"mutations": "mutation"},
    "fusion_class": {"partner": "partner"},
    "fusion_regression": {"partner": "partner"},
}
# Multi-backbone tasks run with the matrix's backbone in both slots, each on its own column.
FUSION_KINDS = ("fusion_class", "fusion_regression")
# Coordinate tasks read windows of a small genome (a FASTA, BEDs, a bigWig) in the case folder.
GENOME_KINDS = ("tracks", "windows")
# A hub-default family is tested on its tiny variant saved to a folder: the user's path.
HF_STAND_IN = "BertDNATiny"
# Cell backbones read these genes (Ensembl-like ids, as Geneformer writes them) from an
# .h5ad whose label kinds are these; cells of another kind never reach a run (checks stop it).
CELL_GENES = [f"ENSG{i:011d}" for i in range(16)]
CELL_KINDS = ("class", "regression", "none")


@cache
def reports() -> list[CompatibilityReport]:
    """Every triple mg matrix shows."""
    return compute_matrix()


def wrong_adapter_cases() -> list[tuple[str, str]]:
    """(task, adapter) pairs whose adapter type the task does not accept."""
    tasks, adapters = load_all("tasks"), load_all("adapters")
    return [
        (task_name, adapter_name)
        for task_name, task in tasks.items()
        if task.adapter_type is not None
        for adapter_name, adapter in adapters.items()
        if not issubclass(adapter, task.adapter_type)
    ]


def tiny_source(backbone: str) -> str | None:
    """The tiny registered class whose saved folder stands in for a hub model, if any."""
    if backbone == "HFBackbone":
        return HF_STAND_IN
    if backbone + "Tiny" in plugins("backbones"):
        return backbone + "Tiny"
    return None


def reads_cells(backbone: str) -> bool:
    """Whether a backbone reads cells (expression over genes) rather than sequences."""
    return load("backbones", backbone).input_kind == InputKind.CELLS


def tiny_defaults(name: str) -> dict[str, Any] | None:
    """The task defaults a tiny backbone is built with: the genes, for a cell backbone."""
    return {"genes": CELL_GENES} if reads_cells(name) else None


def data_modality(backbone: str) -> Modality:
    """Which alphabet the test data uses for a backbone."""
    source = tiny_source(backbone) or backbone
    modality = load("backbones", source).modality
    return modality if modality in ALPHABETS else Modality.DNA


def write_data(folder: Path, modality: Modality, kind: str, n: int = 12, seed: int = 0) -> Path:
    """A JSONL file of random sequences over the alphabet, labelled as ``kind`` needs."""
    path = folder / f"{modality.value}_{kind}.jsonl"
    if path.exists():
        return path
    rng = random.Random(seed)
    alphabet = ALPHABETS[modality]
    with path.open("w") as handle:
        for i in range(n):
            length = rng.randrange(12, 30)
            record: dict[str, Any] = {
                "id": f"item{i}",
                "sequence": "".join(rng.choice(alphabet) for _ in range(length)),
            }
            if kind in FUSION_KINDS:
                record["partner"] = "".join(rng.choice(alphabet) for _ in range(length // 2 + 4))
            if kind in ("class", "fusion_class"):
                record["label"] = i % 2
            elif kind in ("regression", "fusion_regression"):
                record["label"] = rng.uniform(-1, 1)
            elif kind == "token":
                record["label"] = [rng.randrange(2) for _ in range(length)]
            elif kind == "pairs":
                record["label"] = [[j, length - 1 - j] for j in range(3)]
            elif kind == "variant":
                where = rng.randrange(length)
                held = record["sequence"][where]
                alt = rng.choice([c for c in alphabet if c != held])
                record["mutation"] = f"{held}{where + 1}{alt}"
                record["label"] = i % 2
            handle.write(json.dumps(record) + "\n")
    return path


def track_bin_size(backbone: str) -> int:
    """Residues per bin: a binned backbone's own (Enformer's 128), else 8."""
    return load("backbones", backbone).output_bin_size or 8


def genome_data(folder: Path, kind: str, bin_size: int) -> dict[str, Any]:
    """`IntervalTrackData` on a planted genome: BED windows, with a bigWig track for ``tracks``.

    Windows are four bins wide.
    """
    from mg.tasks.data.genome.synthetic import write_planted_tracks

    files = write_planted_tracks(folder / "genome", chromosomes={"chr1": 800}, tracks=1)
    beds = {split: str(files[split]) for split in ("train", "val", "test")}
    init: dict[str, Any] = {"reference": str(files["fasta"]), "predict": beds["test"]}
    if kind == "tracks":
        init |= {**beds, "tracks": [str(p) for p in files["tracks"]]}  # type: ignore[union-attr]
    init |= {"context_length": 4 * bin_size, "bin_size": bin_size, "batch_size": 4}
    return {"class_path": "IntervalTrackData", "init_args": init}


def write_cells(folder: Path, kind: str, n: int = 16, seed: int = 0) -> Path:
    """An ``.h5ad`` of raw counts over `CELL_GENES`, split 8/4/4 by a column, labelled."""
    import anndata
    import numpy as np
    import pandas as pd
    from scipy import sparse

    path = folder / f"cells_{kind}.h5ad"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    obs = pd.DataFrame(
        {"split": ["train"] * (n // 2) + ["val"] * (n // 4) + ["test"] * (n - n // 2 - n // 4)},
        index=[f"cell{i}" for i in range(n)],
    )
    if kind == "class":
        obs["label"] = [f"type{i % 2}" for i in range(n)]
    elif kind == "regression":
        obs["label"] = rng.uniform(-1, 1, n)
    counts = sparse.csr_matrix(rng.poisson(3.0, (n, len(CELL_GENES))).astype(np.float32))
    anndata.AnnData(X=counts, obs=obs, var=pd.DataFrame(index=CELL_GENES)).write_h5ad(path)
    return path


def cell_data(folder: Path, kind: str) -> dict[str, Any]:
    """The `CellData` section for a cell backbone's case: predict reads every cell."""
    path = str(write_cells(folder, kind))
    data: dict[str, Any] = {
        "path": path,
        "predict_path": path,
        "split_column": "split",
        "batch_size": 4,
    }
    if kind != "none":
        data["label_columns"] = "label"
    return {"class_path": "CellData", "init_args": data}


def sequence_data(folder: Path, kind: str, modality: Modality) -> dict[str, Any]:
    """The sequence data section: one generated file for every split."""
    data_file = str(write_data(folder, modality, kind))
    data: dict[str, Any] = {
        "train_file": data_file,
        "val_file": data_file,
        "test_file": data_file,
        "predict_file": data_file,
        "batch_size": 4,
        "file_format": "jsonl",
    }
    if kind in EXTRA_COLUMNS:
        data["columns"] = EXTRA_COLUMNS[kind]
    if kind in FUSION_KINDS:
        data["sequence_keys"] = ["partner"]
    if kind != "none":
        data["label_columns"] = "label"
    return {
        "class_path": "MultiColumnData" if kind in EXTRA_COLUMNS else "SequenceData",
        "init_args": data,
    }


def case_config(
    folder: Path,
    task: str,
    backbone: str,
    adapter: str | None,
    model_paths: dict[str, Path],
    accelerator: str = "cpu",
) -> dict[str, Any]:
    """The config `mg fit` would read for one triple: a few steps, one batch of each stage."""
    kind, options = TASK_SETUP[task]
    if kind == "windows" and data_modality(backbone) is not Modality.DNA:
        kind = "none"  # windows of an RNA backbone: sequences over its alphabet
    backbone_spec: dict[str, Any] = {"class_path": backbone}
    source = tiny_source(backbone)
    if source is not None and source != backbone:
        backbone_spec["init_args"] = {"model_path": str(model_paths[source])}
    elif reads_cells(backbone):
        backbone_spec["init_args"] = {"genes": CELL_GENES}
    model: dict[str, Any] = {"backbone": backbone_spec, **options}
    if kind == "tracks":
        model["bin_size"] = track_bin_size(backbone)
    if kind in FUSION_KINDS:
        model["backbones"] = {"sequences": model.pop("backbone"), "partner": backbone_spec}
    if adapter is not None:
        model["adapter"] = {"class_path": adapter}
    if reads_cells(backbone) and kind in CELL_KINDS:
        data_section = cell_data(folder, kind)
    elif kind in GENOME_KINDS:
        data_section = genome_data(folder, kind, track_bin_size(backbone))
    else:
        data_section = sequence_data(folder, kind, data_modality(backbone))
    trainer: dict[str, Any] = {
        "default_root_dir": str(folder),
        "accelerator": accelerator,
        "devices": 1,
        "max_steps": 2,
        "limit_val_batches": 1,
        "limit_test_batches": 1,
        "limit_predict_batches": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "callbacks": [],
        "num_sanity_val_steps": 0,
    }
    if accelerator == "gpu":
        trainer["precision"] = "bf16-mixed"
    return {
        "seed_everything": 0,
        "trainer": trainer,
        "model": {"class_path": task, "init_args": model},
        "data": data_section,
    }
