"""VariantEmbeddingDistance's cosine distance keeps its precision for near-identical embeddings."""

from __future__ import annotations

import torch

from mg.tasks.variant_effect import cosine_distance


def test_cosine_distance_of_nearly_equal_embeddings_matches_float64() -> None:
    generator = torch.Generator().manual_seed(0)
    reference = torch.randn(40, 256, generator=generator)
    # A substitution moves a pooled embedding only slightly: relative changes of 1e-5..1e-3.
    scale = torch.logspace(-5, -3, 40)[:, None]
    variant = reference + scale * torch.randn(40, 256, generator=generator)
    exact = 1 - torch.nn.functional.cosine_similarity(reference.double(), variant.double(), dim=-1)
    naive = 1 - torch.nn.functional.cosine_similarity(reference, variant, dim=-1)
    stable = cosine_distance(reference, variant)
    assert stable.dtype == torch.float32
    relative = ((stable.double() - exact) / exact).abs()
    assert float(relative.max()) < 1e-3
    assert bool((stable > 0).all())
    # The subtraction form fails this very check: it is what the stable form replaces.
    assert float(((naive.double() - exact) / exact).abs().max()) > 1e-2


def test_cosine_distance_of_opposite_and_orthogonal_vectors() -> None:
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [3.0, 4.0]])
    b = torch.tensor([[-2.0, 0.0], [0.0, 5.0], [6.0, 8.0]])
    assert torch.allclose(cosine_distance(a, b), torch.tensor([2.0, 1.0, 0.0]), atol=1e-7)


def test_mutation_letters_in_any_case_score_alike_and_an_unknown_residue_names_the_id() -> None:
    from task_helpers import tiny_backbone

    from mg.tasks import VariantEmbeddingDistance

    reference = "ACGTTATAATGCACGT"
    task = VariantEmbeddingDistance(tiny_backbone)
    task.configure_model()
    task.eval()
    upper = [{"ids": "up", "sequences": reference, "mutations": "C2G:T5A"}]
    lower = [{"ids": "low", "sequences": reference, "mutations": "c2g:t5a"}]
    with torch.no_grad():
        expected = task.predict_step(task.collate(upper), 0)["predictions"]
        got = task.predict_step(task.collate(lower), 0)["predictions"]
    assert bool(expected > 0) and torch.equal(got, expected)
    unknown = [{"ids": "variant_7", "sequences": reference, "mutations": "C2Z"}]
    try:
        task.collate(unknown)
    except ValueError as error:
        message = str(error)
    else:
        raise AssertionError("a residue outside the vocabulary was accepted")
    assert "'variant_7'" in message and "'Z'" in message and "vocabulary" in message
    assert "\n" not in message
