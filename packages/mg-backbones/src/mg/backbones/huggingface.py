"""Backbones that wrap a Hugging Face model and tokenizer.

`TransformersBackbone` holds what every such backbone shares (tokenizing, the forward
pass, the masked-LM head, fine-tuning modes, ``save_pretrained``); `HFBackbone` loads any
model from a local folder or the Hub through the Auto classes. The named families in
`mg.backbones.families` and the tiny ones in `mg.backbones.tiny` build on these.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from torch import Tensor, nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from mg.backbones.base import TokenizerBackbone
from mg.backbones.finetuning import (
    FinetuneMode,
    LoraSettings,
    apply_finetune_mode,
    default_targets,
)
from mg.backbones.loading import (
    HubOptions,
    ModelClasses,
    apply_config_values,
    find_lm_head,
    freeze_unused,
    load_config,
    load_model,
    load_tokenizer,
    model_context,
    resolve_model_class,
    resolve_model_path,
)
from mg.backbones.saving import SavesPretrained
from mg.backbones.tokenization import SequenceTokenizer, Truncation, Unknown, vocabulary_letters
from mg.core.backbone import BackboneOutput, Capability


class TransformersBackbone(SavesPretrained, TokenizerBackbone):
    """Base class of backbones built on a Hugging Face model and tokenizer.

    Subclasses load or build a model and tokenizer, then call `attach`. Families set the
    class attributes below.

    Class attributes:
        residues: the alphabet (generation samples from tokens made of these); None takes
            every single-letter, non-special token of the vocabulary.
        extra_residues: further characters accepted in input (ambiguity codes).
        character_level: hand the tokenizer one word per character (needed by BERT-style
            WordPiece vocabularies of single characters).
        lora_target_modules: the family's default LoRA targets.
    """

    residues: ClassVar[str | None] = None
    character_level: ClassVar[bool] = False
    lora_target_modules: ClassVar[tuple[str, ...] | None] = None

    model: PreTrainedModel
    sequence_tokenizer: SequenceTokenizer

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        config_overwrites: dict[str, Any] | None = None,
        model_init_args: dict[str, Any] | None = None,
        unknown: Literal["error", "map"] = "error",
        truncation: Literal["cut", "error"] = "cut",
        finetune: Literal["full", "frozen", "lora"] = "full",
        lora_r: int = 8,
        lora_alpha: int = 16,
        lora_dropout: float = 0.05,
        lora_target_modules: list[str] | None = None,
        lora_options: dict[str, Any] | None = None,
        gradient_checkpointing: bool = False,
    ) -> None:
        """Keep the options every loaded or built variant shares; `finish` applies them.

        `HFBackbone` and `TinyBackbone` take these through ``**options``, so they are
        declared here once. A subclass that calls ``attach`` and ``set_finetuning`` itself
        may ignore them.

        Args:
            use_lm_head (bool): reserved; keep the masked-LM head.
            default_config (dict[str, Any] | None): reserved; task defaults for the model
                config. ``config_overwrites`` wins over them.
            config_overwrites (dict[str, Any] | None): values set on the model config
                (e.g. ``{"hidden_dropout_prob": 0.1}``); a key the config lacks is an error.
            model_init_args (dict[str, Any] | None): further ``from_pretrained`` (or
                ``from_config``) arguments (e.g. ``{"dtype": "bfloat16",
                "attn_implementation": "sdpa"}``).
            unknown (Literal["error", "map"]): a character outside the alphabet raises, or
                is read as the unknown token.
            truncation (Literal["cut", "error"]): longer sequences are cut to
                ``max_length``, or raise.
            finetune (Literal["full", "frozen", "lora"]): which weights train.
            lora_r (int): LoRA rank.
            lora_alpha (int): LoRA scaling numerator.
            lora_dropout (float): dropout on the LoRA input.
            lora_target_modules (list[str] | None): linear layers to adapt; None uses the
                family's default (``query`` and ``value`` for the named families; peft's
                choice for the model type for HFBackbone).
            lora_options (dict[str, Any] | None): more of peft's LoRA settings:
                ``use_rslora: true`` (scale by alpha / sqrt(r)), ``target_pattern`` (a
                regular expression over full module names, instead of
                ``lora_target_modules``), ``modules_to_save`` (modules trained in full
                beside LoRA, kept through merges).
            gradient_checkpointing (bool): recompute each layer's activations in the
                backward pass instead of keeping them (non-reentrant activation
                checkpointing): training memory no longer grows with the number of layers,
                so long sequences fit, for about a third more time per step. Same gradients.
        """
        super().__init__(use_lm_head, default_config)
        self.config_overwrites = dict(config_overwrites or {})
        self.model_init_args = dict(model_init_args or {})
        self._reading = {"unknown": unknown, "truncation": truncation}
        self._finetuning = (
            (finetune, lora_r, lora_alpha, lora_dropout, lora_target_modules, lora_options),
            gradient_checkpointing,
        )

    @classmethod
    def declared_finetune(cls, options: Mapping[str, Any]) -> str | None:
        """Return the ``finetune`` option (``"full"`` when unset)."""
        return str(options.get("finetune", "full"))

    def finish(
        self,
        tokenizer: PreTrainedTokenizerBase,
        model: PreTrainedModel,
        *,
        max_length: int | None,
        residues: str | None = None,
        split_characters: bool | None = None,
    ) -> None:
        """Attach a loaded or built model, then apply the kept fine-tuning options.

        Args:
            tokenizer (PreTrainedTokenizerBase): the model's tokenizer.
            model (PreTrainedModel): as for `attach`.
            max_length (int | None): as for `attach`.
            residues (str | None): as for `attach`.
            split_characters (bool | None): as for `attach`.
        """
        self.attach(
            tokenizer,
            model,
            max_length=max_length,
            residues=residues,
            split_characters=split_characters,
            **self._reading,
        )
        finetuning, checkpointing = self._finetuning
        self.set_finetuning(*finetuning)
        self.set_gradient_checkpointing(checkpointing)

    def attach(
        self,
        tokenizer: PreTrainedTokenizerBase,
        model: PreTrainedModel,
        *,
        max_length: int | None,
        unknown: Unknown,
        truncation: Truncation,
        residues: str | None = None,
        split_characters: bool | None = None,
    ) -> None:
        """Wire a loaded model and tokenizer into this backbone; `set_finetuning` comes next.

        Args:
            tokenizer (PreTrainedTokenizerBase): the model's tokenizer.
            model (PreTrainedModel): a ``*ForMaskedLM`` model when ``use_lm_head``, else the
                bare encoder.
            max_length (int | None): tokens per sequence, special tokens included; None uses
                all the model takes.
            unknown (Unknown): ``"error"`` or ``"map"`` for characters outside the alphabet.
            truncation (Truncation): ``"cut"`` or ``"error"`` for longer sequences.
            residues (str | None): the alphabet; None uses the class's, else the vocabulary's.
            split_characters (bool | None): None uses the class's ``character_level``.

        Raises:
            ValueError: ``max_length`` is more than the model takes, or the tokenizer lacks
                a token the backbone needs.
        """
        self.model = model
        self.finetune: FinetuneMode = "full"
        self._head_name = find_lm_head(model) if self.use_lm_head else None
        context = model_context(model.config, tokenizer)
        if max_length is None:
            max_length = context
        elif max_length > context:
            raise ValueError(
                f"max_length={max_length} is more than the model takes ({context} tokens, "
                "special tokens included); lower max_length."
            )
        alphabet = residues or self.residues or vocabulary_letters(tokenizer)
        self.sequence_tokenizer = SequenceTokenizer(
            tokenizer,
            residues=alphabet,
            extra_residues=self.extra_residues,
            max_length=max_length,
            unknown=unknown,
            truncation=truncation,
            split_characters=self.character_level if split_characters is None else split_characters,
            name=type(self).__name__,
        )
        if (
            Capability.MASK_TOKEN in self.capabilities
            and self.use_lm_head
            and tokenizer.mask_token_id is None
        ):
            raise ValueError(
                f"{type(self).__name__} promises a mask token for masked objectives, but this "
                "tokenizer has none: choose a model trained with masked language modelling."
            )

    def set_finetuning(
        self,
        finetune: FinetuneMode,
        lora_r: int,
        lora_alpha: int,
        lora_dropout: float,
        lora_target_modules: list[str] | None,
        lora_options: dict[str, Any] | None = None,
    ) -> None:
        """Choose which weights train (after `attach`).

        Args:
            finetune (FinetuneMode): ``"full"``, ``"frozen"`` or ``"lora"``.
            lora_r (int): LoRA rank (used with ``"lora"``, as are the others).
            lora_alpha (int): LoRA scaling numerator.
            lora_dropout (float): dropout on the LoRA input.
            lora_target_modules (list[str] | None): layers to adapt; None: the family's.
            lora_options (dict[str, Any] | None): further `LoraSettings` fields
                (``use_rslora``, ``target_pattern``, ``modules_to_save``).
        """
        self.finetune = finetune
        freeze_unused(self.model)
        options = dict(lora_options or {})
        taken = {"use_rslora", "target_pattern", "modules_to_save", "use_dora", "init_from"}
        unknown = sorted(set(options) - taken)
        if unknown:
            raise ValueError(
                f"lora_options has no {unknown}; it takes use_rslora, use_dora, init_from, "
                "target_pattern and modules_to_save (the rest are lora_r, lora_alpha, "
                "lora_dropout, "
                "lora_target_modules)."
            )
        if options.get("modules_to_save") is not None:
            options["modules_to_save"] = tuple(options["modules_to_save"])
        # A pattern replaces the family's default targets, not ones the user named.
        family = None if options.get("target_pattern") else self.lora_target_modules
        targets = default_targets(lora_target_modules, family)
        lora = LoraSettings(
            r=lora_r, alpha=lora_alpha, dropout=lora_dropout, target_modules=targets, **options
        )
        apply_finetune_mode(self.model, finetune, lora)
        # from_pretrained returns a model in eval mode; Lightning keeps modes as it finds
        # them, so without this a fine-tuned model would train without its dropout.
        self.train(self.training)

    def set_gradient_checkpointing(self, enabled: bool) -> None:
        """Recompute each layer's activations in the backward pass instead of keeping them.

        Memory for activations then grows with one layer, not all of them, so long sequences
        fit; each training step runs the layers' forward twice (about a third slower).
        Checkpointing is non-reentrant (``use_reentrant=False``), which works with frozen
        weights, LoRA, DDP and FSDP, and gives the same gradients as without it.

        Args:
            enabled (bool): turn it on; False leaves the model as loaded.

        Raises:
            ValueError: the model's architecture does not support activation checkpointing.
        """
        if not enabled:
            return
        model = self.model
        if not getattr(model, "supports_gradient_checkpointing", False):
            raise ValueError(
                f"gradient_checkpointing=true, but {type(self).__name__}'s model "
                f"({type(model).__name__}) does not support activation checkpointing in "
                "transformers. Drop gradient_checkpointing and save memory otherwise: a smaller "
                "batch with accumulate_grad_batches, a lower max_length, or precision bf16-mixed."
            )
        if getattr(self, "finetune", "full") == "frozen":
            warnings.warn(
                "gradient_checkpointing has nothing to save with finetune='frozen': a frozen "
                "backbone keeps no activations for a backward pass. Drop it.",
                stacklevel=2,
            )
        options = {"use_reentrant": False}
        # transformers renamed it activation_checkpointing_enable; 5.0 has only the old name.
        enable = getattr(model, "activation_checkpointing_enable", None)
        if enable is not None:
            enable(activation_checkpointing_kwargs=options)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=options)

    # ------------------------------------------------------------------ properties
    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        """The underlying Hugging Face tokenizer."""
        return self.sequence_tokenizer.tokenizer

    @property
    def encoder(self) -> nn.Module:
        """The model without its masked-LM head."""
        return self.model.base_model

    # ------------------------------------------------------------------ interface
    def train(self, mode: bool = True) -> TransformersBackbone:
        """Set training mode; a frozen backbone always stays in eval mode (no dropout)."""
        super().train(mode)
        if getattr(self, "finetune", "full") == "frozen":
            self.model.eval()
        return self

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, all_hidden_states: bool = False
    ) -> BackboneOutput:
        """Encode a padded batch.

        The bool mask goes to the model as its attention mask (as integers, which every
        Hugging Face model takes), so padding never reaches a real token.

        Args:
            input_ids (Tensor): ``(batch, length)`` token ids.
            attention_mask (Tensor): ``(batch, length)`` bool, True for real tokens.
            all_hidden_states (bool): also return the embeddings and every layer's output;
                the last entry is ``last_hidden_state`` (after any final layer norm).

        Returns:
            BackboneOutput: hidden states and masks.
        """
        mask = attention_mask.bool()
        output = self.encoder(
            input_ids=input_ids,
            attention_mask=mask.long(),
            output_hidden_states=all_hidden_states,
            return_dict=True,
        )
        hidden = output.last_hidden_state
        states = None
        if all_hidden_states:
            states = (*tuple(output.hidden_states)[:-1], hidden)
        return BackboneOutput(
            last_hidden_state=hidden,
            attention_mask=mask,
            special_tokens_mask=self.special_tokens_mask(input_ids, mask),
            hidden_states=states,
        )

    def get_embedding_size(self) -> int:
        """Return the hidden size."""
        return int(self.model.config.hidden_size)

    def get_vocab_size(self) -> int:
        """Return the LM head's output size (the config's vocabulary size)."""
        return int(self.model.config.vocab_size)

    def get_num_layer(self) -> int:
        """Return the number of encoder layers."""
        return int(self.model.config.num_hidden_layers)

    def get_decoder(self) -> nn.Module | None:
        """Return the masked-LM head (hidden states → vocabulary logits) when loaded."""
        return getattr(self.model, self._head_name) if self._head_name else None

    # ------------------------------------------------------------------ export
    def write_pretrained(self, folder: Path) -> None:
        """Write the model and its tokenizer as transformers saves them.

        The folder loads back through this family (or `HFBackbone`).
        """
        self.exportable_model().save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)


class HFBackbone(TransformersBackbone):
    """Any Hugging Face encoder, from a local folder or a Hub id, through the Auto classes.

    The masked-LM head is loaded (``AutoModelForMaskedLM``) when the task needs it, the bare
    encoder (``AutoModel``) otherwise; the tokenizer comes from ``AutoTokenizer``. Nothing
    from the checkpoint runs as code unless ``trust_remote_code=True``.

    Capabilities: the class declares a masked-LM head and a mask token, which hold for
    masked-LM checkpoints (a model without them fails at load with a clear message). It
    does *not* declare one token per residue: a generic tokenizer may merge residues
    (k-mers, BPE), so per-residue labels are not guaranteed to line up with tokens. For
    token-level tasks use a character-level family (ESM2, BertDNA, BertRNA).

    A named family is this class with other class attributes: its traits (``modality``,
    ``capabilities``, ``residues``, ``character_level``, ...) and ``default_model_path``,
    the checkpoint loaded when ``model_path`` is not set. They all take the options below.

    Class attributes:
        default_model_path: the Hub id (or folder) that ``model_path=None`` loads; None
            makes ``model_path`` required.
    """

    capabilities = frozenset({Capability.MASKED_LM_HEAD, Capability.MASK_TOKEN})
    default_model_path: ClassVar[str | None] = None
    model_classes: ClassVar[ModelClasses | None] = None

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        model_path: str | None = None,
        max_length: int | None = None,
        revision: str | None = None,
        cache_dir: str | None = None,
        trust_remote_code: bool = False,
        alphabet: str | None = None,
        split_characters: bool | None = None,
        model_class: str | None = None,
        **options: Any,
    ) -> None:
        """Load the model and tokenizer, then set up fine-tuning.

        Args:
            use_lm_head (bool): reserved; load the masked-LM head.
            default_config (dict[str, Any] | None): reserved; task defaults for the model
                config. ``config_overwrites`` wins over them.
            model_path (str | None): a local folder (what ``save_pretrained`` writes) or a
                Hub id. None loads the class's ``default_model_path`` (ESM2:
                ``facebook/esm2_t30_150M_UR50D``; NucleotideTransformer:
                ``InstaDeepAI/nucleotide-transformer-500m-human-ref``); HFBackbone,
                BertDNA and BertRNA have none, so for them it is required.
            max_length (int | None): tokens per sequence, special tokens included; None
                uses all the model takes.
            revision (str | None): branch, tag or commit of a Hub repository.
            cache_dir (str | None): Hub cache folder (default: ``HF_HOME``).
            trust_remote_code (bool): run modeling code shipped with the checkpoint. Off by
                default: turn it on only for checkpoints you trust.
            alphabet (str | None): residue characters; None uses the family's, or for
                HFBackbone the vocabulary's single ASCII letters.
            split_characters (bool | None): hand the tokenizer one word per character, as
                BERT-style WordPiece vocabularies of single characters need; None uses the
                family's setting (off for HFBackbone: k-mer and BPE tokenizers must read
                whole strings).
            model_class (str | None): load with this installed class instead of the Auto
                classes: ``package.module:Class`` or a name registered under the
                ``mg.model_classes`` entry points. The code is your installed package's, so
                it needs no ``trust_remote_code`` (DNABERT-2, HyenaDNA, Caduceus, ...).
            **options (Any): the options every variant shares (``config_overwrites``,
                ``model_init_args``, ``unknown``, ``truncation``, ``finetune``, the
                ``lora_*`` options, ``gradient_checkpointing``); see `TransformersBackbone`.

        Raises:
            ValueError: no ``model_path`` and no ``default_model_path``, or
                ``gradient_checkpointing`` for a model that does not support it.
            ModelPathNotFoundError: ``model_path`` is a local path with nothing there.
            BackboneLoadError: a Hub id that cannot be reached or is not cached, or a folder
                without a model.
        """
        super().__init__(use_lm_head, default_config, **options)
        model_path = model_path or self.default_model_path
        if model_path is None:
            raise ValueError(
                f"{type(self).__name__} needs model_path: a local folder (what save_pretrained "
                "writes) or a Hub id."
            )
        self.model_path = str(model_path)
        hub = HubOptions(
            revision=revision, cache_dir=cache_dir, trust_remote_code=trust_remote_code
        )
        tokenizer, model = self.load_pretrained(
            self.model_path, hub, self.config_overwrites, self.model_init_args, model_class
        )
        self.finish(
            tokenizer,
            model,
            max_length=max_length,
            residues=alphabet,
            split_characters=split_characters,
        )

    @classmethod
    def input_alphabet(cls, options: Mapping[str, Any]) -> str | None:
        """Return the ``alphabet`` option with the extras, else the class's alphabet."""
        if options.get("alphabet"):
            return str(options["alphabet"]) + cls.extra_residues
        return super().input_alphabet(options)

    def load_pretrained(
        self,
        model_path: str,
        options: HubOptions,
        config_overwrites: dict[str, Any] | None,
        model_init_args: dict[str, Any] | None,
        model_class: str | None,
    ) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
        """Load the tokenizer and the model (with its head when ``use_lm_head``).

        Families whose published weights are not laid out as transformers saves them
        override this; the arguments are those of `HFBackbone`.

        Returns:
            tuple[PreTrainedTokenizerBase, PreTrainedModel]: the tokenizer and the model.
        """
        source, is_local = resolve_model_path(model_path)
        classes = resolve_model_class(model_class) if model_class else self.model_classes
        config = load_config(source, is_local, options, classes.config_class if classes else None)
        apply_config_values(config, self.default_config, config_overwrites)
        tokenizer = self.load_tokenizer(source, is_local, options)
        model = load_model(
            source, is_local, config, self.use_lm_head, options, model_init_args, classes
        )
        return tokenizer, model

    def load_tokenizer(
        self, source: str, is_local: bool, options: HubOptions
    ) -> PreTrainedTokenizerBase:
        """Return the tokenizer: the one saved with the model; families may build their own.

        Args:
            source (str): the folder or Hub id.
            is_local (bool): it is a local folder.
            options (HubOptions): revision, cache and remote-code options.
        """
        return load_tokenizer(source, is_local, options)
