"""The backbone interface: a pretrained model plus its tokenizer.

A backbone turns sequences into hidden states. Tasks only talk to backbones through
this interface, so any model that implements it can be swapped into any task whose
declared needs it meets (see `mg.core.compat`).

Mask convention, used everywhere in mg: an attention mask is a boolean tensor where
``True`` marks a real token and ``False`` marks padding.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from torch import Tensor, nn


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
class TokenizedBatch:
    """A padded batch of token ids, as returned by `BackboneInterface.tokenize`.

    Attributes:
        input_ids (Tensor): ``(batch, length)`` long tensor, padded to the longest item.
        attention_mask (Tensor): ``(batch, length)`` bool tensor, True for real tokens.
        special_tokens_mask (Tensor): ``(batch, length)`` bool tensor, True for special
            tokens (CLS, EOS, padding) that carry no residue.
    """

    input_ids: Tensor
    attention_mask: Tensor
    special_tokens_mask: Tensor

    def residue_mask(self) -> Tensor:
        """Return a bool mask of positions that hold a real residue."""
        return self.attention_mask & ~self.special_tokens_mask


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

    Args:
        use_lm_head (bool): the task needs the masked-LM head (``get_decoder``).
        default_config (dict[str, Any] | None): task-provided model-config defaults (for
            example ``{"num_labels": 3}``); values the user sets win over these.

    Class attributes:
        modality: the sequences this backbone reads.
        capabilities: what it can do, checked by `mg.core.compat` before anything loads.
    """

    modality: ClassVar[Modality] = Modality.OTHER
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

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
    ) -> TokenizedBatch:
        """Tokenize, truncate to the backbone's ``max_length`` and pad to the longest item.

        Args:
            sequences (Sequence[str]): raw sequences in the backbone's alphabet.
            add_special_tokens (bool): add CLS/EOS tokens where the model uses them.

        Returns:
            TokenizedBatch: padded ids and masks.

        Raises:
            ValueError: a sequence holds a character outside the alphabet (the message
                names the sequence index and the character).
        """

    @abstractmethod
    def decode_tokens(self, input_ids: Tensor, *, skip_special_tokens: bool = True) -> list[str]:
        """Turn a ``(batch, length)`` tensor of ids back into sequences.

        Args:
            input_ids (Tensor): token ids.
            skip_special_tokens (bool): drop CLS, EOS, padding and mask tokens.

        Returns:
            list[str]: one string per row.
        """

    @abstractmethod
    def get_token_id(self, token: str) -> int:
        """Return the id of a token (a residue like ``"A"`` or a special like the mask).

        Raises:
            KeyError: the token is not in the vocabulary.
        """

    @abstractmethod
    def get_special_token_id(self, role: str) -> int | None:
        """Return the id of a special token by role, or None where there is no such token.

        Args:
            role (str): ``"pad"``, ``"mask"``, ``"cls"``, ``"eos"`` or ``"unk"``.
        """

    @abstractmethod
    def get_alphabet_token_ids(self) -> list[int]:
        """Return the ids of the tokens that stand for residues (no special tokens).

        Generation samples only from these, so generated sequences use the alphabet alone.
        """

    @abstractmethod
    def get_max_context(self) -> int:
        """Return the number of tokens, special tokens included, the model accepts."""

    @abstractmethod
    def get_embedding_size(self) -> int:
        """Return the size of each token's hidden state."""

    @abstractmethod
    def get_vocab_size(self) -> int:
        """Return the number of tokens in the vocabulary (the LM head's output size)."""

    @abstractmethod
    def get_num_layer(self) -> int:
        """Return the number of encoder layers."""

    def get_decoder(self) -> nn.Module | None:
        """Return the masked-LM head (hidden states → vocabulary logits), if loaded.

        Backbones declaring `Capability.MASKED_LM_HEAD` return it when constructed with
        ``use_lm_head=True``.
        """
        return None

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
        keep = {prefix + name for name, p in params.items() if p.requires_grad}
        state = checkpoint["state_dict"]
        dropped = [k for k in state if k.startswith(prefix) and k not in keep]
        for key in dropped:
            del state[key]
        return dropped


BackboneCallable = Callable[[bool, dict[str, Any] | None], BackboneInterface]
"""How a task builds its backbone: ``backbone(use_lm_head, default_config)``."""
