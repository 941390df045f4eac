"""A toy backbone and an in-memory data module that need nothing but torch.

They make tests of adapters, tasks and plugins fast and self-contained: the backbone
is a tiny seeded transformer encoder over a character alphabet with a masked-LM head.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from mg.core.alphabets import DNA
from mg.core.backbone import BackboneInterface, BackboneOutput, Capability, Modality
from mg.core.data import SPLITS_OF_STAGE, DataInterface, Sample

SPECIAL_TOKENS = {"pad": "<pad>", "cls": "<cls>", "eos": "<eos>", "unk": "<unk>", "mask": "<mask>"}


class CharTokenizer:
    """One token per character, CLS and EOS around each sequence; no padding.

    Args:
        alphabet (str): the residues, one character each.
        max_length (int): tokens per sequence, CLS and EOS included; longer input is cut.
        unknown (str): ``"error"`` raises on a character outside the alphabet;
            ``"map"`` turns it into the unknown token.
    """

    def __init__(self, alphabet: str, max_length: int, unknown: str = "error") -> None:
        if unknown not in ("error", "map"):
            raise ValueError(f"unknown must be 'error' or 'map', not {unknown!r}.")
        self.alphabet = alphabet
        self.max_length = max_length
        self.unknown = unknown
        self.vocab = list(SPECIAL_TOKENS.values()) + list(alphabet)
        self.ids = {token: index for index, token in enumerate(self.vocab)}
        self.special_ids = {role: self.ids[token] for role, token in SPECIAL_TOKENS.items()}

    def __call__(
        self, sequences: Sequence[str], add_special_tokens: bool = True
    ) -> list[list[int]]:
        """Tokenize a batch (see `BackboneInterface.tokenize`)."""
        return [self._encode(index, seq, add_special_tokens) for index, seq in enumerate(sequences)]

    def _encode(self, index: int, sequence: str, add_special_tokens: bool) -> list[int]:
        ids = []
        for char in sequence.upper():
            if char in self.alphabet:
                ids.append(self.ids[char])
            elif self.unknown == "map":
                ids.append(self.special_ids["unk"])
            else:
                raise ValueError(
                    f"Sequence {index} holds {char!r}, which is not in the alphabet "
                    f"{self.alphabet!r}; fix the sequence or set unknown='map' to read it as "
                    "the unknown token."
                )
        budget = self.max_length - (2 if add_special_tokens else 0)
        ids = ids[:budget]
        if add_special_tokens:
            ids = [self.special_ids["cls"], *ids, self.special_ids["eos"]]
        return ids


class ToyBackbone(BackboneInterface):
    """A tiny seeded transformer encoder over DNA with a masked-LM head; for tests.

    Args:
        use_lm_head (bool): reserved; build the masked-LM head.
        default_config (dict[str, Any] | None): reserved; task defaults for the options below.
        alphabet (str): residues the tokenizer accepts.
        hidden_size (int): hidden state size.
        num_layers (int): encoder layers.
        num_heads (int): attention heads.
        max_length (int): tokens per sequence, CLS and EOS included.
        seed (int): seed of the random initialisation.
        unknown (str): ``"error"`` or ``"map"`` for characters outside the alphabet.
    """

    modality = Modality.DNA
    capabilities = frozenset(
        {Capability.MASKED_LM_HEAD, Capability.MASK_TOKEN, Capability.PER_RESIDUE_TOKENS}
    )
    special_tokens = SPECIAL_TOKENS

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        alphabet: str = DNA,
        hidden_size: int = 16,
        num_layers: int = 2,
        num_heads: int = 2,
        max_length: int = 64,
        seed: int = 0,
        unknown: str = "error",
    ) -> None:
        super().__init__(use_lm_head, default_config)
        self.tokenizer = CharTokenizer(alphabet, max_length, unknown)
        self.residues = alphabet  # an option, so the class declares no alphabet
        self.hidden_size = hidden_size
        self.max_length = max_length
        vocab = len(self.tokenizer.vocab)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.embeddings = nn.Embedding(vocab, hidden_size, padding_idx=0)
            self.positions = nn.Embedding(max_length, hidden_size)
            self.layers = nn.ModuleList(
                nn.TransformerEncoderLayer(
                    hidden_size,
                    num_heads,
                    dim_feedforward=2 * hidden_size,
                    dropout=0.0,
                    batch_first=True,
                )
                for _ in range(num_layers)
            )
            self.lm_head = nn.Linear(hidden_size, vocab) if use_lm_head else None

    @classmethod
    def input_alphabet(cls, options: Mapping[str, Any]) -> str | None:
        """Return the ``alphabet`` option; None with ``unknown="map"``."""
        return None if options.get("unknown") == "map" else str(options.get("alphabet", DNA))

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, all_hidden_states: bool = False
    ) -> BackboneOutput:
        """Encode a padded batch; padding never influences real tokens."""
        attention_mask = attention_mask.bool()
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        hidden = self.embeddings(input_ids) + self.positions(positions)[None]
        states = [hidden]
        for layer in self.layers:
            hidden = layer(hidden, src_key_padding_mask=~attention_mask)
            states.append(hidden)
        return BackboneOutput(
            last_hidden_state=hidden,
            attention_mask=attention_mask,
            special_tokens_mask=self.special_tokens_mask(input_ids, attention_mask),
            hidden_states=tuple(states) if all_hidden_states else None,
        )

    def tokenize(
        self, sequences: Sequence[str], *, add_special_tokens: bool = True
    ) -> list[list[int]]:
        """Tokenize and truncate (one token per character), unpadded."""
        return self.tokenizer(sequences, add_special_tokens)

    def get_vocab(self) -> dict[str, int]:
        """Return the vocabulary."""
        return self.tokenizer.ids

    def get_embedding_size(self) -> int:
        """Return the hidden size."""
        return self.hidden_size

    def get_num_layer(self) -> int:
        """Return the number of encoder layers."""
        return len(self.layers)

    def get_decoder(self) -> nn.Module | None:
        """Return the masked-LM head, when built."""
        return self.lm_head


class ListDataset(Dataset):
    """A dataset over a list of sample dicts."""

    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Sample:
        return self.samples[index]


class InMemoryData(DataInterface):
    """A data module over lists of sample dicts, one list per split; for tests.

    Args:
        train (list[Sample] | None): training samples.
        val (list[Sample] | None): validation samples.
        test (list[Sample] | None): test samples.
        predict (list[Sample] | None): prediction samples; defaults to the test samples.
        batch_size (int): samples per batch.
    """

    def __init__(
        self,
        train: list[Sample] | None = None,
        val: list[Sample] | None = None,
        test: list[Sample] | None = None,
        predict: list[Sample] | None = None,
        batch_size: int = 8,
    ) -> None:
        super().__init__(batch_size=batch_size)
        splits = {"train": train, "val": val, "test": test, "predict": predict or test}
        self.datasets = {name: ListDataset(s) for name, s in splits.items() if s}

    def provided_columns(self, stage: str) -> set[str]:
        """Return the columns every sample of the stage's split holds."""
        dataset = self.datasets.get(SPLITS_OF_STAGE[stage][0])
        if dataset is None or not len(dataset):
            return set()
        return set.intersection(*(set(sample) for sample in dataset.samples))
