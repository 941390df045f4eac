"""Tokenize a whole batch of character-level sequences with one byte lookup table.

A character-level vocabulary gives every residue letter one id, so a batch can be
tokenized without looking at one character at a time in Python: join the batch's
sequences, read the bytes as a tensor, look every byte up in a 256-entry table, and put the
special tokens in place with index arithmetic. `ByteTable` does that; `SequenceTokenizer`
builds one when it has shown, by tokenizing probe sequences both ways, that the table
gives exactly the ids its Hugging Face tokenizer gives, and falls back to that tokenizer
for anything the table does not cover (text that is not ASCII).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from mg.core.padding import RaggedIds

__all__ = ["ByteTable"]


@dataclass(frozen=True)
class ByteTable:
    """A character-level tokenizer for ASCII text: one id per byte, specials around each row.

    Attributes:
        ids (Tensor): ``(256,)`` long tensor, the id of each byte (the unknown id, or -1
            where no id is defined, for bytes outside the alphabet).
        prefix (tuple[int, ...]): ids put before every row (CLS) with special tokens.
        suffix (tuple[int, ...]): ids put after every row (EOS) with special tokens.
    """

    ids: Tensor
    prefix: tuple[int, ...] = ()
    suffix: tuple[int, ...] = ()

    @classmethod
    def from_mapping(
        cls,
        mapping: dict[int, int],
        *,
        default: int | None,
        prefix: Sequence[int] = (),
        suffix: Sequence[int] = (),
    ) -> ByteTable:
        """Build the table from byte value → id.

        Args:
            mapping (dict[int, int]): byte value (0-255) → token id.
            default (int | None): the id of every other byte (the unknown token); None
                marks them -1, for callers that have checked the text first.
            prefix (Sequence[int]): special ids before every row.
            suffix (Sequence[int]): special ids after every row.
        """
        ids = torch.full((256,), -1 if default is None else default, dtype=torch.long)
        for byte, token in mapping.items():
            ids[byte] = token
        return cls(ids, tuple(prefix), tuple(suffix))

    def encode(
        self,
        sequences: Sequence[str],
        *,
        add_special_tokens: bool = True,
        max_length: int | None = None,
    ) -> RaggedIds:
        """Tokenize a batch of ASCII sequences.

        Args:
            sequences (Sequence[str]): the sequences; every character must be ASCII.
            add_special_tokens (bool): put ``prefix`` and ``suffix`` around every row.
            max_length (int | None): cut each row's residues so the row, special tokens
                included, holds at most this many ids (residues at the end go first);
                None keeps every residue.

        Returns:
            RaggedIds: the rows end to end, and their lengths.

        Raises:
            ValueError: ``max_length`` leaves no room for residues beside the special tokens.
        """
        lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
        text = "".join(sequences).encode("ascii")
        if text:
            # bytearray: torch.frombuffer wants a writable buffer (it shares the memory).
            raw = torch.frombuffer(bytearray(text), dtype=torch.uint8)
            core = self.ids.index_select(0, raw.to(torch.int32))
        else:
            core = torch.empty(0, dtype=torch.long)
        prefix, suffix = (self.prefix, self.suffix) if add_special_tokens else ((), ())
        if max_length is not None:
            limit = max_length - len(prefix) - len(suffix)
            if limit < 1:
                raise ValueError(
                    f"max_length={max_length} leaves no room for residues beside "
                    f"{len(prefix) + len(suffix)} special tokens."
                )
            if len(lengths) and int(lengths.max()) > limit:
                starts = lengths.cumsum(0) - lengths
                position = torch.arange(len(core)) - starts.repeat_interleave(lengths)
                core = core[position < limit]
                lengths = lengths.clamp(max=limit)
        if not prefix and not suffix:
            return RaggedIds(core, lengths)
        # Each row grows by the specials: move its residues right by the specials placed
        # before it, then write the specials into the gaps.
        before, after = len(prefix), len(suffix)
        out_lengths = lengths + before + after
        out_starts = out_lengths.cumsum(0) - out_lengths
        core_starts = lengths.cumsum(0) - lengths
        out = torch.empty(int(out_lengths.sum()), dtype=torch.long)
        shift = (out_starts + before - core_starts).repeat_interleave(lengths)
        out[torch.arange(len(core)) + shift] = core
        for offset, token in enumerate(prefix):
            out[out_starts + offset] = token
        for offset, token in enumerate(suffix):
            out[out_starts + before + lengths + offset] = token
        return RaggedIds(out, out_lengths)
