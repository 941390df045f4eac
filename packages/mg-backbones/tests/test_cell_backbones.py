"""Cell backbones: the baseline projection and AIDO.Cell, equal to ModelGenerator's reference."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mg.backbones.cells.aido_cell import AIDOCell, AIDOCell3M, AIDOCellTiny, prepare_counts
from mg.backbones.cells.baseline import ExpressionBaseline
from mg.backbones.loading import BackboneLoadError
from mg.core import InputKind

FIXTURES = Path(__file__).parent / "fixtures" / "aido_cell"
GENES = [f"G{i}" for i in range(10)]


@pytest.fixture(scope="module")
def expected() -> dict[str, torch.Tensor]:
    return load_file(str(FIXTURES / "expected.safetensors"))


@pytest.fixture(scope="module")
def reference_model() -> AIDOCell:
    return AIDOCell(model_path=str(FIXTURES), genes=str(FIXTURES / "genes.txt")).eval()


def test_input_preparation_equals_the_reference(expected: dict[str, torch.Tensor]) -> None:
    prepared = prepare_counts(expected["counts"])
    # The reference rounds its prepared input to bfloat16; ours stays float32.
    assert torch.equal(prepared.to(torch.bfloat16).float(), expected["prepared"])
    assert prepared.shape[1] == expected["counts"].shape[1] + 2
    assert prepared[2, -1] == 5.0  # a two-count cell: the read-depth floor
    assert prepared.max() <= 20.0


def test_aido_cell_equals_the_reference_within_1e_5(
    reference_model: AIDOCell, expected: dict[str, torch.Tensor]
) -> None:
    prepared = expected["prepared"]
    mask = torch.ones(prepared.shape, dtype=torch.bool)
    with torch.no_grad():
        out = reference_model(prepared, mask, all_hidden_states=True)
    torch.testing.assert_close(out.last_hidden_state, expected["hidden"], atol=1e-5, rtol=0)
    assert out.hidden_states is not None
    torch.testing.assert_close(
        torch.stack(out.hidden_states), expected["hidden_states"], atol=1e-5, rtol=0
    )
    assert out.attention_mask.shape == expected["hidden"].shape[:2]


def test_a_genes_output_depends_on_other_genes_but_not_on_batch_mates(
    reference_model: AIDOCell, expected: dict[str, torch.Tensor]
) -> None:
    counts = expected["counts"]
    batch = reference_model.batch_cells(counts)
    changed = counts.clone()
    changed[0, 3] += 40.0
    changed_batch = reference_model.batch_cells(changed)
    with torch.no_grad():
        before = reference_model(batch.input_ids, batch.attention_mask).last_hidden_state
        after = reference_model(changed_batch.input_ids, changed_batch.attention_mask)
        alone = reference_model(batch.input_ids[1:2], batch.attention_mask[1:2])
    assert (after.last_hidden_state[0, 0] - before[0, 0]).abs().max() > 1e-3
    torch.testing.assert_close(after.last_hidden_state[1:], before[1:])
    torch.testing.assert_close(alone.last_hidden_state[0], before[1], atol=1e-6, rtol=0)


def test_genes_are_known_from_options_before_any_weights_load() -> None:
    vocabulary = AIDOCell3M.declared_gene_vocabulary({})  # no download: the shipped list
    assert len(vocabulary) == 19264
    assert vocabulary.genes[:2] == ("A1BG", "A1CF") and vocabulary.genes[-1] == "ZZZ3"
    tiny = AIDOCellTiny.declared_gene_vocabulary({"genes": GENES})
    assert tiny is not None and tiny.genes == tuple(GENES)
    assert AIDOCellTiny.declared_gene_vocabulary({}) is None  # the task will supply them
    assert ExpressionBaseline.declared_gene_vocabulary({}) is None


def test_checkpoint_with_other_weights_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text((FIXTURES / "config.json").read_text())
    from safetensors.torch import save_file

    save_file({"something.weight": torch.zeros(2)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(BackboneLoadError, match=r"not an AIDO\.Cell checkpoint mg can read"):
        AIDOCell(model_path=str(tmp_path), genes=GENES)


@pytest.mark.parametrize("finetune", ["frozen", "lora"])
def test_tiny_aido_cell_finetune_modes(finetune: str) -> None:
    backbone = AIDOCellTiny(genes=GENES, finetune=finetune)  # type: ignore[arg-type]
    trainable = [n for n, p in backbone.named_parameters() if p.requires_grad]
    if finetune == "frozen":
        assert trainable == []
    else:
        assert trainable and all(".lora_" in n for n in trainable)
    batch = backbone.batch_cells(torch.poisson(torch.full((2, len(GENES)), 3.0)))
    out = backbone(batch.input_ids, batch.attention_mask)
    assert out.last_hidden_state.shape == (2, len(GENES), 32)


def test_baseline_projects_each_cell_and_reads_expression() -> None:
    backbone = ExpressionBaseline(None, {"genes": GENES}, hidden_size=8)
    assert backbone.input_kind is InputKind.CELLS and not backbone.expects_counts
    counts = torch.tensor([[1.0] * 10, [2.0] * 10])
    batch = backbone.batch_cells(counts)
    out = backbone(batch.input_ids, batch.attention_mask)
    assert out.last_hidden_state.shape == (2, 1, 8)
    # Scaled to the same total, the two cells are the same cell.
    torch.testing.assert_close(out.last_hidden_state[0], out.last_hidden_state[1])
    frozen = ExpressionBaseline(genes=GENES, finetune="frozen")
    assert not any(p.requires_grad for p in frozen.parameters())
    with pytest.raises(ValueError, match="needs its genes"):
        ExpressionBaseline()
    assert ExpressionBaseline.required_data_columns() == {"expression"}


@pytest.mark.parametrize(
    ("tiny", "family"),
    [("AIDOCellTiny", "AIDOCell"), ("GeneformerTiny", "Geneformer")],
)
@pytest.mark.parametrize("finetune", ["full", "lora"])
def test_a_saved_tiny_model_reloads_through_its_family_with_its_genes(
    tiny: str, family: str, finetune: str, tmp_path: Path
) -> None:
    from mg.core.registry import load

    genes = [f"ENSG{i:011d}" for i in range(12)]
    model = load("backbones", tiny)(genes=genes, finetune=finetune).eval()
    if finetune == "lora":  # trained LoRA weights, so merging them changes the outputs
        lora_b = [w for n, w in model.named_parameters() if "lora_B" in n]
        assert lora_b
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            for weight in lora_b:
                weight.normal_(std=0.1)
    folder = model.save_pretrained(tmp_path / tiny)
    cls = load("backbones", family)
    # The genes are known from the folder before any weights load, as mg's checks need.
    assert cls.declared_gene_vocabulary({"model_path": str(folder)}).genes == tuple(genes)
    reloaded = cls(model_path=str(folder)).eval()
    counts = torch.poisson(
        torch.full((3, len(genes)), 4.0), generator=torch.Generator().manual_seed(0)
    )
    batch, again = model.batch_cells(counts), reloaded.batch_cells(counts)
    assert torch.equal(batch.input_ids, again.input_ids)
    with torch.no_grad():
        before = model(batch.input_ids, batch.attention_mask).last_hidden_state
        after = reloaded(again.input_ids, again.attention_mask).last_hidden_state
    assert torch.allclose(before, after, atol=1e-4, rtol=1e-4)
