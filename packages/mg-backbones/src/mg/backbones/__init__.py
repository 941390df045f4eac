"""mg-backbones: pretrained models and their tokenizers, behind mg's backbone interface.

One-hot baselines, any Hugging Face model (`HFBackbone`), ESM-2, ESM C, Nucleotide Transformer,
AIDO.DNA, AIDO.RNA and AIDO.Protein, Enformer, Borzoi and Flashzoi,
character-level BERT-style DNA and RNA models, and a tiny seeded variant of each family.
Every backbone takes local weights through ``model_path``.

Names are imported on first use: ``import mg.backbones`` is cheap, and transformers loads
only when a backbone is.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING

from mg.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mg.backbones.aido.families import (
        AIDO_DNA_CHECKPOINTS,
        AIDO_PROTEIN_CHECKPOINTS,
        AIDO_RNA_CHECKPOINTS,
        AIDODNA,
        AIDORNA,
        AIDODNATiny,
        AIDOProtein,
        AIDOProteinTiny,
        AIDORNATiny,
    )
    from mg.backbones.base import TokenizerBackbone
    from mg.backbones.borzoi.families import (
        BORZOI_CHECKPOINTS,
        Borzoi,
        BorzoiTiny,
        Flashzoi,
        FlashzoiTiny,
    )
    from mg.backbones.enformer.families import ENFORMER_CHECKPOINTS, Enformer, EnformerTiny
    from mg.backbones.esmc.families import ESMC, ESMC_CHECKPOINTS, ESMCTiny
    from mg.backbones.families import (
        ESM2,
        ESM2_CHECKPOINTS,
        NUCLEOTIDE_TRANSFORMER_CHECKPOINTS,
        BertDNA,
        BertRNA,
        NucleotideTransformer,
    )
    from mg.backbones.finetuning import PEFT_MISSING, FinetuneMode, LoraSettings
    from mg.backbones.huggingface import HFBackbone, TransformersBackbone
    from mg.backbones.loading import BackboneLoadError, ModelPathNotFoundError
    from mg.backbones.onehot import OneHotBackbone, OneHotDNA, OneHotProtein, OneHotRNA
    from mg.backbones.tiny import (
        BertDNATiny,
        BertRNATiny,
        ESM2Tiny,
        NucleotideTransformerTiny,
        TinyBackbone,
    )
    from mg.backbones.tokenization import SequenceTokenizer

_EXPORTS = {
    "mg.backbones.aido.families": [
        "AIDO_DNA_CHECKPOINTS",
        "AIDO_PROTEIN_CHECKPOINTS",
        "AIDO_RNA_CHECKPOINTS",
        "AIDODNA",
        "AIDORNA",
        "AIDODNATiny",
        "AIDOProtein",
        "AIDOProteinTiny",
        "AIDORNATiny",
    ],
    "mg.backbones.base": ["TokenizerBackbone"],
    "mg.backbones.borzoi.families": [
        "BORZOI_CHECKPOINTS",
        "Borzoi",
        "BorzoiTiny",
        "Flashzoi",
        "FlashzoiTiny",
    ],
    "mg.backbones.esmc.families": ["ESMC", "ESMC_CHECKPOINTS", "ESMCTiny"],
    "mg.backbones.enformer.families": ["ENFORMER_CHECKPOINTS", "Enformer", "EnformerTiny"],
    "mg.backbones.families": [
        "ESM2",
        "ESM2_CHECKPOINTS",
        "NUCLEOTIDE_TRANSFORMER_CHECKPOINTS",
        "BertDNA",
        "BertRNA",
        "NucleotideTransformer",
    ],
    "mg.backbones.finetuning": ["PEFT_MISSING", "FinetuneMode", "LoraSettings"],
    "mg.backbones.huggingface": ["HFBackbone", "TransformersBackbone"],
    "mg.backbones.loading": ["BackboneLoadError", "ModelPathNotFoundError"],
    "mg.backbones.onehot": ["OneHotBackbone", "OneHotDNA", "OneHotProtein", "OneHotRNA"],
    "mg.backbones.tiny": [
        "BertDNATiny",
        "BertRNATiny",
        "ESM2Tiny",
        "NucleotideTransformerTiny",
        "TinyBackbone",
    ],
    "mg.backbones.tokenization": ["SequenceTokenizer"],
}
__version__ = version("mg-backbones")
__all__ = [
    "AIDODNA",
    "AIDORNA",
    "AIDO_DNA_CHECKPOINTS",
    "AIDO_PROTEIN_CHECKPOINTS",
    "AIDO_RNA_CHECKPOINTS",
    "BORZOI_CHECKPOINTS",
    "ENFORMER_CHECKPOINTS",
    "ESM2",
    "ESM2_CHECKPOINTS",
    "ESMC",
    "ESMC_CHECKPOINTS",
    "NUCLEOTIDE_TRANSFORMER_CHECKPOINTS",
    "PEFT_MISSING",
    "AIDODNATiny",
    "AIDOProtein",
    "AIDOProteinTiny",
    "AIDORNATiny",
    "BackboneLoadError",
    "BertDNA",
    "BertDNATiny",
    "BertRNA",
    "BertRNATiny",
    "Borzoi",
    "BorzoiTiny",
    "ESM2Tiny",
    "ESMCTiny",
    "Enformer",
    "EnformerTiny",
    "FinetuneMode",
    "Flashzoi",
    "FlashzoiTiny",
    "HFBackbone",
    "LoraSettings",
    "ModelPathNotFoundError",
    "NucleotideTransformer",
    "NucleotideTransformerTiny",
    "OneHotBackbone",
    "OneHotDNA",
    "OneHotProtein",
    "OneHotRNA",
    "SequenceTokenizer",
    "TinyBackbone",
    "TokenizerBackbone",
    "TransformersBackbone",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
