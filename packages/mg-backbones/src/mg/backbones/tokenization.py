"""Tokenizers for DNA, RNA and protein, and the layer that checks sequences before them.

Two jobs live here:

- Builders that make Hugging Face fast tokenizers offline, from an alphabet alone: a
  character tokenizer with the ESM-2 vocabulary, BERT-style character tokenizers for DNA
  and RNA, a k-mer tokenizer like Nucleotide Transformer's, and the bare one the one-hot
  backbones use. They save and load with ``save_pretrained`` / ``AutoTokenizer`` like any
  tokenizer on the Hub.
- `SequenceTokenizer`, which wraps any Hugging Face tokenizer (built here or loaded from
  a model folder) and gives every backbone the same behaviour: characters outside the
  alphabet are an error naming the sequence and character (or map to the unknown token),
  one ``max_length`` decides truncation. It returns unpadded ids: padding is
  `mg.core.padding`'s job. When the vocabulary is character level for every accepted
  residue (ESM-2, the BERT-style and one-hot tokenizers) it tokenizes whole batches with a
  byte lookup table (`mg.backbones.byte_table`) instead, with identical ids.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
from torch import Tensor
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from mg.backbones.byte_table import ByteTable
from mg.core.alphabets import (
    DNA,
    NUCLEOTIDE_AMBIGUITY,
    PROTEIN,
    PROTEIN_AMBIGUITY,
    RNA,
    AlphabetCheck,
    Invalid,
)
from mg.core.backbone import ROLES
from mg.core.padding import RaggedIds

__all__ = [
    "DNA",
    "ESM_VOCAB",
    "NUCLEOTIDE_AMBIGUITY",
    "PROTEIN",
    "PROTEIN_AMBIGUITY",
    "RNA",
    "SequenceTokenizer",
    "Truncation",
    "Unknown",
    "bert_char_tokenizer",
    "esm_tokenizer",
    "kmer_tokenizer",
    "onehot_tokenizer",
    "vocabulary_letters",
]

Unknown = Literal["error", "map"]
"""What to do with a character outside the alphabet: raise, or read it as the unknown token."""

Truncation = Literal["cut", "error"]
"""What to do with a sequence longer than ``max_length``: cut it, or raise."""

ESM_VOCAB: tuple[str, ...] = (
    "<cls>", "<pad>", "<eos>", "<unk>",
    "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q", "N", "F", "Y", "M", "H",
    "W", "C", "X", "B", "U", "Z", "O", ".", "-", "<null_1>", "<mask>",
)  # fmt: skip
"""The ESM-2 vocabulary, in the order of the published checkpoints (so ids match them)."""


def vocabulary_letters(tokenizer: PreTrainedTokenizerBase) -> str:
    """Return the vocabulary's single ASCII letters that are not special tokens.

    The alphabet of a model whose family is not known. Only ASCII letters count:
    a real BERT vocabulary also holds letters such as ``'ß'`` or ligatures such as
    ``'ﬁ'`` that no biological sequence uses (and whose upper case is two letters).

    Raises:
        ValueError: the vocabulary has no such letter; the message says to set the alphabet.
    """
    special = set(tokenizer.all_special_tokens)
    letters = sorted(
        token
        for token in tokenizer.get_vocab()
        if len(token) == 1 and token.isascii() and token.isalpha() and token not in special
    )
    if not letters:
        raise ValueError(
            "The tokenizer has no single-letter ASCII tokens to take as the alphabet: set "
            "alphabet to the residue letters."
        )
    return "".join(letters)


def _fast_tokenizer(
    vocab: Sequence[str],
    *,
    split: str,
    special: dict[str, str],
    prefix: Sequence[str] = (),
    suffix: Sequence[str] = (),
) -> PreTrainedTokenizerFast:
    """Build a word-level fast tokenizer.

    Args:
        vocab (Sequence[str]): every token, in id order.
        split (str): a regular expression; each match is one token.
        special (dict[str, str]): Hugging Face role (``"pad_token"``, ...) → token.
        prefix (Sequence[str]): special tokens put before every sequence.
        suffix (Sequence[str]): special tokens put after every sequence.

    Returns:
        PreTrainedTokenizerFast: the tokenizer, ready for ``save_pretrained``.
    """
    ids = {token: index for index, token in enumerate(vocab)}
    if len(ids) != len(vocab):
        raise ValueError("The vocabulary holds a token twice.")
    backend = Tokenizer(models.WordLevel(ids, unk_token=special["unk_token"]))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(split), behavior="isolated")
    if prefix or suffix:
        backend.post_processor = processors.TemplateProcessing(
            single=" ".join([*prefix, "$A", *suffix]),
            special_tokens=[(token, ids[token]) for token in dict.fromkeys([*prefix, *suffix])],
        )
    return PreTrainedTokenizerFast(tokenizer_object=backend, **special)


def esm_style_tokenizer(vocabulary: Sequence[str]) -> PreTrainedTokenizerFast:
    """Return a character tokenizer with ESM's special tokens over ``vocabulary``'s ids.

    Each sequence becomes ``<cls> residues <eos>``, one token per residue.

    Args:
        vocabulary (Sequence[str]): the tokens in id order; it holds ``<cls>``, ``<pad>``,
            ``<eos>``, ``<unk>`` and ``<mask>``.
    """
    special = {
        "cls_token": "<cls>",
        "pad_token": "<pad>",
        "eos_token": "<eos>",
        "unk_token": "<unk>",
        "mask_token": "<mask>",
    }
    return _fast_tokenizer(
        vocabulary, split=".", special=special, prefix=["<cls>"], suffix=["<eos>"]
    )


def esm_tokenizer() -> PreTrainedTokenizerFast:
    """Return a protein character tokenizer with the ESM-2 vocabulary and ids."""
    return esm_style_tokenizer(ESM_VOCAB)


BERT_SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
"""The special tokens of `bert_char_tokenizer`, in id order before the residues."""


def bert_style_tokenizer(vocab: Sequence[str]) -> PreTrainedTokenizerFast:
    """Return a character tokenizer over ``vocab`` that frames sequences as ``[CLS] ... [SEP]``.

    Args:
        vocab (Sequence[str]): every token, in id order; it holds BERT's five special
            tokens (``[PAD] [UNK] [CLS] [SEP] [MASK]``) wherever the checkpoint has them.
    """
    special = {
        "pad_token": "[PAD]",
        "unk_token": "[UNK]",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "mask_token": "[MASK]",
    }
    return _fast_tokenizer(vocab, split=".", special=special, prefix=["[CLS]"], suffix=["[SEP]"])


def bert_char_tokenizer(residues: str) -> PreTrainedTokenizerFast:
    """Return a BERT-style character tokenizer: ``[CLS] residues [SEP]``.

    Args:
        residues (str): the characters of the alphabet, one token each, in id order after
            the five special tokens.
    """
    return bert_style_tokenizer([*BERT_SPECIAL_TOKENS, *residues])


def kmer_tokenizer(
    k: int = 6, residues: str = DNA, extra: str = NUCLEOTIDE_AMBIGUITY
) -> PreTrainedTokenizerFast:
    """Return a non-overlapping k-mer tokenizer laid out like Nucleotide Transformer's.

    A sequence is read left to right in k-mers; whatever cannot form a whole k-mer of
    ``residues`` (the tail, or a stretch around an ``N``) becomes single-character tokens.
    Each sequence starts with ``<cls>`` and has no end token.

    Args:
        k (int): the k-mer length.
        residues (str): characters k-mers are made of.
        extra (str): further single-character tokens (ambiguity codes).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}.")
    specials = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"]
    kmers = ["".join(chars) for chars in itertools.product(residues, repeat=k)]
    singles = [c for c in residues + extra if c not in kmers]
    special = {
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
        "cls_token": "<cls>",
        "eos_token": "<eos>",
        "bos_token": "<bos>",
    }
    return _fast_tokenizer(
        [*specials, *kmers, *singles],
        split=f"[{residues}]{{{k}}}|.",
        special=special,
        prefix=["<cls>"],
    )


def onehot_tokenizer(residues: str) -> PreTrainedTokenizerFast:
    """Return a character tokenizer with only padding and unknown tokens, no CLS or EOS."""
    return _fast_tokenizer(
        ["<pad>", "<unk>", *residues],
        split=".",
        special={"pad_token": "<pad>", "unk_token": "<unk>"},
    )


class SequenceTokenizer:
    """Check, tokenize and truncate biological sequences with a Hugging Face tokenizer.

    Sequences are checked against an alphabet before the tokenizer sees them, because most
    tokenizers silently turn unknown characters into the unknown token. Lower-case input is
    read as upper case when the vocabulary holds only upper case (and the reverse).

    Args:
        tokenizer (PreTrainedTokenizerBase): the underlying tokenizer; it needs a pad token.
        residues (str): the alphabet: characters that are residues, each a vocabulary token;
            generation samples from tokens made of these alone.
        extra_residues (str): characters also accepted in input (ambiguity codes), where the
            vocabulary has them.
        max_length (int): tokens per sequence, special tokens included.
        unknown (Unknown): ``"error"`` raises on a character outside the accepted ones,
            ``"map"`` reads it as the unknown token.
        truncation (Truncation): ``"cut"`` shortens longer sequences to ``max_length``;
            ``"error"`` raises.
        split_characters (bool): hand the tokenizer one word per character. Character-level
            WordPiece vocabularies (BERT-style) need this; k-mer and BPE tokenizers must not
            get it.
        name (str): what to call the alphabet in error messages, e.g. ``"ESM2"``.

    Raises:
        ValueError: the tokenizer lacks a pad token, a residue, or (with ``unknown="map"``)
            an unknown token; or the alphabet holds a character that is not ASCII.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        residues: str,
        extra_residues: str = "",
        max_length: int,
        unknown: Unknown = "error",
        truncation: Truncation = "cut",
        split_characters: bool = False,
        name: str = "",
    ) -> None:
        if unknown not in ("error", "map"):
            raise ValueError(f"unknown must be 'error' or 'map', not {unknown!r}.")
        if truncation not in ("cut", "error"):
            raise ValueError(f"truncation must be 'cut' or 'error', not {truncation!r}.")
        if max_length < 1:
            raise ValueError(f"max_length must be positive, not {max_length}.")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.unknown = unknown
        self.truncation = truncation
        self.split_characters = split_characters
        self.name = name or type(tokenizer).__name__
        vocab = tokenizer.get_vocab()
        if tokenizer.pad_token_id is None:
            raise ValueError(
                f"The {self.name} tokenizer has no pad token; batches cannot be padded."
            )
        missing = [r for r in residues if r not in vocab]
        if missing:
            raise ValueError(
                f"The {self.name} tokenizer has no token for the residues {missing}: is the model "
                "for a different kind of sequence?"
            )
        if unknown == "map" and tokenizer.unk_token is None:
            raise ValueError(
                f"unknown='map' needs an unknown token; the {self.name} tokenizer "
                "has none. Use unknown='error'."
            )
        self.residues = residues
        self.accepted = residues + "".join(
            c for c in dict.fromkeys(extra_residues) if c in vocab and c not in residues
        )
        self.check = AlphabetCheck(self.accepted)
        structural = set(tokenizer.all_special_ids) - {
            tokenizer.unk_token_id,
            tokenizer.mask_token_id,
        }
        self.structural_ids = sorted(i for i in structural if i is not None)
        self.byte_table: ByteTable | None = self._probe_byte_table()

    # ---------------------------------------------------------------------- byte table
    def _probe_byte_table(self) -> ByteTable | None:
        """Build a byte lookup table, if it gives exactly the tokenizer's ids; else None.

        The table is trusted only after the Hugging Face tokenizer, called the ordinary
        way, gave the same ids for probe sequences: every residue alone and together, an
        empty sequence, a stray character (with ``unknown="map"``), with and without
        special tokens, and cut at ``max_length``. A vocabulary holding a token of several
        residue letters (k-mers, BPE merges) never gets a table.
        """
        tokenizer = self.tokenizer
        if not self.accepted or getattr(tokenizer, "truncation_side", "right") != "right":
            return None
        vocab = tokenizer.get_vocab()
        letters = {v for c in self.accepted for v in (c, c.lower(), c.upper())}
        special = set(tokenizer.all_special_tokens)
        if any(len(t) > 1 and t not in special and set(t) <= letters for t in vocab):
            return None
        # Byte → id of the letter it reads as once case is folded (as `_clean` folds).
        mapping = {}
        for byte in range(128):
            folded = self.check.fold(chr(byte))
            if folded in self.accepted:
                mapping[byte] = vocab[folded]
        unk = tokenizer.unk_token_id if self.unknown == "map" else None
        probes = [self.accepted, self.accepted[::-1], *self.accepted, self.accepted * 2]
        if unk is not None:
            stray = next(c for c in "?*#@!~0123456789" if c not in letters)
            probes.append(f"{stray}{self.accepted[0]}{stray}{self.accepted[-1]}")
        cut = self.truncation == "cut"
        if cut:
            # Longer than max_length, to check where and how the tokenizer cuts.
            probes.append((self.accepted * (self.max_length // len(self.accepted) + 2)).lower())
        try:
            # One residue, uncut, shows the special tokens put before and after a row.
            (row,) = self._hf_rows([self.accepted[:1]], add_special_tokens=True, cut=False)
            plain = self._hf_rows(probes, add_special_tokens=False, cut=cut)
            with_specials = self._hf_rows(probes, add_special_tokens=True, cut=cut)
        except Exception:  # a tokenizer that cannot take a probe gets no table
            return None
        residue = mapping[ord(self.accepted[0])]
        if row.count(residue) != 1:
            return None
        middle = row.index(residue)
        table = ByteTable.from_mapping(
            mapping, default=unk, prefix=row[:middle], suffix=row[middle + 1 :]
        )
        if cut and self.max_length <= len(table.prefix) + len(table.suffix):
            return None
        limit = self.max_length if cut else None
        for add, expected in ((False, plain), (True, with_specials)):
            got = table.encode(probes, add_special_tokens=add, max_length=limit).rows()
            if got != expected:
                return None
            try:
                empty = self._hf_rows([""], add_special_tokens=add, cut=cut)
            except Exception:  # slow tokenizers fail on no words at all
                continue
            # Where the tokenizer does take an empty sequence, the table must agree.
            if table.encode([""], add_special_tokens=add).rows() != empty:
                return None
        return table

    def encode_ragged(self, sequences: Sequence[str], add_special_tokens: bool = True) -> RaggedIds:
        """Tokenize like `__call__`, returning the rows end to end (what padding takes).

        With a byte table (a character-level vocabulary) the whole batch is tokenized
        with tensor operations; otherwise the Hugging Face tokenizer's rows are joined.

        Raises:
            ValueError: as `__call__`.
        """
        if isinstance(sequences, str):
            raise TypeError("tokenize takes a list of sequences, not one string.")
        table = self.byte_table
        if table is None or not all(s.isascii() for s in sequences):
            return RaggedIds.from_rows(self(sequences, add_special_tokens))
        if self.unknown == "error":
            self._refuse_invalid(sequences)
        cut = self.truncation == "cut"
        ragged = table.encode(
            sequences,
            add_special_tokens=add_special_tokens,
            max_length=self.max_length if cut else None,
        )
        if not cut:
            self._refuse_too_long(ragged.lengths.tolist())
        return ragged

    # ---------------------------------------------------------------------- encode
    def find_invalid(self, sequences: Sequence[str]) -> Invalid | None:
        """Find the first character outside the alphabet (case-insensitive), vectorised.

        Returns:
            Invalid | None: ``(sequence index, position, character)``, or None.
        """
        return self.check.find_invalid(sequences)

    def _refuse_invalid(self, sequences: Sequence[str]) -> Invalid | None:
        """Raise for the first character outside the alphabet with ``unknown="error"``."""
        found = self.find_invalid(sequences)
        if found is not None and self.unknown == "error":
            index, position, char = found
            raise ValueError(
                f"Sequence {index} holds {char!r} at position {position}, which is not in the "
                f"{self.name} alphabet {''.join(sorted(self.accepted))!r}; fix the sequence or "
                "set unknown='map' to read such characters as the unknown token."
            )
        return found

    def _refuse_too_long(self, lengths: Sequence[int]) -> None:
        """Raise for the first row over ``max_length`` (used with ``truncation="error"``)."""
        too_long = next((i for i, n in enumerate(lengths) if n > self.max_length), None)
        if too_long is not None:
            raise ValueError(
                f"Sequence {too_long} is {lengths[too_long]} tokens long, special tokens "
                f"included, more than max_length={self.max_length}; shorten it, raise "
                "max_length, or set truncation='cut'."
            )

    def _clean(self, sequences: Sequence[str]) -> list[str] | list[list[str]]:
        found = self._refuse_invalid(sequences)
        folded = [self.check.fold(s) for s in sequences]
        if found is None and not self.split_characters:
            return folded
        unk = self.tokenizer.unk_token
        rows = []
        for sequence in folded:
            bad = self.check.invalid_characters(sequence) if found is not None else set()
            chars = [unk if c in bad else c for c in sequence] if bad else list(sequence)
            rows.append(chars if self.split_characters else "".join(chars))
        return rows

    def __call__(
        self, sequences: Sequence[str], add_special_tokens: bool = True
    ) -> list[list[int]]:
        """Check, tokenize and truncate a batch (see `mg.core.BackboneInterface.tokenize`).

        Returns:
            list[list[int]]: one unpadded row of ids per sequence.

        Raises:
            ValueError: a character outside the alphabet (with ``unknown="error"``), or a
                sequence longer than ``max_length`` (with ``truncation="error"``).
        """
        if isinstance(sequences, str):
            raise TypeError("tokenize takes a list of sequences, not one string.")
        if not sequences:
            return []
        if self.byte_table is not None and all(s.isascii() for s in sequences):
            return self.encode_ragged(sequences, add_special_tokens).rows()
        cut = self.truncation == "cut"
        rows = self._hf_rows(sequences, add_special_tokens=add_special_tokens, cut=cut)
        unk = self.tokenizer.unk_token_id
        if self.unknown == "error" and unk is not None:
            row = next((i for i, ids in enumerate(rows) if unk in ids), None)
            if row is not None:
                # Every character passed the alphabet check, so the tokenizer itself failed
                # to split the sequence (a character WordPiece vocabulary read whole words).
                raise ValueError(
                    f"The {self.name} tokenizer read sequence {row} as unknown tokens although "
                    "every character is in its alphabet: it does not split sequences into "
                    "characters. For a BERT-style vocabulary of single characters set "
                    "split_characters=True."
                )
        if not cut:
            self._refuse_too_long([len(ids) for ids in rows])
        return rows

    def _hf_rows(
        self, sequences: Sequence[str], *, add_special_tokens: bool, cut: bool
    ) -> list[list[int]]:
        """Check and tokenize with the Hugging Face tokenizer, cut at ``max_length`` if ``cut``."""
        rows: list[list[int]] = self.tokenizer(
            self._clean(sequences),
            is_split_into_words=self.split_characters,
            add_special_tokens=add_special_tokens,
            padding=False,
            truncation=cut,
            max_length=self.max_length if cut else None,
            return_attention_mask=False,
        )["input_ids"]
        return rows

    # ---------------------------------------------------------------------- decode
    def decode(self, input_ids: Tensor, skip_special_tokens: bool = True) -> list[str]:
        """Turn ``(batch, length)`` ids back into sequences (whitespace removed)."""
        rows = input_ids.tolist() if isinstance(input_ids, Tensor) else input_ids
        texts = self.tokenizer.batch_decode(rows, skip_special_tokens=skip_special_tokens)
        return ["".join(text.split()) for text in texts]

    # ---------------------------------------------------------------------- lookups
    def special_token_id(self, role: str) -> int | None:
        """Return the id of ``"pad"``, ``"mask"``, ``"cls"``, ``"eos"`` or ``"unk"``, or None."""
        t = self.tokenizer
        ids = {
            "pad": t.pad_token_id,
            "mask": t.mask_token_id,
            "cls": t.cls_token_id if t.cls_token_id is not None else t.bos_token_id,
            "eos": t.eos_token_id if t.eos_token_id is not None else t.sep_token_id,
            "unk": t.unk_token_id,
        }
        if role not in ids:
            raise ValueError(f"Unknown special-token role {role!r}; choose one of {list(ROLES)}.")
        return ids[role]

    def alphabet_token_ids(self) -> list[int]:
        """Return the ids of non-special tokens made of residues alone (k-mers included)."""
        special = set(self.tokenizer.all_special_tokens)
        residues = set(self.residues)
        return sorted(
            index
            for token, index in self.tokenizer.get_vocab().items()
            if token and token not in special and set(token) <= residues
        )

    def __len__(self) -> int:
        return len(self.tokenizer)
