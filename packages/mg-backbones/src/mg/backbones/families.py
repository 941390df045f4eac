"""Named model families: ESM-2, Nucleotide Transformer, and BERT-style DNA and RNA models.

Each family is a mixin of class-level traits (alphabet, capabilities, tokenizer, the
config of its tiny variant) shared by the named backbone, which loads published or local
weights through ``model_path``, and its tiny variant in `mg.backbones.tiny`.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

from transformers import BertConfig, EsmConfig, PretrainedConfig, PreTrainedTokenizerBase

from mg.backbones.huggingface import HFBackbone
from mg.backbones.tokenization import bert_char_tokenizer, esm_tokenizer, kmer_tokenizer
from mg.core.alphabets import DNA, NUCLEOTIDE_AMBIGUITY, PROTEIN, PROTEIN_AMBIGUITY, RNA
from mg.core.backbone import Capability, Modality

ESM2_CHECKPOINTS: dict[str, str] = {
    "8M": "facebook/esm2_t6_8M_UR50D",
    "35M": "facebook/esm2_t12_35M_UR50D",
    "150M": "facebook/esm2_t30_150M_UR50D",
    "650M": "facebook/esm2_t33_650M_UR50D",
    "3B": "facebook/esm2_t36_3B_UR50D",
    "15B": "facebook/esm2_t48_15B_UR50D",
}
"""Published ESM-2 checkpoints by size; pass one (or its local copy) as ``model_path``."""

NUCLEOTIDE_TRANSFORMER_CHECKPOINTS: dict[str, str] = {
    "v1-500m-human-ref": "InstaDeepAI/nucleotide-transformer-500m-human-ref",
    "v1-500m-1000g": "InstaDeepAI/nucleotide-transformer-500m-1000g",
    "v1-2.5b-1000g": "InstaDeepAI/nucleotide-transformer-2.5b-1000g",
    "v1-2.5b-multi-species": "InstaDeepAI/nucleotide-transformer-2.5b-multi-species",
    "v2-50m-multi-species": "InstaDeepAI/nucleotide-transformer-v2-50m-multi-species",
    "v2-100m-multi-species": "InstaDeepAI/nucleotide-transformer-v2-100m-multi-species",
    "v2-250m-multi-species": "InstaDeepAI/nucleotide-transformer-v2-250m-multi-species",
    "v2-500m-multi-species": "InstaDeepAI/nucleotide-transformer-v2-500m-multi-species",
}
"""Published Nucleotide Transformer checkpoints. v1 loads with transformers' own ESM code;
v2 ships its own modeling code on the Hub, so it needs ``trust_remote_code=True``."""

_MASKED_LM = frozenset({Capability.MASKED_LM_HEAD, Capability.MASK_TOKEN})
_CHARACTER_MASKED_LM = _MASKED_LM | {Capability.PER_RESIDUE_TOKENS}


def _esm_config(
    tokenizer: PreTrainedTokenizerBase,
    *,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    max_length: int,
    rotary: bool,
) -> EsmConfig:
    pad = tokenizer.pad_token_id
    return EsmConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=4 * hidden_size,
        # ESM's learned positions start after the padding index.
        max_position_embeddings=max_length + pad + 1,
        position_embedding_type="rotary" if rotary else "absolute",
        token_dropout=rotary,  # ESM-2 trains with token dropout, Nucleotide Transformer v1 not
        mask_token_id=tokenizer.mask_token_id,
        pad_token_id=pad,
        emb_layer_norm_before=False,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        layer_norm_eps=1e-5,
        tie_word_embeddings=True,
    )


class ESM2Family:
    """Traits of ESM-2: protein, one token per residue, ``<cls> ... <eos>``."""

    modality: ClassVar[Modality] = Modality.PROTEIN
    capabilities: ClassVar[frozenset[Capability]] = _CHARACTER_MASKED_LM
    residues: ClassVar[str | None] = PROTEIN
    extra_residues: ClassVar[str] = PROTEIN_AMBIGUITY
    character_level: ClassVar[bool] = True
    lora_target_modules: ClassVar[tuple[str, ...] | None] = ("query", "value")

    @staticmethod
    def build_tokenizer() -> PreTrainedTokenizerBase:
        """Return the ESM-2 tokenizer (same vocabulary and ids as the published models)."""
        return esm_tokenizer()

    # ESM-2: rotary positions and token dropout.
    tiny_config = staticmethod(functools.partial(_esm_config, rotary=True))


class NucleotideTransformerFamily:
    """Traits of Nucleotide Transformer: DNA in non-overlapping 6-mers, ``<cls>`` first.

    A token stands for up to six nucleotides, so it does not declare one token per residue.
    """

    modality: ClassVar[Modality] = Modality.DNA
    capabilities: ClassVar[frozenset[Capability]] = _MASKED_LM
    residues: ClassVar[str | None] = DNA
    extra_residues: ClassVar[str] = NUCLEOTIDE_AMBIGUITY
    character_level: ClassVar[bool] = False
    lora_target_modules: ClassVar[tuple[str, ...] | None] = ("query", "value")

    @staticmethod
    def build_tokenizer() -> PreTrainedTokenizerBase:
        """Return a 6-mer tokenizer laid out like Nucleotide Transformer's."""
        return kmer_tokenizer(6, DNA, NUCLEOTIDE_AMBIGUITY)

    # Nucleotide Transformer v1: the ESM architecture with learned positions.
    tiny_config = staticmethod(functools.partial(_esm_config, rotary=False))


def sized_config(
    config_class: type[PretrainedConfig],
    tokenizer: PreTrainedTokenizerBase,
    *,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    max_length: int,
    intermediate_factor: int | None = 4,
    vocab_size: int | None = None,
    **extra: Any,
) -> PretrainedConfig:
    """Return a BERT-shaped config of the given size over ``tokenizer``'s vocabulary.

    Args:
        config_class (type[PretrainedConfig]): the architecture's config class.
        tokenizer (PreTrainedTokenizerBase): gives the vocabulary size and padding id.
        hidden_size (int): hidden state size.
        num_layers (int): encoder layers.
        num_heads (int): attention heads.
        max_length (int): positions.
        intermediate_factor (int | None): the MLP's inner size over the hidden size; None
            leaves it to the config class's own rule.
        vocab_size (int | None): embedding rows; None: the tokenizer's size.
        **extra (Any): further config values of the architecture.
    """
    inner = None if intermediate_factor is None else intermediate_factor * hidden_size
    return config_class(
        vocab_size=vocab_size or len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=inner,
        max_position_embeddings=max_length,
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )


class BertDNAFamily:
    """Traits of a character-level BERT for DNA: ``[CLS] residues [SEP]``."""

    modality: ClassVar[Modality] = Modality.DNA
    capabilities: ClassVar[frozenset[Capability]] = _CHARACTER_MASKED_LM
    residues: ClassVar[str | None] = DNA
    extra_residues: ClassVar[str] = NUCLEOTIDE_AMBIGUITY
    character_level: ClassVar[bool] = True
    lora_target_modules: ClassVar[tuple[str, ...] | None] = ("query", "value")

    @staticmethod
    def build_tokenizer() -> PreTrainedTokenizerBase:
        """Return a BERT-style DNA character tokenizer."""
        return bert_char_tokenizer(DNA + NUCLEOTIDE_AMBIGUITY)

    tiny_config = staticmethod(functools.partial(sized_config, BertConfig, type_vocab_size=1))


class BertRNAFamily(BertDNAFamily):
    """Traits of a character-level BERT for RNA: ``[CLS] residues [SEP]``."""

    modality: ClassVar[Modality] = Modality.RNA
    residues: ClassVar[str | None] = RNA

    @staticmethod
    def build_tokenizer() -> PreTrainedTokenizerBase:
        """Return a BERT-style RNA character tokenizer."""
        return bert_char_tokenizer(RNA + NUCLEOTIDE_AMBIGUITY)


class ESM2(ESM2Family, HFBackbone):
    """ESM-2 protein language model (8M to 15B parameters), one token per amino acid.

    ``model_path`` defaults to the 150M model on the Hub; any of `ESM2_CHECKPOINTS`
    (``facebook/esm2_t6_8M_UR50D`` ... ``facebook/esm2_t48_15B_UR50D``) or a local folder
    holding one works. Input may hold the 20 standard amino acids and X, B, U, Z, O.
    Options: see `HFBackbone`.
    """

    default_model_path = ESM2_CHECKPOINTS["150M"]


class NucleotideTransformer(NucleotideTransformerFamily, HFBackbone):
    """Nucleotide Transformer DNA language model (v1 and v2), 6-mer tokens, ESM architecture.

    ``model_path`` defaults to the v1 500M human-reference model; see
    `NUCLEOTIDE_TRANSFORMER_CHECKPOINTS`. v2 checkpoints ship their own modeling code, so
    they load only with ``trust_remote_code=True``. A token holds up to six nucleotides:
    ``max_length`` counts tokens, and per-residue labels do not line up with tokens.
    Options: see `HFBackbone`.
    """

    default_model_path = NUCLEOTIDE_TRANSFORMER_CHECKPOINTS["v1-500m-human-ref"]


class BertDNA(BertDNAFamily, HFBackbone):
    """A character-level BERT-style DNA language model from a folder or Hub id you name.

    Any ``BertForMaskedLM`` checkpoint whose vocabulary holds A, C, G and T as tokens
    works (for example one you pretrained, or `BertDNATiny` saved with
    ``save_pretrained``); there is no default, so ``model_path`` is required. One token per
    nucleotide; input may also hold N. Options: see `HFBackbone`.
    """


class BertRNA(BertRNAFamily, HFBackbone):
    """A character-level BERT-style RNA language model from a folder or Hub id you name.

    Any ``BertForMaskedLM`` checkpoint whose vocabulary holds A, C, G and U as tokens
    works; ``model_path`` is required. One token per nucleotide; input may also hold N.
    Options: see `HFBackbone`.
    """
