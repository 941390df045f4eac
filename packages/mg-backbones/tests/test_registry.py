"""Every backbone is registered under its class name, pointing at its defining module."""

from __future__ import annotations

import subprocess
import sys

from mg.core import registry

EXPECTED = {
    "OneHotDNA": "mg.backbones.onehot",
    "OneHotRNA": "mg.backbones.onehot",
    "OneHotProtein": "mg.backbones.onehot",
    "HFBackbone": "mg.backbones.huggingface",
    "ESM2": "mg.backbones.families",
    "NucleotideTransformer": "mg.backbones.families",
    "BertDNA": "mg.backbones.families",
    "BertRNA": "mg.backbones.families",
    "ESM2Tiny": "mg.backbones.tiny",
    "NucleotideTransformerTiny": "mg.backbones.tiny",
    "BertDNATiny": "mg.backbones.tiny",
    "BertRNATiny": "mg.backbones.tiny",
    "AIDODNA": "mg.backbones.aido.families",
    "AIDORNA": "mg.backbones.aido.families",
    "AIDOProtein": "mg.backbones.aido.families",
    "AIDODNATiny": "mg.backbones.aido.families",
    "AIDORNATiny": "mg.backbones.aido.families",
    "AIDOProteinTiny": "mg.backbones.aido.families",
    "ExpressionBaseline": "mg.backbones.cells.baseline",
    "AIDOCell": "mg.backbones.cells.aido_cell",
    "AIDOCellTiny": "mg.backbones.cells.aido_cell",
    "Geneformer": "mg.backbones.cells.geneformer",
    "GeneformerTiny": "mg.backbones.cells.geneformer",
    "ESMC": "mg.backbones.esmc.families",
    "ESMCTiny": "mg.backbones.esmc.families",
    "Enformer": "mg.backbones.enformer.families",
    "EnformerTiny": "mg.backbones.enformer.families",
    "Borzoi": "mg.backbones.borzoi.families",
    "BorzoiTiny": "mg.backbones.borzoi.families",
    "Flashzoi": "mg.backbones.borzoi.families",
    "FlashzoiTiny": "mg.backbones.borzoi.families",
}


def test_every_backbone_is_registered_at_its_defining_module() -> None:
    found = {
        name: p
        for name, p in registry.plugins("backbones").items()
        if p.distribution == "mg-backbones"
    }
    assert {name: p.module for name, p in found.items()} == EXPECTED
    for name, plugin in found.items():
        cls = plugin.load()
        assert cls.__name__ == name and cls.__module__ == plugin.module
        assert plugin.summary(), f"{name} has no docstring summary readable from its module"


def test_importing_the_package_does_not_load_transformers() -> None:
    code = (
        "import sys, mg.backbones; print('transformers' in sys.modules); "
        "mg.backbones.OneHotDNA; print('transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
