"""The small example datasets shipped in ``mg/tasks/examples/``, and how to regenerate them.

Every file comes from a seeded generator in `mg.tasks.data.synthetic`, so
``write_examples(folder)`` rewrites them byte for byte; ``python -m mg.tasks.examples
FOLDER`` does the same from a shell. `example_path` finds a shipped file in the installed
package::

    SequenceData(train_file=str(example_path("promoters_train.csv")), label_columns="label")
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from mg.tasks.data import synthetic
from mg.tasks.data.synthetic import Row

SPLITS = {"train": 400, "val": 80, "test": 80}
"""Rows per split of the split example datasets."""

DNA_PROTEIN_SPLITS = {"train": 300, "val": 60, "test": 60}
"""Rows per split of the fusion example (two sequences a row: fewer rows keep it small)."""

EXAMPLES: dict[str, str] = {
    "promoters_{split}.csv": "DNA classification: columns id, sequence, label; label is 1 exactly "
    "when the 40-mer holds TATAAT (once).",
    "gc_{split}.csv": "DNA regression: columns id, sequence, gc (GC fraction), motif_count "
    "(occurrences of GATC) and score = 1000 + 2000 * gc + 250 * motif_count (in the thousands).",
    "motif_tokens_{split}.csv": "DNA token classification: columns id, sequence, labels (one digit "
    "per residue: 1 inside TATAAT, 2 inside GGCGCC, 0 elsewhere).",
    "hairpins_{split}.jsonl": "RNA pairwise labels: fields id, sequence, structure (dot-bracket) "
    "and pairs (0-based [i, j] of the one stem-loop).",
    "localization.fasta": "Protein classification, sequences on 60-residue lines; labels in "
    "localization_labels.tsv.",
    "localization_labels.tsv": "Labels of localization.fasta: columns id, location (nucleus: holds "
    "PKKKRKV; er_lumen: ends in KDEL; cytosol: neither).",
    "variants.csv": "Zero-shot variant effect: columns id, sequence (a 40-mer reference holding "
    "TATAAT once), mutation (1-based, e.g. A12G) and label (1 inside the TATAAT box, 0 outside).",
    "dna_protein_{split}.csv": "Fusion: columns id, dna, protein, score (GC fraction of the DNA "
    "minus the hydrophobic fraction of the protein) and match (1 when both are rich or both poor).",
    "motifs_multilabel.tsv": "DNA multilabel classification: columns id, sequence, tata_box, "
    "gc_box, caat_box (1 when TATAAT / GGGCGG / CCAAT is present) and fold (0..4).",
}
"""File name (``{split}`` stands for train, val and test) → what it holds."""


def _write_csv(path: Path, rows: list[Row], delimiter: str = ",") -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=list(rows[0]), delimiter=delimiter, lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)


def _write_jsonl(path: Path, rows: list[Row]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


def _write_fasta(path: Path, rows: list[Row], width: int = 60) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(f">{row['id']} length={len(row['sequence'])}\n")
            sequence = row["sequence"]
            for start in range(0, len(sequence), width):
                handle.write(sequence[start : start + width] + "\n")


def _split_files(
    folder: Path,
    stem: str,
    suffix: str,
    generate: Callable[..., list[Row]],
    write: Callable[[Path, list[Row]], None],
    seed: int,
) -> list[Path]:
    paths = []
    for offset, (split, n) in enumerate(SPLITS.items()):
        path = folder / f"{stem}_{split}{suffix}"
        write(path, generate(n, seed=seed + offset, prefix=f"{split}_"))
        paths.append(path)
    return paths


def write_examples(folder: str | Path) -> list[Path]:
    """Write every example dataset into ``folder`` (created if needed).

    Args:
        folder (str | Path): where to write.

    Returns:
        list[Path]: the files written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = _split_files(
        folder, "promoters", ".csv", synthetic.motif_classification, _write_csv, seed=100
    )
    paths += _split_files(folder, "gc", ".csv", synthetic.gc_regression, _write_csv, seed=200)
    paths += _split_files(
        folder, "motif_tokens", ".csv", synthetic.motif_tokens, _write_csv, seed=300
    )
    paths += _split_files(folder, "hairpins", ".jsonl", synthetic.hairpins, _write_jsonl, seed=400)

    proteins = synthetic.protein_localization(300, seed=500)
    _write_fasta(folder / "localization.fasta", proteins)
    _write_csv(
        folder / "localization_labels.tsv",
        [{"id": row["id"], "location": row["label"]} for row in proteins],
        delimiter="\t",
    )
    paths += [folder / "localization.fasta", folder / "localization_labels.tsv"]

    multilabel = synthetic.motif_multilabel(300, seed=600)
    for index, row in enumerate(multilabel):
        row["fold"] = index % 5
    _write_csv(folder / "motifs_multilabel.tsv", multilabel, delimiter="\t")
    paths.append(folder / "motifs_multilabel.tsv")

    _write_csv(folder / "variants.csv", synthetic.motif_variants(20, seed=700))
    paths.append(folder / "variants.csv")
    for offset, (split, n) in enumerate(DNA_PROTEIN_SPLITS.items()):
        path = folder / f"dna_protein_{split}.csv"
        _write_csv(path, synthetic.dna_protein_pairs(n, seed=800 + offset, prefix=f"{split}_"))
        paths.append(path)
    return paths


def example_names() -> list[str]:
    """Return the names of every shipped example file."""
    names = []
    for pattern in EXAMPLES:
        names += [pattern.format(split=s) for s in SPLITS] if "{split}" in pattern else [pattern]
    return names


def examples_folder() -> Path:
    """Return the folder of the shipped example files."""
    return Path(str(resources.files("mg.tasks.examples")))


def example_path(name: str) -> Path:
    """Return the path of a shipped example file, e.g. ``example_path("gc_train.csv")``.

    Raises:
        FileNotFoundError: no example has that name; the message lists those there are.
    """
    path = examples_folder() / name
    if name not in example_names() or not path.is_file():
        raise FileNotFoundError(
            f"No example file named {name!r}; the examples are {example_names()}."
        )
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the example files: ``python -m mg.tasks.examples FOLDER``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m mg.tasks.examples FOLDER", file=sys.stderr)
        return 2
    for path in write_examples(args[0]):
        print(path)
    return 0
