"""One-hot backbones for DNA, RNA and protein: no weights, a real baseline.

Each token's hidden state is the one-hot vector of its vocabulary id, so an adapter on
top sees exactly the sequence and nothing learned. They are the cheapest backbones and
fit every task that needs no masked-LM head.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from mg.backbones.base import TokenizerBackbone
from mg.backbones.tokenization import SequenceTokenizer, onehot_tokenizer
from mg.core.alphabets import DNA, NUCLEOTIDE_AMBIGUITY, PROTEIN, PROTEIN_AMBIGUITY, RNA
from mg.core.backbone import BackboneOutput, Capability, Modality


class OneHotBackbone(TokenizerBackbone):
    """Base of the one-hot backbones; subclasses set the alphabet.

    There are no special tokens but padding and unknown; the embedding size is the
    vocabulary size. ``use_lm_head`` and ``default_config`` are accepted (tasks fill them)
    and have no effect: there is no head and no config.
    """

    capabilities = frozenset({Capability.PER_RESIDUE_TOKENS})

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        max_length: int = 1024,
        unknown: Literal["error", "map"] = "error",
        truncation: Literal["cut", "error"] = "cut",
    ) -> None:
        """Build the one-hot tokenizer of the class's alphabet.

        Args:
            use_lm_head (bool): reserved; ignored (no masked-LM head).
            default_config (dict[str, Any] | None): reserved; ignored (no model config).
            max_length (int): residues per sequence; longer input is cut (or refused).
            unknown (Literal["error", "map"]): a character outside the alphabet raises, or is
                read as the unknown token.
            truncation (Literal["cut", "error"]): longer sequences are cut, or raise.
        """
        super().__init__(use_lm_head, default_config)
        self.sequence_tokenizer = SequenceTokenizer(
            onehot_tokenizer((self.residues or "") + self.extra_residues),
            residues=self.residues or "",
            extra_residues=self.extra_residues,
            max_length=max_length,
            unknown=unknown,
            truncation=truncation,
            name=type(self).__name__,
        )
        self.vocab_size = len(self.sequence_tokenizer)

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, all_hidden_states: bool = False
    ) -> BackboneOutput:
        """One-hot encode a padded batch; padded positions are all zeros."""
        mask = attention_mask.bool()
        hidden = torch.nn.functional.one_hot(input_ids, self.vocab_size).float()
        hidden = hidden * mask.unsqueeze(-1)
        return BackboneOutput(
            last_hidden_state=hidden,
            attention_mask=mask,
            special_tokens_mask=self.special_tokens_mask(input_ids, mask),
            hidden_states=(hidden,) if all_hidden_states else None,
        )

    def get_embedding_size(self) -> int:
        """Return the vocabulary size (the length of each one-hot vector)."""
        return self.vocab_size

    def get_num_layer(self) -> int:
        """Return 0: there are no layers; ``hidden_states`` holds the one-hot input alone."""
        return 0


class OneHotDNA(OneHotBackbone):
    """One-hot DNA (A, C, G, T; N accepted in input), no weights."""

    modality = Modality.DNA
    residues = DNA
    extra_residues = NUCLEOTIDE_AMBIGUITY


class OneHotRNA(OneHotBackbone):
    """One-hot RNA (A, C, G, U; N accepted in input), no weights."""

    modality = Modality.RNA
    residues = RNA
    extra_residues = NUCLEOTIDE_AMBIGUITY


class OneHotProtein(OneHotBackbone):
    """One-hot protein (20 amino acids; X, B, U, Z, O accepted in input), no weights."""

    modality = Modality.PROTEIN
    residues = PROTEIN
    extra_residues = PROTEIN_AMBIGUITY
