"""mg-backbones: pretrained models and their tokenizers, behind mg's backbone interface.

One-hot baselines, any Hugging Face model (`HFBackbone`), ESM-2, Nucleotide Transformer,
character-level BERT-style DNA and RNA models, and a tiny seeded variant of each family.
Every backbone takes local weights through ``model_path``.

Names are imported on first use: ``import mg.backbones`` is cheap, and transformers loads
only when a backbone is.
"""

from __future__ import annotations

import importlib
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mg.backbones.base import TokenizerBackbone
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
    "mg.backbones.base": ["TokenizerBackbone"],
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
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__version__ = version("mg-backbones")
__all__ = [
    "ESM2",
    "ESM2_CHECKPOINTS",
    "NUCLEOTIDE_TRANSFORMER_CHECKPOINTS",
    "PEFT_MISSING",
    "BackboneLoadError",
    "BertDNA",
    "BertDNATiny",
    "BertRNA",
    "BertRNATiny",
    "ESM2Tiny",
    "FinetuneMode",
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


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'mg.backbones' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
