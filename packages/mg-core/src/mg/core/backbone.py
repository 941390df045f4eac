"""The backbone interface: a pretrained model plus its tokenizer.

A backbone turns sequences into hidden states. Tasks only talk to backbones through
this interface, so any model that implements it can be swapped into any task whose
declared needs it meets (see `mg.core.compat`).

Mask convention, used everywhere in mg: an attention mask is a boolean tensor where
``True`` marks a real token and ``False`` marks padding.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from mg.core.alphabets import AlphabetCheck, Invalid
from mg.core.inputs import InputKind
from mg.core.padding import RaggedIds, TokenizedBatch, pad_ragged

ROLES = ("pad", "mask", "cls", "eos", "unk")
"""Special-token roles `BackboneInterface.get_special_token_id` knows."""

STRUCTURAL_ROLES = ("pad", "cls", "eos")
"""Roles whose tokens carry no residue (mask and unknown tokens stand in for one)."""


class Modality(StrEnum):
    """The kind of sequence a backbone reads."""

    DNA = "dna"
    RNA = "rna"
    PROTEIN = "protein"
    OTHER = "other"


class Capability(StrEnum):
    """Things a backbone can do that some tasks need.

    Attributes:
        MASKED_LM_HEAD: ``get_decoder()`` returns a head from hidden states to vocabulary
            logits (MLM, Inference, Diffusion need it).
        MASK_TOKEN: the tokenizer has a mask token (masked objectives need it).
        PER_RESIDUE_TOKENS: exactly one token per residue, so per-residue labels line up
            with tokens (token-level and pairwise tasks need it).
    """

    MASKED_LM_HEAD = "masked_lm_head"
    MASK_TOKEN = "mask_token"
    PER_RESIDUE_TOKENS = "per_residue_tokens"


@dataclass
class BackboneOutput:
    """What every backbone's forward returns.

    Attributes:
        last_hidden_state (Tensor): ``(batch, length, embedding_size)``.
        attention_mask (Tensor): ``(batch, length)`` bool, True for real tokens.
        special_tokens_mask (Tensor | None): ``(batch, length)`` bool, True for special tokens.
        hidden_states (tuple[Tensor, ...] | None): the embedding output then every layer's
            output, each ``(batch, length, embedding_size)``, when all hidden states were
            asked for.
    """

    last_hidden_state: Tensor
    attention_mask: Tensor
    special_tokens_mask: Tensor | None = None
    hidden_states: tuple[Tensor, ...] | None = None


class BackboneInterface(nn.Module, ABC):
    """Base class of every backbone.

    Subclasses take two reserved, positional-only arguments that the task fills, then
    keyword options the user sets::

        class MyBackbone(BackboneInterface):
            def __init__(self, use_lm_head=False, default_config=None, /, *, model_path="..."):

    A backbone implements five methods: `tokenize` (unpadded ids), `forward`,
    `get_vocab`, `get_embedding_size` and `get_num_layer`; it sets ``self.max_length``
    (or overrides `get_max_context`). The other lookups have defaults built on
    `get_vocab` and the class attributes below; padding is `batch`'s job.

    Args:
        use_lm_head (bool): the task needs the masked-LM head (``get_decoder``).
        default_config (dict[str, Any] | None): task-provided model-config defaults (for
            example ``{"num_labels": 3}``); values the user sets win over these.

    Class attributes:
        input_kind: what a sample is for this backbone: a sequence, or a cell's expression
            over genes (`mg.core.cells.CellBackboneInterface`).
        modality: the sequences this backbone reads.
        capabilities: what it can do, checked by `mg.core.compat` before anything loads.
        residues: the alphabet; generation samples from tokens made of these alone. None
            where only the built backbone knows it (an option, or a loaded vocabulary).
        extra_residues: further characters accepted in input (ambiguity codes).
        special_tokens: role (``"pad"``, ``"mask"``, ``"cls"``, ``"eos"``, ``"unk"``) →
            token, for the default lookups.
        output_bin_size: None when the hidden states line up with the tokens (one state
            per token, the masks of the batch apply to them); n when the backbone gives one
            state per n-residue bin instead (Enformer: 128), with its own ``attention_mask``
            over bins. Only tasks that declare ``accepts_binned_outputs`` take such a
            backbone (`mg.core.compat`).
    """

    input_kind: ClassVar[InputKind] = InputKind.SEQUENCE
    modality: ClassVar[Modality] = Modality.OTHER
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    residues: ClassVar[str | None] = None
    extra_residues: ClassVar[str] = ""
    special_tokens: ClassVar[Mapping[str, str]] = {}
    output_bin_size: ClassVar[int | None] = None

    def __init__(
        self, use_lm_head: bool = False, default_config: dict[str, Any] | None = None, /
    ) -> None:
        super().__init__()
        self.use_lm_head = use_lm_head
        self.default_config = dict(default_config or {})

    @classmethod
    def required_data_columns(cls) -> set[str]:
        """Return the data columns this backbone reads.

        Returns:
            set[str]: column names; every backbone reads ``"sequences"``.
        """
        return {"sequences"}

    # ------------------------------------------------------------------ to implement
    @abstractmethod
    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, all_hidden_states: bool = False
    ) -> BackboneOutput:
        """Encode a padded batch.

        Args:
            input_ids (Tensor): ``(batch, length)`` token ids.
            attention_mask (Tensor): ``(batch, length)`` bool, True for real tokens.
            all_hidden_states (bool): also return every layer's hidden states.

        Returns:
            BackboneOutput: the hidden states and masks.
        """

    @abstractmethod
    def tokenize(
        self, sequences: Sequence[str], *, add_special_tokens: bool = True
    ) -> list[list[int]]:
        """Check and tokenize sequences, truncated to the backbone's ``max_length``; no padding.

        Args:
            sequences (Sequence[str]): raw sequences in the backbone's alphabet.
            add_special_tokens (bool): add CLS/EOS tokens where the model uses them.

        Returns:
            list[list[int]]: one row of token ids per sequence.

        Raises:
            ValueError: a sequence holds a character outside the alphabet (the message
                names the sequence index and the character).
        """

    @abstractmethod
    def get_vocab(self) -> dict[str, int]:
        """Return the vocabulary: token → id."""

    @abstractmethod
    def get_embedding_size(self) -> int:
        """Return the size of each token's hidden state."""

    @abstractmethod
    def get_num_layer(self) -> int:
        """Return the number of encoder layers."""

    # ------------------------------------------------------------------ batching
    def batch(
        self,
        sequences: Sequence[str],
        *,
        add_special_tokens: bool = True,
        pad_to_multiple_of: int | None = None,
    ) -> TokenizedBatch:
        """Tokenize and pad a batch: what a task's ``collate`` calls.

        Args:
            sequences (Sequence[str]): raw sequences in the backbone's alphabet.
            add_special_tokens (bool): add CLS/EOS tokens where the model uses them.
            pad_to_multiple_of (int | None): round the width up to a multiple of this.

        Returns:
            TokenizedBatch: ids padded on the right to the longest item, and masks.
        """
        if isinstance(sequences, str):
            raise TypeError("Pass a list of sequences, not one string.")
        pad = self.get_special_token_id("pad")
        if pad is None:
            raise ValueError(f"{type(self).__name__} has no pad token; batches cannot be padded.")
        return pad_ragged(
            self.tokenize_ragged(sequences, add_special_tokens=add_special_tokens),
            pad_id=pad,
            special_ids=self.structural_token_ids(),
            pad_to_multiple_of=pad_to_multiple_of,
        )

    def tokenize_ragged(
        self, sequences: Sequence[str], *, add_special_tokens: bool = True
    ) -> RaggedIds:
        """Tokenize like `tokenize`, returning the rows end to end (what `batch` pads).

        The default flattens `tokenize`'s rows. Backbones that tokenize a whole batch
        with array operations override it, so no Python lists are built per row.

        Args:
            sequences (Sequence[str]): raw sequences in the backbone's alphabet.
            add_special_tokens (bool): add CLS/EOS tokens where the model uses them.

        Returns:
            RaggedIds: the same ids as `tokenize`, end to end, and each row's length.
        """
        return RaggedIds.from_rows(self.tokenize(sequences, add_special_tokens=add_special_tokens))

    def structural_token_ids(self) -> list[int]:
        """Return the ids of tokens that carry no residue: pad, CLS and EOS.

        Mask and unknown tokens stand in for a residue, so they are not among them.
        """
        ids = (self.get_special_token_id(role) for role in STRUCTURAL_ROLES)
        return sorted({i for i in ids if i is not None})

    def special_tokens_mask(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Return True where a token carries no residue: CLS, EOS, padding."""
        ids = torch.tensor(self.structural_token_ids(), dtype=torch.long, device=input_ids.device)
        return torch.isin(input_ids, ids) | ~attention_mask.bool()

    # ------------------------------------------------------------------ alphabet
    @classmethod
    def declared_alphabet(cls) -> str | None:
        """Return the characters input may hold, known from the class alone.

        A data module can check sequences with it before any weights load
        (``AlphabetCheck(alphabet).find_invalid(sequences)``).

        Returns:
            str | None: ``residues`` then ``extra_residues``; None where the class does not
            fix its alphabet (``HFBackbone`` reads it from the loaded vocabulary).
        """
        return None if cls.residues is None else cls.residues + cls.extra_residues

    @classmethod
    def input_alphabet(cls, options: Mapping[str, Any]) -> str | None:
        """Return the characters input may hold with these options, before anything loads.

        mg checks every sequence against it before weights load. The default is
        `declared_alphabet`; a class whose options change its alphabet (an ``alphabet``
        option, unknown characters mapped to a token) says so by overriding this.

        Args:
            options (Mapping[str, Any]): the constructor's options, defaults included.

        Returns:
            str | None: the accepted characters; None where any character is read or only
            the built backbone knows.
        """
        return cls.declared_alphabet()

    @classmethod
    def declared_finetune(cls, options: Mapping[str, Any]) -> str | None:
        """Return which weights these options train (``"full"``, ``"frozen"``, ``"lora"``).

        mg refuses options that need a frozen backbone (``cache_embeddings``) before weights
        load with it. The default, None, leaves the check to the built backbone.

        Args:
            options (Mapping[str, Any]): the constructor's options, defaults included.
        """
        return None

    def accepted_characters(self) -> str:
        """Return the characters input may hold: ``residues`` then ``extra_residues``."""
        return (self.residues or "") + self.extra_residues

    def find_invalid(self, sequences: Sequence[str]) -> Invalid | None:
        """Find the first character outside the alphabet (case-insensitive), vectorised.

        Returns:
            Invalid | None: ``(sequence index, position, character)``, or None.
        """
        accepted = self.accepted_characters()
        check = self.__dict__.get("_alphabet_check")
        if check is None or check.accepted != accepted:
            check = AlphabetCheck(accepted)
            self.__dict__["_alphabet_check"] = check
        return check.find_invalid(sequences)

    def check_sequences(self, sequences: Sequence[str]) -> None:
        """Raise the standard error for the first character outside the alphabet.

        Raises:
            ValueError: names the sequence index, position and character.
        """
        found = self.find_invalid(sequences)
        if found is not None:
            index, position, char = found
            raise ValueError(
                f"Sequence {index} holds {char!r} at position {position}, which is not in the "
                f"{type(self).__name__} alphabet {self.accepted_characters()!r}; fix the sequence."
            )

    # ------------------------------------------------------------------ lookups
    def get_token_id(self, token: str) -> int:
        """Return the id of a token (a residue like ``"A"`` or a special like the mask).

        Raises:
            KeyError: the token is not in the vocabulary.
        """
        vocab = self.get_vocab()
        if token not in vocab:
            raise KeyError(f"{token!r} is not in the {type(self).__name__} vocabulary.")
        return vocab[token]

    def get_special_token_id(self, role: str) -> int | None:
        """Return the id of a special token by role, or None where there is no such token.

        Args:
            role (str): ``"pad"``, ``"mask"``, ``"cls"``, ``"eos"`` or ``"unk"``.
        """
        if role not in ROLES:
            raise ValueError(f"Unknown special-token role {role!r}; choose one of {list(ROLES)}.")
        token = self.special_tokens.get(role)
        return None if token is None else self.get_token_id(token)

    def get_alphabet_token_ids(self) -> list[int]:
        """Return the ids of the tokens made of residues alone (no special tokens).

        Generation samples only from these, so generated sequences use the alphabet alone.
        """
        residues = set(self.residues or "")
        special = set(self.special_tokens.values())
        return sorted(
            index
            for token, index in self.get_vocab().items()
            if token and token not in special and set(token) <= residues
        )

    def decode_tokens(self, input_ids: Tensor, *, skip_special_tokens: bool = True) -> list[str]:
        """Turn a ``(batch, length)`` tensor of ids back into sequences.

        Args:
            input_ids (Tensor): token ids.
            skip_special_tokens (bool): drop CLS, EOS, padding, mask and unknown tokens.

        Returns:
            list[str]: one string per row.
        """
        tokens = {index: token for token, index in self.get_vocab().items()}
        skip = set(self.special_tokens.values()) if skip_special_tokens else set()
        return [
            "".join(t for t in (tokens[i] for i in row) if t not in skip)
            for row in input_ids.tolist()
        ]

    def get_max_context(self) -> int:
        """Return the number of tokens, special tokens included, the model accepts."""
        return int(self.max_length)

    def refuses_long_input(self) -> bool:
        """Whether a sequence over `get_max_context` is refused (``truncation="error"``).

        The default cuts it; the checks entry point then stops the run before any step
        instead of saying what is cut.
        """
        return False

    def get_vocab_size(self) -> int:
        """Return the number of tokens in the vocabulary (the LM head's output size)."""
        return len(self.get_vocab())

    def get_decoder(self) -> nn.Module | None:
        """Return the masked-LM head (hidden states → vocabulary logits), if loaded.

        Backbones declaring `Capability.MASKED_LM_HEAD` return it when constructed with
        ``use_lm_head=True``.
        """
        return None

    def layer_classes(self) -> set[type[nn.Module]]:
        """Return the classes of the backbone's repeated layers (its transformer blocks).

        Each such layer is one unit for sharding (``BackboneFSDPStrategy`` wraps every one
        in its own FSDP unit) and for activation checkpointing. The default finds them
        without naming classes: the modules held in an ``nn.ModuleList`` whose class a
        submodule lists in ``_no_split_modules`` (what every Hugging Face model declares,
        also when peft wraps it); without such a list anywhere, the class of every
        ``nn.ModuleList`` whose members all share one class. Override it to choose.

        Returns:
            set[type[nn.Module]]: the layer classes; empty for a backbone without layers
            (a one-hot encoding).
        """
        declared: set[str] = set()
        for module in self.modules():
            declared.update(getattr(module, "_no_split_modules", None) or ())
        found: set[type[nn.Module]] = set()
        for module in self.modules():
            if not isinstance(module, nn.ModuleList) or len(module) == 0:
                continue
            kinds = {type(member) for member in module}
            if declared:
                found.update(k for k in kinds if k.__name__ in declared)
            elif len(kinds) == 1:
                found.update(kinds)
        return found

    def on_save_checkpoint(self, checkpoint: dict[str, Any], prefix: str) -> list[str]:
        """Drop weights the checkpoint need not hold, and say which were dropped.

        The default keeps only trainable parameters when some are frozen (a frozen or
        LoRA-tuned backbone): the rest come back from the pretrained weights when the
        task is rebuilt, so checkpoints stay small.

        Args:
            checkpoint (dict[str, Any]): the Lightning checkpoint; ``checkpoint["state_dict"]``
                is edited in place.
            prefix (str): the key prefix of this backbone in the task's state dict.

        Returns:
            list[str]: the state-dict keys that were dropped.
        """
        params = dict(self.named_parameters())
        if all(p.requires_grad for p in params.values()):
            return []
        # Under FSDP or activation checkpointing the names carry the wrappers' segments;
        # the checkpoint's keys do not.
        keep = {prefix + _unwrapped(name) for name, p in params.items() if p.requires_grad}
        state = checkpoint["state_dict"]
        dropped = [k for k in state if k.startswith(prefix) and k not in keep]
        for key in dropped:
            del state[key]
        return dropped


_WRAPPER_SEGMENTS = ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module.")


def _unwrapped(name: str) -> str:
    """A parameter name without the segments FSDP and checkpoint wrappers insert."""
    for segment in _WRAPPER_SEGMENTS:
        name = name.replace(segment, "")
    return name


BackboneCallable = Callable[[bool, dict[str, Any] | None], BackboneInterface]
"""How a task builds its backbone: ``backbone(use_lm_head, default_config)``."""
