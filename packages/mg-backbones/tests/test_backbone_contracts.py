"""Every backbone passes mg-core's backbone contract.

Named families are loaded from a folder a tiny model was saved to: the same model_path
code a user's real weights go through.
"""

from __future__ import annotations

import pytest
from backbone_toys import TinyFolders

from mg.backbones import (
    AIDODNA,
    AIDORNA,
    ESM2,
    ESMC,
    AIDODNATiny,
    AIDOProtein,
    AIDOProteinTiny,
    AIDORNATiny,
    BertDNA,
    BertDNATiny,
    BertRNA,
    BertRNATiny,
    Enformer,
    EnformerTiny,
    ESM2Tiny,
    ESMCTiny,
    HFBackbone,
    NucleotideTransformer,
    NucleotideTransformerTiny,
    OneHotDNA,
    OneHotProtein,
    OneHotRNA,
)
from mg.core.backbone import BackboneInterface
from mg.core.testing.contracts import BackboneContract


class TestOneHotDNA(BackboneContract):
    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        return OneHotDNA(use_lm_head, None, max_length=40)


class TestOneHotRNA(BackboneContract):
    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        return OneHotRNA(use_lm_head, None, max_length=40)


class TestOneHotProtein(BackboneContract):
    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        return OneHotProtein(use_lm_head, None, max_length=40)


class TestESM2Tiny(BackboneContract):
    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        return ESM2Tiny(use_lm_head, None, max_length=48)


class TestNucleotideTransformerTiny(BackboneContract):
    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        return NucleotideTransformerTiny(use_lm_head, None, max_length=48)


class TestBertDNATiny(BackboneContract):
    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        return BertDNATiny(use_lm_head, None, max_length=48)


class TestBertRNATiny(BackboneContract):
    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        return BertRNATiny(use_lm_head, None, max_length=48)


class TestAIDODNATiny(BackboneContract):
    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        return AIDODNATiny(use_lm_head, None, max_length=48)


class TestAIDORNATiny(BackboneContract):
    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        return AIDORNATiny(use_lm_head, None, max_length=48)


class TestAIDOProteinTiny(BackboneContract):
    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        return AIDOProteinTiny(use_lm_head, None, max_length=48)


class TestESMCTiny(BackboneContract):
    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        return ESMCTiny(use_lm_head, None, max_length=48)


class TestEnformerTiny(BackboneContract):
    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        return EnformerTiny(use_lm_head, None, max_length=48)


class FromFolder(BackboneContract):
    """Load ``family`` from the folder ``tiny`` was saved to."""

    family: type[BackboneInterface]
    tiny: type

    @pytest.fixture(autouse=True)
    def _folder(self, tiny_folders: TinyFolders) -> None:
        self.folder = str(tiny_folders(self.tiny))

    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        return self.family(use_lm_head, None, model_path=self.folder, max_length=48)


class TestESM2(FromFolder):
    family, tiny = ESM2, ESM2Tiny


class TestNucleotideTransformer(FromFolder):
    family, tiny = NucleotideTransformer, NucleotideTransformerTiny


class TestBertDNA(FromFolder):
    family, tiny = BertDNA, BertDNATiny


class TestBertRNA(FromFolder):
    family, tiny = BertRNA, BertRNATiny


class TestAIDODNA(FromFolder):
    family, tiny = AIDODNA, AIDODNATiny


class TestAIDORNA(FromFolder):
    family, tiny = AIDORNA, AIDORNATiny


class TestAIDOProtein(FromFolder):
    family, tiny = AIDOProtein, AIDOProteinTiny


class TestESMC(FromFolder):
    family, tiny = ESMC, ESMCTiny


class TestEnformer(FromFolder):
    family, tiny = Enformer, EnformerTiny


class TestHFBackboneOnESM2(FromFolder):
    family, tiny = HFBackbone, ESM2Tiny


class TestHFBackboneOnNucleotideTransformer(FromFolder):
    family, tiny = HFBackbone, NucleotideTransformerTiny


class TestHFBackboneOnBertDNA(FromFolder):
    family, tiny = HFBackbone, BertDNATiny

    def make_backbone(self, use_lm_head: bool = False) -> BackboneInterface:
        # A character-level BERT vocabulary needs one word per character.
        return HFBackbone(
            use_lm_head, None, model_path=self.folder, max_length=48, split_characters=True
        )
