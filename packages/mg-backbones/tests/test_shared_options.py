"""Options declared once on a base reach every variant as flat keys, and say what they mean."""

from __future__ import annotations

import pytest

from mg.backbones import ESM2, AIDODNATiny, BertDNATiny, ESM2Tiny, HFBackbone
from mg.backbones.cells.aido_cell import AIDOCellTiny
from mg.backbones.cells.geneformer import GeneformerTiny
from mg.core.signatures import init_options

SHARED = {
    "config_overwrites",
    "model_init_args",
    "unknown",
    "truncation",
    "finetune",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_target_modules",
    "lora_options",
    "gradient_checkpointing",
}
FINETUNING = {"finetune", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules"}


@pytest.mark.parametrize("cls", [HFBackbone, ESM2, BertDNATiny, AIDODNATiny])
def test_loaded_and_tiny_variants_take_every_shared_option(cls: type) -> None:
    options = init_options(cls)
    assert SHARED <= set(options)
    assert options["finetune"].default == "full" and options["unknown"].default == "error"


@pytest.mark.parametrize(("cls", "own"), [(AIDOCellTiny, "bin_num"), (GeneformerTiny, "medians")])
def test_tiny_cell_variants_take_the_finetuning_options_and_not_the_loaders(
    cls: type, own: str
) -> None:
    options = set(init_options(cls))
    assert FINETUNING | {own, "genes"} <= options
    assert "model_path" not in options


def test_a_misspelled_shared_option_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="lora_rank"):
        ESM2Tiny(lora_rank=4)


def test_classes_say_their_alphabet_and_finetuning_from_options() -> None:
    assert BertDNATiny.input_alphabet({"unknown": "map"}) is None
    assert set("ACGT") <= set(BertDNATiny.input_alphabet({"unknown": "error"}) or "")
    assert HFBackbone.input_alphabet({"alphabet": "AC"}) == "AC"
    assert HFBackbone.input_alphabet({}) is None  # known only from the loaded vocabulary
    assert BertDNATiny.declared_finetune({}) == "full"
    assert AIDOCellTiny.declared_finetune({"finetune": "lora"}) == "lora"
