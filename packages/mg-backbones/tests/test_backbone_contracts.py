"""Every backbone passes mg-core's backbone contract.

Named families are loaded from a folder a tiny model was saved to: the same model_path
code a user's real weights go through.
"""

from __future__ import annotations

import pytest
from backbone_toys import TinyFolders

import mg.backbones as bb
from mg.core.backbone import BackboneInterface
from mg.core.testing.contracts import BackboneContract

BUILT = {
    bb.OneHotDNA: 40,
    bb.OneHotRNA: 40,
    bb.OneHotProtein: 40,
    bb.ESM2Tiny: 48,
    bb.NucleotideTransformerTiny: 48,
    bb.BertDNATiny: 48,
    bb.BertRNATiny: 48,
    bb.AIDODNATiny: 48,
    bb.AIDORNATiny: 48,
    bb.AIDOProteinTiny: 48,
    bb.ESMCTiny: 48,
    bb.EnformerTiny: 48,
    bb.BorzoiTiny: 48,
    bb.FlashzoiTiny: 48,
}
"""Backbones built from options alone, with their ``max_length``."""

FROM_FOLDER = [
    (bb.ESM2, bb.ESM2Tiny),
    (bb.NucleotideTransformer, bb.NucleotideTransformerTiny),
    (bb.BertDNA, bb.BertDNATiny),
    (bb.BertRNA, bb.BertRNATiny),
    (bb.AIDODNA, bb.AIDODNATiny),
    (bb.AIDORNA, bb.AIDORNATiny),
    (bb.AIDOProtein, bb.AIDOProteinTiny),
    (bb.ESMC, bb.ESMCTiny),
    (bb.Enformer, bb.EnformerTiny),
    (bb.Borzoi, bb.BorzoiTiny),
    (bb.Flashzoi, bb.FlashzoiTiny),
    (bb.HFBackbone, bb.ESM2Tiny),
    (bb.HFBackbone, bb.NucleotideTransformerTiny),
    (bb.HFBackbone, bb.BertDNATiny),
]
"""(family, tiny variant): the family loads the folder the tiny variant was saved to."""


def _name(case: object) -> str:
    if isinstance(case, tuple):
        return f"{case[0].__name__}-on-{case[1].__name__}"
    return getattr(case, "__name__", str(case))


class TestBuilt(BackboneContract):
    @pytest.fixture(autouse=True, params=list(BUILT), ids=_name)
    def _backbone_class(self, request: pytest.FixtureRequest) -> None:
        self.backbone_class = request.param

    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        cls = self.backbone_class
        return cls(use_lm_head, None, max_length=BUILT[cls])


class TestFromFolder(BackboneContract):
    """Load each family from the folder its tiny variant was saved to."""

    @pytest.fixture(autouse=True, params=FROM_FOLDER, ids=_name)
    def _folder(self, request: pytest.FixtureRequest, tiny_folders: TinyFolders) -> None:
        self.family, tiny = request.param
        self.folder = str(tiny_folders(tiny))
        # A character-level BERT vocabulary needs one word per character.
        generic_bert = self.family is bb.HFBackbone and tiny is bb.BertDNATiny
        self.options = {"split_characters": True} if generic_bert else {}

    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        return self.family(use_lm_head, None, model_path=self.folder, max_length=48, **self.options)
