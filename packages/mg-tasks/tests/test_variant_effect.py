"""Zero-shot variant scoring: motif-breaking variants score as damaging; checks; batching."""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch
from task_helpers import adam, column, predict, tiny_backbone

from mg.adapters import LinearMeanPoolAdapter
from mg.core import IncompatibleError
from mg.core.testing import InMemoryData
from mg.core.testing.contracts import fast_trainer
from mg.tasks import MLM, SequenceClassification, VariantEmbeddingDistance, VariantLikelihoodRatio
from mg.tasks.data import MultiColumnData
from mg.tasks.variant_effect import (
    Substitution,
    mutation_problem,
    mutations_between,
    parse_mutations,
)

MOTIF = "TATAAT"
DNA = "ACGT"
wider_backbone = partial(tiny_backbone, hidden_size=32)


MOTIF_START = 6


def motif_sequence(rng: random.Random, length: int = 20) -> tuple[str, int]:
    """A random sequence with MOTIF at MOTIF_START (a box at a fixed offset, as in promoters)."""
    while True:
        background = "".join(rng.choice(DNA) for _ in range(length))
        start = MOTIF_START
        sequence = background[:start] + MOTIF + background[start + len(MOTIF) :]
        if sequence.count(MOTIF) == 1 and "TATAA" not in sequence.replace(MOTIF, "", 1):
            return sequence, start


def motif_training(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [{"ids": f"m{seed}_{i}", "sequences": motif_sequence(rng)[0]} for i in range(n)]


def motif_variants(n_references: int, seed: int) -> list[dict[str, Any]]:
    """Per reference, 3 variants inside the motif (label 1) and 3 outside it (label 0)."""
    rng = random.Random(seed)
    samples = []
    for r in range(n_references):
        reference, start = motif_sequence(rng)
        inside = rng.sample(range(start, start + len(MOTIF)), 3)
        outside = rng.sample([p for p in range(len(reference)) if not start <= p < start + 6], 3)
        for label, positions in ((1, inside), (0, outside)):
            for position in positions:
                alt = rng.choice([b for b in DNA if b != reference[position]])
                samples.append(
                    {
                        "ids": f"r{r}_{reference[position]}{position + 1}{alt}",
                        "sequences": reference,
                        "mutations": f"{reference[position]}{position + 1}{alt}",
                        "labels": label,
                    }
                )
    return samples


@pytest.fixture(scope="module")
def motif_backbone() -> Any:
    """A tiny backbone trained by MLM on sequences that all carry the motif."""
    torch.manual_seed(0)
    mlm = MLM(wider_backbone, mask_rate=0.2, optimizer=adam(1e-2))
    data = InMemoryData(train=motif_training(256, 0), batch_size=32)
    fast_trainer(max_epochs=6, limit_val_batches=0).fit(mlm, datamodule=data)
    return mlm.backbone


def scored(task: Any, backbone: Any, samples: list[dict[str, Any]], batch_size: int = 12) -> Any:
    task.backbone = backbone  # the trained weights; configure_model keeps a built backbone
    data = InMemoryData(test=samples, predict=samples, batch_size=batch_size)
    metrics = fast_trainer().test(task, datamodule=data)[0]
    scores = torch.stack(column(predict(task, data)))
    return metrics, scores


@pytest.mark.parametrize("marginal", ["masked", "wildtype"])
def test_motif_breaking_variants_score_lower(marginal: str, motif_backbone: Any) -> None:
    samples = motif_variants(16, seed=3)
    labels = torch.tensor([s["labels"] for s in samples])
    metrics, scores = scored(
        VariantLikelihoodRatio(wider_backbone, marginal=marginal), motif_backbone, samples
    )
    assert scores[labels == 1].mean() < scores[labels == 0].mean() - 1.0, scores
    assert metrics["test_auroc"] > 0.85 and metrics["test_auprc"] > 0.8, metrics
    # The same scores from an untrained backbone carry no motif knowledge.
    _, untrained = scored(VariantLikelihoodRatio(wider_backbone, marginal=marginal), None, samples)
    from torchmetrics.functional.classification import binary_auroc

    assert binary_auroc(-untrained, labels) < metrics["test_auroc"] - 0.2


def motif_presence(n: int, seed: int) -> list[dict[str, Any]]:
    """Half the sequences carry the motif (label 1), half are random without it."""
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        if i % 2:
            sequence = motif_sequence(rng)[0]
        else:
            sequence = "".join(rng.choice(DNA) for _ in range(20))
            while "TATA" in sequence:
                sequence = "".join(rng.choice(DNA) for _ in range(20))
        samples.append({"ids": f"p{seed}_{i}", "sequences": sequence, "labels": i % 2})
    return samples


@pytest.mark.parametrize("distance", ["cosine", "l2"])
def test_embedding_distance_moves_more_inside_the_motif(distance: str) -> None:
    # A backbone fine-tuned to tell motif from no motif: its mean embedding hinges on the
    # motif, so breaking it moves the embedding further than a change elsewhere.
    torch.manual_seed(0)
    classifier = SequenceClassification(
        wider_backbone, LinearMeanPoolAdapter, n_classes=2, optimizer=adam(3e-3)
    )
    data = InMemoryData(train=motif_presence(256, 0), batch_size=32)
    fast_trainer(max_epochs=4, limit_val_batches=0).fit(classifier, datamodule=data)
    samples = motif_variants(16, seed=4)
    task = VariantEmbeddingDistance(wider_backbone, distance=distance, pooling="mean")
    metrics, scores = scored(task, classifier.backbone, samples)
    assert (scores >= 0).all()
    assert metrics["test_auroc"] > 0.8, metrics


def test_spearman_for_continuous_labels(motif_backbone: Any) -> None:
    # Fitness: 0 for a broken motif, 1 elsewhere; a higher ratio should mean fitter.
    samples = [{**s, "labels": 1.0 - s["labels"]} for s in motif_variants(12, seed=5)]
    task = VariantLikelihoodRatio(wider_backbone, labels="continuous")
    metrics, _ = scored(task, motif_backbone, samples)
    assert metrics["test_spearman"] > 0.5, metrics


def test_multiple_mutations_add_up_and_wild_type_scores_zero(motif_backbone: Any) -> None:
    reference = motif_variants(1, seed=6)[0]["sequences"]
    first, second = f"{reference[2]}3{'A' if reference[2] != 'A' else 'C'}", None
    second = f"{reference[9]}10{'G' if reference[9] != 'G' else 'T'}"
    samples = [
        {"ids": name, "sequences": reference, "mutations": text}
        for name, text in (("a", first), ("b", second), ("ab", f"{first}:{second}"), ("wt", "WT"))
    ]
    task = VariantLikelihoodRatio(wider_backbone, marginal="wildtype")
    task.backbone = motif_backbone
    scores = torch.stack(column(predict(task, InMemoryData(predict=samples))))
    torch.testing.assert_close(scores[2], scores[0] + scores[1], atol=1e-5, rtol=1e-5)
    assert scores[3] == 0


@pytest.mark.parametrize("task_class", [VariantLikelihoodRatio, VariantEmbeddingDistance])
def test_scores_do_not_depend_on_batch_mates(task_class: Any) -> None:
    samples = [{k: v for k, v in s.items() if k != "labels"} for s in motif_variants(4, seed=7)]
    one = torch.stack(
        column(predict(task_class(wider_backbone), InMemoryData(predict=samples, batch_size=1)))
    )
    many = torch.stack(
        column(predict(task_class(wider_backbone), InMemoryData(predict=samples, batch_size=9)))
    )
    torch.testing.assert_close(one, many, atol=1e-5, rtol=1e-4)


def test_variants_of_one_reference_share_its_forward_pass() -> None:
    samples = motif_variants(2, seed=8)  # 2 references, 6 variants each
    task = VariantLikelihoodRatio(wider_backbone, marginal="wildtype")
    task.configure_model()
    rows: list[int] = []
    task.backbone.register_forward_hook(lambda m, i, o: rows.append(int(i[0].shape[0])))
    task.predict_step(task.collate(samples), 0)
    assert rows == [2]


def test_parse_mutations() -> None:
    assert parse_mutations("A123G:C130T") == [
        Substitution("A", 122, "G"),
        Substitution("C", 129, "T"),
    ]
    assert parse_mutations("wt") == []
    for bad, message in (
        ("A0G", "start at 1"),
        ("A12", "not a substitution"),
        ("A3G:A3T", "twice"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_mutations(bad)
    assert "holds 'C' at position 2, not 'A'" in str(mutation_problem("ACGT", "A2G"))
    assert "past the end" in str(mutation_problem("ACGT", "A9G"))


@pytest.mark.parametrize(
    ("second", "refused"),
    [
        ("T2G", r"mutation 'T2G': the reference holds 'C' at position 2, not 'T'"),
        # Z is no nucleotide (a1g in the first row is A1G: case carries no meaning).
        ("G3Z", r"mutation 'G3Z': the new residue 'Z' is not in the \w+ alphabet"),
    ],
)
def test_a_bad_mutation_names_file_row_and_id_before_the_backbone_loads(
    tmp_path: Path, second: str, refused: str
) -> None:
    path = tmp_path / "variants.csv"
    path.write_text(f"id,sequence,mutation,label\nv1,ACGTACGT,a1g,1\nv2,ACGTACGT,{second},0\n")
    data = MultiColumnData(
        test_file=str(path), label_columns="label", columns={"mutations": "mutation"}
    )
    task = VariantLikelihoodRatio(tiny_backbone)
    with pytest.raises(ValueError, match=rf"variants.csv, row 2 \(id 'v2'\): {refused}"):
        fast_trainer().test(task, datamodule=data)
    assert task.backbone is None


def test_missing_mutation_column_and_fit_fail_before_the_model_is_built(tmp_path: Path) -> None:
    path = tmp_path / "variants.csv"
    path.write_text("id,sequence,label\nv1,ACGTACGT,1\n")
    task = VariantLikelihoodRatio(tiny_backbone)
    with pytest.raises(IncompatibleError, match="'mutations'"):
        fast_trainer().test(
            task,
            datamodule=MultiColumnData(
                test_file=str(path), label_columns="label", columns={"other": "label"}
            ),
        )
    data = InMemoryData(train=motif_variants(1, 0), test=motif_variants(1, 0))
    with pytest.raises(IncompatibleError, match="cannot fit"):
        fast_trainer(max_steps=1).fit(task, datamodule=data)
    assert task.backbone is None


def test_an_alternative_sequence_scores_as_its_mutation_string() -> None:
    samples = [{k: v for k, v in s.items() if k != "labels"} for s in motif_variants(2, seed=9)]
    as_pairs = []
    for s in samples:
        position, alt = int(s["mutations"][1:-1]) - 1, s["mutations"][-1]
        alternative = s["sequences"][:position] + alt + s["sequences"][position + 1 :]
        as_pairs.append({"ids": s["ids"], "sequences": s["sequences"], "alternatives": alternative})
    by_mutation = column(
        predict(VariantLikelihoodRatio(wider_backbone), InMemoryData(predict=samples))
    )
    by_pair = column(
        predict(VariantLikelihoodRatio(wider_backbone), InMemoryData(predict=as_pairs))
    )
    torch.testing.assert_close(torch.stack(by_pair), torch.stack(by_mutation))
    assert mutations_between("ACGT", "ACGT") == "WT"
    assert mutations_between("ACGT", "TCGA") == "A1T:T4A"
    with pytest.raises(ValueError, match="only substitutions"):
        mutations_between("ACGT", "ACG")
