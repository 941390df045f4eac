"""`TokenizerBackbone`: the tokenizer plumbing every mg-backbones backbone shares.

A backbone built on a Hugging Face tokenizer sets ``self.sequence_tokenizer`` (a
`SequenceTokenizer`) and gets tokenizing, decoding, the token lookups and the alphabet
check from here; it still writes `forward`, `get_embedding_size` and `get_num_layer`, and
declares its ``modality`` and alphabet (``residues``, ``extra_residues``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor

from mg.backbones.tokenization import SequenceTokenizer
from mg.core.alphabets import Invalid
from mg.core.backbone import BackboneInterface
from mg.core.padding import RaggedIds


class TokenizerBackbone(BackboneInterface):
    """A backbone whose tokens come from a `SequenceTokenizer` in ``self.sequence_tokenizer``."""

    sequence_tokenizer: SequenceTokenizer

    @classmethod
    def input_alphabet(cls, options: Mapping[str, Any]) -> str | None:
        """Return None with ``unknown="map"`` (any character is read), else the class's."""
        if options.get("unknown") == "map":
            return None
        return super().input_alphabet(options)

    @property
    def max_length(self) -> int:
        """Tokens per sequence, special tokens included; longer input is cut (or refused)."""
        return self.sequence_tokenizer.max_length

    def refuses_long_input(self) -> bool:
        """Whether a sequence over ``max_length`` is refused rather than cut."""
        return self.sequence_tokenizer.truncation == "error"

    def tokenize(
        self, sequences: Sequence[str], *, add_special_tokens: bool = True
    ) -> list[list[int]]:
        """Check, tokenize and truncate to ``max_length``; no padding.

        Raises:
            ValueError: a character outside the alphabet (the message names the sequence
                index, the position and the character), unless ``unknown="map"``; or a
                sequence over ``max_length`` with ``truncation="error"``.
        """
        return self.sequence_tokenizer(sequences, add_special_tokens)

    def tokenize_ragged(
        self, sequences: Sequence[str], *, add_special_tokens: bool = True
    ) -> RaggedIds:
        """Tokenize like `tokenize`, the rows end to end; a whole batch at once where it can.

        Raises:
            ValueError: as `tokenize`.
        """
        return self.sequence_tokenizer.encode_ragged(sequences, add_special_tokens)

    def accepted_characters(self) -> str:
        """Return the characters input may hold: the alphabet and the accepted extras."""
        return self.sequence_tokenizer.accepted

    def find_invalid(self, sequences: Sequence[str]) -> Invalid | None:
        """Find the first character outside the alphabet (case-insensitive), vectorised.

        Returns:
            Invalid | None: ``(sequence index, position, character)``, or None.
        """
        return self.sequence_tokenizer.find_invalid(sequences)

    def structural_token_ids(self) -> list[int]:
        """Return the ids of the tokenizer's special tokens but mask and unknown."""
        return self.sequence_tokenizer.structural_ids

    def decode_tokens(self, input_ids: Tensor, *, skip_special_tokens: bool = True) -> list[str]:
        """Turn ids back into sequences."""
        return self.sequence_tokenizer.decode(input_ids, skip_special_tokens)

    def get_vocab(self) -> dict[str, int]:
        """Return the tokenizer's vocabulary."""
        return self.sequence_tokenizer.tokenizer.get_vocab()

    def get_special_token_id(self, role: str) -> int | None:
        """Return the id of a special token by role; None where the tokenizer has none."""
        return self.sequence_tokenizer.special_token_id(role)

    def get_alphabet_token_ids(self) -> list[int]:
        """Return the ids of tokens made of residues alone."""
        return self.sequence_tokenizer.alphabet_token_ids()

    def get_vocab_size(self) -> int:
        """Return the number of tokens of the tokenizer."""
        return len(self.sequence_tokenizer)
