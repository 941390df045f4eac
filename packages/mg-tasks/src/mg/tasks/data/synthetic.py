"""Seeded synthetic datasets whose labels follow a known, checkable rule.

Each generator returns rows (dicts of plain values) ready to write as a table. The rule
behind every label is computed from the final sequence, so it holds exactly:

- `motif_classification`: label 1 exactly when the sequence holds the motif (once).
- `gc_regression`: the GC fraction, the motif count, and a score in the thousands made
  from both.
- `motif_tokens`: per-residue classes, 1 + the index of the motif covering the residue.
- `hairpins`: RNA with one stem-loop; pairs join the stem with its reverse complement.
- `protein_localization`: three named classes from a nuclear signal and an ER signal.
- `motif_multilabel`: one 0/1 label per motif present.
- `motif_variants`: substitutions inside a motif (label 1) or outside it (label 0).
- `dna_protein_pairs`: a DNA and a protein sequence whose labels need both.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from mg.core.alphabets import DNA, PROTEIN, RNA

PROMOTER_MOTIF = "TATAAT"
GC_MOTIF = "GATC"
TOKEN_MOTIFS = ("TATAAT", "GGCGCC")
NUCLEAR_SIGNAL = "PKKKRKV"
ER_SIGNAL = "KDEL"
LOCALIZATIONS = ("cytosol", "er_lumen", "nucleus")
MULTILABEL_MOTIFS = {"tata_box": "TATAAT", "gc_box": "GGGCGG", "caat_box": "CCAAT"}
RNA_PARTNER = {"A": "U", "U": "A", "G": "C", "C": "G"}

Row = dict[str, Any]


def occurrences(sequence: str, motif: str) -> list[int]:
    """Return every start of ``motif`` in ``sequence``, overlapping ones included."""
    return [i for i in range(len(sequence) - len(motif) + 1) if sequence.startswith(motif, i)]


def gc_fraction(sequence: str) -> float:
    """Return the share of G and C in a sequence."""
    return sum(base in "GC" for base in sequence) / len(sequence) if sequence else 0.0


def random_sequence(
    rng: random.Random, length: int, alphabet: str = DNA, avoid: Sequence[str] = ()
) -> str:
    """Draw a uniform random sequence that holds none of the ``avoid`` motifs."""
    while True:
        sequence = "".join(rng.choice(alphabet) for _ in range(length))
        if not any(motif in sequence for motif in avoid):
            return sequence


def _balanced(rng: random.Random, n: int, classes: Sequence[Any]) -> list[Any]:
    labels = [classes[i % len(classes)] for i in range(n)]
    rng.shuffle(labels)
    return labels


def _place(
    rng: random.Random, background: str, motifs: Sequence[str]
) -> tuple[str, list[tuple[int, str]]]:
    """Write motifs over a background at random, non-overlapping positions."""
    sequence = background
    placed: list[tuple[int, str]] = []
    for motif in motifs:
        for _ in range(100):
            start = rng.randrange(len(sequence) - len(motif) + 1)
            if all(start + len(motif) <= s or start >= s + len(m) for s, m in placed):
                break
        else:
            raise ValueError("The sequence is too short for its motifs; raise the length.")
        placed.append((start, motif))
        sequence = sequence[:start] + motif + sequence[start + len(motif) :]
    return sequence, placed


def motif_classification(
    n: int,
    *,
    length: int = 40,
    motif: str = PROMOTER_MOTIF,
    alphabet: str = DNA,
    positive_fraction: float = 0.5,
    seed: int = 0,
    prefix: str = "seq",
) -> list[Row]:
    """Binary classification: label 1 exactly when the sequence holds ``motif`` (once).

    Args:
        n (int): number of rows.
        length (int): sequence length.
        motif (str): the signal.
        alphabet (str): residues of the background.
        positive_fraction (float): share of label-1 rows.
        seed (int): the seed.
        prefix (str): ids are ``prefix`` + row number.

    Returns:
        list[Row]: rows with ``id``, ``sequence`` and ``label`` (0 or 1).
    """
    rng = random.Random(seed)
    n_positive = round(n * positive_fraction)
    labels = [1] * n_positive + [0] * (n - n_positive)
    rng.shuffle(labels)
    rows = []
    for i, label in enumerate(labels):
        while True:
            background = random_sequence(rng, length, alphabet, avoid=(motif,))
            sequence = _place(rng, background, [motif])[0] if label else background
            if len(occurrences(sequence, motif)) == label:
                break
        rows.append({"id": f"{prefix}{i}", "sequence": sequence, "label": label})
    return rows


def protein_localization(
    n: int, *, min_length: int = 40, max_length: int = 90, seed: int = 0, prefix: str = "prot"
) -> list[Row]:
    """Three protein classes: ``nucleus`` holds a nuclear signal, ``er_lumen`` ends in KDEL.

    ``cytosol`` proteins hold neither signal; the classes are balanced.

    Returns:
        list[Row]: rows with ``id``, ``sequence`` and ``label`` (a class name).
    """
    rng = random.Random(seed)
    rows = []
    for i, label in enumerate(_balanced(rng, n, LOCALIZATIONS)):
        length = rng.randint(min_length, max_length)
        while True:
            body = random_sequence(rng, length, PROTEIN, avoid=(NUCLEAR_SIGNAL, ER_SIGNAL))
            if label == "nucleus":
                body = _place(rng, body[: -len(ER_SIGNAL)], [NUCLEAR_SIGNAL])[0] + body[-4:]
            elif label == "er_lumen":
                body = body[: -len(ER_SIGNAL)] + ER_SIGNAL
            nuclear = NUCLEAR_SIGNAL in body
            er = ER_SIGNAL in body
            er_tail_only = body.endswith(ER_SIGNAL) and body.count(ER_SIGNAL) == 1
            if (nuclear, er) == (label == "nucleus", label == "er_lumen") and (
                not er or er_tail_only
            ):
                break
        rows.append({"id": f"{prefix}{i}", "sequence": body, "label": label})
    return rows


def motif_multilabel(
    n: int,
    *,
    length: int = 40,
    motifs: dict[str, str] | None = None,
    seed: int = 0,
    prefix: str = "seq",
) -> list[Row]:
    """Multilabel classification: one 0/1 column per motif, 1 exactly when it is present.

    Returns:
        list[Row]: rows with ``id``, ``sequence`` and one column per motif name.
    """
    motifs = dict(motifs or MULTILABEL_MOTIFS)
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        flags = {name: rng.random() < 0.5 for name in motifs}
        while True:
            background = random_sequence(rng, length, DNA, avoid=tuple(motifs.values()))
            chosen = [motifs[name] for name, flag in flags.items() if flag]
            sequence = _place(rng, background, chosen)[0]
            if all((motif in sequence) == flags[name] for name, motif in motifs.items()):
                break
        row: Row = {"id": f"{prefix}{i}", "sequence": sequence}
        row.update({name: int(flag) for name, flag in flags.items()})
        rows.append(row)
    return rows


def gc_score(gc: float, motif_count: int) -> float:
    """The regression score in the thousands: ``1000 + 2000 * gc + 250 * motif_count``."""
    return 1000.0 + 2000.0 * gc + 250.0 * motif_count


def gc_regression(
    n: int,
    *,
    min_length: int = 30,
    max_length: int = 50,
    motif: str = GC_MOTIF,
    max_motifs: int = 3,
    seed: int = 0,
    prefix: str = "seq",
) -> list[Row]:
    """Regression: GC content varies per sequence, and 0..``max_motifs`` motif copies are planted.

    Returns:
        list[Row]: rows with ``id``, ``sequence``, ``gc`` (GC fraction), ``motif_count``
        (occurrences of ``motif``) and ``score`` (`gc_score`, in the thousands).
    """
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        length = rng.randint(min_length, max_length)
        gc_share = rng.uniform(0.15, 0.85)
        background = "".join(
            rng.choice("GC") if rng.random() < gc_share else rng.choice("AT") for _ in range(length)
        )
        sequence = _place(rng, background, [motif] * rng.randint(0, max_motifs))[0]
        gc = round(gc_fraction(sequence), 6)
        count = len(occurrences(sequence, motif))
        rows.append(
            {
                "id": f"{prefix}{i}",
                "sequence": sequence,
                "gc": gc,
                "motif_count": count,
                "score": round(gc_score(gc, count), 3),
            }
        )
    return rows


def token_labels(sequence: str, motifs: Sequence[str]) -> list[int] | None:
    """Label each residue 1 + the index of the motif covering it, 0 elsewhere.

    Returns None when two occurrences overlap (the label would be ambiguous).
    """
    labels = [0] * len(sequence)
    for index, motif in enumerate(motifs, start=1):
        for start in occurrences(sequence, motif):
            span = range(start, start + len(motif))
            if any(labels[p] for p in span):
                return None
            for p in span:
                labels[p] = index
    return labels


def motif_tokens(
    n: int,
    *,
    min_length: int = 30,
    max_length: int = 50,
    motifs: Sequence[str] = TOKEN_MOTIFS,
    max_motifs: int = 3,
    seed: int = 0,
    prefix: str = "seq",
) -> list[Row]:
    """Token classification: residues inside a motif get 1 + the motif's index, others 0.

    Returns:
        list[Row]: rows with ``id``, ``sequence`` and ``labels`` (a string of digits, one per
        residue).
    """
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        length = rng.randint(min_length, max_length)
        while True:
            background = random_sequence(rng, length, DNA, avoid=motifs)
            planted = [rng.choice(motifs) for _ in range(rng.randint(1, max_motifs))]
            sequence = _place(rng, background, planted)[0]
            labels = token_labels(sequence, motifs)
            if labels is not None:
                break
        rows.append(
            {"id": f"{prefix}{i}", "sequence": sequence, "labels": "".join(map(str, labels))}
        )
    return rows


def reverse_complement_rna(sequence: str) -> str:
    """Return the Watson-Crick partner strand of an RNA sequence, 5' to 3'."""
    return "".join(RNA_PARTNER[base] for base in reversed(sequence))


def hairpins(
    n: int,
    *,
    min_stem: int = 4,
    max_stem: int = 8,
    min_loop: int = 3,
    max_loop: int = 6,
    max_flank: int = 8,
    seed: int = 0,
    prefix: str = "rna",
) -> list[Row]:
    """Pairwise labels: RNA with one stem-loop; each stem base pairs with its partner.

    Returns:
        list[Row]: rows with ``id``, ``sequence``, ``structure`` (dot-bracket) and ``pairs``
        (a list of 0-based ``[i, j]``, ``i < j``).
    """
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        stem_length = rng.randint(min_stem, max_stem)
        loop_length = rng.randint(min_loop, max_loop)
        left = random_sequence(rng, rng.randint(0, max_flank), RNA)
        right = random_sequence(rng, rng.randint(0, max_flank), RNA)
        stem = random_sequence(rng, stem_length, RNA)
        loop = random_sequence(rng, loop_length, RNA)
        sequence = left + stem + loop + reverse_complement_rna(stem) + right
        start, end = len(left), len(left) + 2 * stem_length + loop_length - 1
        pairs = [[start + k, end - k] for k in range(stem_length)]
        structure = (
            "." * len(left)
            + "(" * stem_length
            + "." * loop_length
            + ")" * stem_length
            + "." * len(right)
        )
        rows.append(
            {"id": f"{prefix}{i}", "sequence": sequence, "structure": structure, "pairs": pairs}
        )
    return rows


def motif_variants(
    n_references: int,
    *,
    length: int = 40,
    motif: str = PROMOTER_MOTIF,
    per_side: int = 4,
    seed: int = 0,
    prefix: str = "ref",
) -> list[Row]:
    """Zero-shot variant effect: substitutions inside a reference's motif or outside it.

    Each reference holds ``motif`` once; it gets ``per_side`` single substitutions inside
    the motif (label 1: they break it) and ``per_side`` outside (label 0). Mutation
    strings are 1-based (``A12G``).

    Returns:
        list[Row]: rows with ``id``, ``sequence`` (the reference), ``mutation`` and
        ``label``.
    """
    rng = random.Random(seed)
    rows = []
    for r in range(n_references):
        background = random_sequence(rng, length, DNA, avoid=(motif,))
        sequence, placed = _place(rng, background, [motif])
        start = placed[0][0]
        inside = rng.sample(range(start, start + len(motif)), per_side)
        outside = rng.sample(
            [p for p in range(length) if not start <= p < start + len(motif)], per_side
        )
        for label, positions in ((1, inside), (0, outside)):
            for position in sorted(positions):
                alt = rng.choice([b for b in DNA if b != sequence[position]])
                mutation = f"{sequence[position]}{position + 1}{alt}"
                rows.append(
                    {
                        "id": f"{prefix}{r}_{mutation}",
                        "sequence": sequence,
                        "mutation": mutation,
                        "label": label,
                    }
                )
    return rows


HYDROPHOBIC = "AILMFVW"


def dna_protein_pairs(
    n: int,
    *,
    min_length: int = 12,
    max_length: int = 24,
    seed: int = 0,
    prefix: str = "pair",
) -> list[Row]:
    """Fusion: a DNA and a protein sequence drawn independently; the labels need both.

    Returns:
        list[Row]: rows with ``id``, ``dna``, ``protein``, ``score`` (GC fraction of the
        DNA minus the hydrophobic fraction, ``AILMFVW``, of the protein) and ``match``
        (1 when the DNA is GC-rich and the protein hydrophobic-rich, or neither; else 0).
    """
    rng = random.Random(seed)
    polar = "".join(r for r in PROTEIN if r not in HYDROPHOBIC)
    rows = []
    for i in range(n):
        gc_share, hydrophobic_share = rng.random(), rng.random()
        dna = "".join(
            rng.choice("GC") if rng.random() < gc_share else rng.choice("AT")
            for _ in range(rng.randint(min_length, max_length))
        )
        protein = "".join(
            rng.choice(HYDROPHOBIC) if rng.random() < hydrophobic_share else rng.choice(polar)
            for _ in range(rng.randint(min_length, max_length))
        )
        gc = gc_fraction(dna)
        hydrophobic = sum(r in HYDROPHOBIC for r in protein) / len(protein)
        rows.append(
            {
                "id": f"{prefix}{i}",
                "dna": dna,
                "protein": protein,
                "score": round(gc - hydrophobic, 6),
                "match": int((gc > 0.5) == (hydrophobic > 0.5)),
            }
        )
    return rows
