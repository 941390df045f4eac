"""AIDO.DNA, AIDO.RNA and AIDO.Protein as named mg families, with tiny variants for tests.

The architectures are mg's own (`mg.backbones.aido.modeling`), so the published
checkpoints load with no ``trust_remote_code``. The tokenizers are built in, with the ids
of ModelGenerator's vocabularies: the published checkpoints ship no tokenizer files.
"""

from __future__ import annotations

from typing import Any, ClassVar

from transformers import PretrainedConfig, PreTrainedTokenizerBase

from mg.backbones.aido.modeling import (
    AIDOBertConfig,
    AIDOFMConfig,
    AIDOFMForMaskedLM,
    AIDOFMModel,
    AIDOForMaskedLM,
    AIDOModel,
)
from mg.backbones.families import sized_config
from mg.backbones.huggingface import HFBackbone
from mg.backbones.loading import HubOptions, ModelClasses
from mg.backbones.tiny import TinyBackbone
from mg.backbones.tokenization import _fast_tokenizer, bert_style_tokenizer
from mg.core.alphabets import DNA, NUCLEOTIDE_AMBIGUITY, PROTEIN, PROTEIN_AMBIGUITY, RNA
from mg.core.backbone import Capability, Modality

AIDO_DNA_CHECKPOINTS: dict[str, str] = {
    "300M": "genbio-ai/AIDO.DNA-300M",
    "7B": "genbio-ai/AIDO.DNA-7B",
    "dummy": "genbio-ai/AIDO.DNA-dummy",
}
"""Published AIDO.DNA checkpoints by size; pass one (or its local copy) as ``model_path``."""

AIDO_RNA_CHECKPOINTS: dict[str, str] = {
    "1M-MARS": "genbio-ai/AIDO.RNA-1M-MARS",
    "25M-MARS": "genbio-ai/AIDO.RNA-25M-MARS",
    "300M-MARS": "genbio-ai/AIDO.RNA-300M-MARS",
    "650M": "genbio-ai/AIDO.RNA-650M",
    "650M-CDS": "genbio-ai/AIDO.RNA-650M-CDS",
    "1.6B": "genbio-ai/AIDO.RNA-1.6B",
    "1.6B-CDS": "genbio-ai/AIDO.RNA-1.6B-CDS",
}
"""Published AIDO.RNA checkpoints: MARS (small, multiple-alignment pretrained), general
RNA (650M, 1.6B) and CDS (adapted to coding sequences)."""

AIDO_PROTEIN_CHECKPOINTS: dict[str, str] = {
    "16B": "genbio-ai/AIDO.Protein-16B",
    "16B-v1": "genbio-ai/AIDO.Protein-16B-v1",
    "RAG-3B": "genbio-ai/AIDO.Protein-RAG-3B",
    "RAG-16B": "genbio-ai/AIDO.Protein-RAG-16B",
    "2StructureToken-16B": "genbio-ai/AIDO.Protein2StructureToken-16B",
}
"""Published AIDO.Protein checkpoints (a mixture of experts). The RAG and structure-token
ones are listed as ModelGenerator lists them; a config mg cannot honour (2-D rotary
positions for MSA input) fails at load with a message saying so."""

NUCLEOTIDE_VOCAB: tuple[str, ...] = (
    "[PAD]", "[MASK]", "[CLS]", "[SEP]", "[UNK]", "A", "G", "C", "T", "U", "N",
    "[BOS]", "[EOS]", "[UNUSED1]", "[UNUSED2]", "[UNUSED3]",
)  # fmt: skip
"""AIDO.DNA/RNA token ids (ModelGenerator's ``rnabert/vocab.txt``)."""

PROTEIN_VOCAB: tuple[str, ...] = (
    "[PAD]", *"LAGVSERTIDPKQNFYMHWCXBUZO", ".", "-", "[MASK]", "[gMASK]", "[sMASK]",
    "[eod]", "[sop]", "[eop]", "[SEP]", "[HC]", "[LC]", "[HUMAN]",
    "<cdr1>", "</cdr1>", "<cdr2>", "</cdr2>", "<cdr3>", "</cdr3>",
)  # fmt: skip
"""AIDO.Protein token ids (ModelGenerator's ``fm4bio/vocab_protein.txt``)."""

_MASKED_LM = frozenset(
    {Capability.MASKED_LM_HEAD, Capability.MASK_TOKEN, Capability.PER_RESIDUE_TOKENS}
)


def aido_nucleotide_tokenizer() -> PreTrainedTokenizerBase:
    """Return the AIDO.DNA/RNA tokenizer: ``[CLS] nucleotides [SEP]``, one token each."""
    return bert_style_tokenizer(NUCLEOTIDE_VOCAB)


def aido_protein_tokenizer() -> PreTrainedTokenizerBase:
    """Return the AIDO.Protein tokenizer: ``residues [SEP]``, one token each, no ``[CLS]``."""
    special = {
        "pad_token": "[PAD]",
        "unk_token": "-",
        "sep_token": "[SEP]",
        "mask_token": "[MASK]",
    }
    return _fast_tokenizer(PROTEIN_VOCAB, split=".", special=special, suffix=["[SEP]"])


class AIDONucleotideFamily:
    """Traits shared by AIDO.DNA and AIDO.RNA (ModelGenerator's ``rnabert`` architecture)."""

    capabilities: ClassVar[frozenset[Capability]] = _MASKED_LM
    character_level: ClassVar[bool] = True
    lora_target_modules: ClassVar[tuple[str, ...] | None] = ("query", "value")
    model_classes: ClassVar[ModelClasses | None] = ModelClasses(AIDOModel, AIDOForMaskedLM)

    @staticmethod
    def build_tokenizer() -> PreTrainedTokenizerBase:
        """Return the AIDO nucleotide tokenizer."""
        return aido_nucleotide_tokenizer()

    @staticmethod
    def tiny_config(tokenizer: PreTrainedTokenizerBase, **sizes: Any) -> PretrainedConfig:
        """Return an AIDO.DNA/RNA config of the given size."""
        return sized_config(AIDOBertConfig, tokenizer, intermediate_factor=2, **sizes)


class AIDODNAFamily(AIDONucleotideFamily):
    """Traits of AIDO.DNA: ``[CLS] nucleotides [SEP]``."""

    modality: ClassVar[Modality] = Modality.DNA
    residues: ClassVar[str | None] = DNA
    extra_residues: ClassVar[str] = NUCLEOTIDE_AMBIGUITY


class AIDORNAFamily(AIDONucleotideFamily):
    """Traits of AIDO.RNA: ``[CLS] nucleotides [SEP]``; T is read as its own token too."""

    modality: ClassVar[Modality] = Modality.RNA
    residues: ClassVar[str | None] = RNA
    extra_residues: ClassVar[str] = NUCLEOTIDE_AMBIGUITY + "T"


class AIDOProteinFamily:
    """Traits of AIDO.Protein (ModelGenerator's ``fm4bio``): ``residues [SEP]``."""

    modality: ClassVar[Modality] = Modality.PROTEIN
    capabilities: ClassVar[frozenset[Capability]] = _MASKED_LM
    residues: ClassVar[str | None] = PROTEIN
    extra_residues: ClassVar[str] = PROTEIN_AMBIGUITY
    character_level: ClassVar[bool] = True
    lora_target_modules: ClassVar[tuple[str, ...] | None] = ("query", "value")
    model_classes: ClassVar[ModelClasses | None] = ModelClasses(AIDOFMModel, AIDOFMForMaskedLM)

    @staticmethod
    def build_tokenizer() -> PreTrainedTokenizerBase:
        """Return the AIDO.Protein tokenizer."""
        return aido_protein_tokenizer()

    @staticmethod
    def tiny_config(tokenizer: PreTrainedTokenizerBase, **sizes: Any) -> PretrainedConfig:
        """Return a dense AIDO.Protein config of the given size."""
        return sized_config(AIDOFMConfig, tokenizer, intermediate_factor=2, **sizes)


class _BuiltInTokenizer(HFBackbone):
    """An `HFBackbone` whose tokenizer is built in rather than read from the checkpoint."""

    build_tokenizer: ClassVar[Any]

    def load_tokenizer(
        self, source: str, is_local: bool, options: HubOptions
    ) -> PreTrainedTokenizerBase:
        """Return the family's built-in tokenizer (the checkpoints ship none)."""
        return self.build_tokenizer()


class AIDODNA(AIDODNAFamily, _BuiltInTokenizer):
    """AIDO.DNA (300M, 7B): GenBio's DNA language model, one token per nucleotide.

    ``model_path`` defaults to ``genbio-ai/AIDO.DNA-300M``; see `AIDO_DNA_CHECKPOINTS`, or
    give a local folder holding one (``config.json`` and the weights). mg's own code runs
    it: no ``trust_remote_code``. Input may hold N. Options: see `HFBackbone`.
    """

    default_model_path = AIDO_DNA_CHECKPOINTS["300M"]


class AIDORNA(AIDORNAFamily, _BuiltInTokenizer):
    """AIDO.RNA (1M to 1.6B; MARS and CDS variants): GenBio's RNA language model.

    ``model_path`` defaults to ``genbio-ai/AIDO.RNA-1.6B``; see `AIDO_RNA_CHECKPOINTS`.
    One token per nucleotide; input may hold N and T. Options: see `HFBackbone`.
    """

    default_model_path = AIDO_RNA_CHECKPOINTS["1.6B"]


class AIDOProtein(AIDOProteinFamily, _BuiltInTokenizer):
    """AIDO.Protein (16B mixture of experts): GenBio's protein language model.

    ``model_path`` defaults to ``genbio-ai/AIDO.Protein-16B``; see
    `AIDO_PROTEIN_CHECKPOINTS`. One token per residue; input may hold X, B, U, Z, O.
    Options: see `HFBackbone`.
    """

    default_model_path = AIDO_PROTEIN_CHECKPOINTS["16B"]


class AIDODNATiny(AIDODNAFamily, TinyBackbone):
    """A tiny AIDO.DNA (seeded random init, real tokenizer and architecture); for tests."""


class AIDORNATiny(AIDORNAFamily, TinyBackbone):
    """A tiny AIDO.RNA (seeded random init, real tokenizer and architecture); for tests."""


class AIDOProteinTiny(AIDOProteinFamily, TinyBackbone):
    """A tiny dense AIDO.Protein (seeded random init, real tokenizer and architecture)."""
