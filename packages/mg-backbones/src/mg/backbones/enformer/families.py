"""Enformer and a tiny Enformer as mg backbones: one-hot DNA in, one state per 128-bp bin out.

mg's own code runs the model (`mg.backbones.enformer.modeling`); the published checkpoint
``EleutherAI/enformer-official-rough`` loads as data (no ``trust_remote_code``).

Enformer gives one hidden state per 128-residue bin, not per token: the class declares
``output_bin_size = 128``, so the compatibility check pairs it only with tasks that read
bins or pool the sequence (`TrackRegression`, `SequenceClassification`,
`SequenceRegression`) and refuses the rest, with the reason, before any weight loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from mg.backbones.base import TokenizerBackbone
from mg.backbones.enformer.config import EnformerConfig
from mg.backbones.enformer.layers import TransformerLayer
from mg.backbones.enformer.modeling import EnformerModel
from mg.backbones.enformer.weights import load_model, save_model
from mg.backbones.finetuning import (
    FinetuneMode,
    LoraSettings,
    apply_finetune_mode,
    default_targets,
)
from mg.backbones.loading import (
    WEIGHT_FILES,
    BackboneLoadError,
    HubOptions,
    model_folder,
)
from mg.backbones.saving import SavesPretrained
from mg.backbones.tokenization import SequenceTokenizer, onehot_tokenizer
from mg.core.alphabets import DNA
from mg.core.backbone import BackboneOutput, Modality

ENFORMER_CHECKPOINTS: dict[str, str] = {"official-rough": "EleutherAI/enformer-official-rough"}
"""Published Enformer checkpoints (enformer-pytorch's port of DeepMind's weights)."""

PUBLISHED_WINDOW = 196_608
"""Residues per window the published model was trained on (1536 bins of 128)."""

_BASES = "ACGT"  # the one-hot channel order of the published model


class EnformerFamily(SavesPretrained, TokenizerBackbone):
    """An Enformer backbone: one-hot DNA (N all zero), one ``2 * dim`` state per bin.

    Subclasses say where the model comes from: each loads or builds it after this
    class's ``__init__`` and hands it to `attach_model`.

    Class attributes:
        default_max_length: residues per window when ``max_length`` is not given.
        lora_target_modules: the attention projections.
    """

    modality = Modality.DNA
    residues = DNA
    extra_residues = "N"
    output_bin_size = 128
    default_max_length: ClassVar[int] = PUBLISHED_WINDOW
    lora_target_modules: ClassVar[tuple[str, ...]] = ("query", "key", "value", "output")

    model: EnformerModel

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        target_length: int | None = None,
        max_length: int | None = None,
        unknown: Literal["error", "map"] = "error",
        truncation: Literal["cut", "error"] = "cut",
        finetune: FinetuneMode = "full",
        lora_r: int = 8,
        lora_alpha: int = 16,
        lora_dropout: float = 0.05,
        lora_target_modules: list[str] | None = None,
        gradient_checkpointing: bool = False,
    ) -> None:
        """Check and keep the options every Enformer shares; `attach_model` applies them.

        `Enformer` and `EnformerTiny` take these through ``**options``, so they are
        declared here once.

        Args:
            use_lm_head (bool): reserved; Enformer has no masked-LM head.
            default_config (dict[str, Any] | None): reserved; ignored.
            target_length (int | None): None keeps every bin of the window, so bins line
                up with the window's targets; a number keeps the central bins as the
                reference does (896 for the published model's 196,608-bp windows).
            max_length (int | None): residues per window (default: the class's
                ``default_max_length``).
            unknown (Literal["error", "map"]): a character outside ACGTN raises, or reads
                as N.
            truncation (Literal["cut", "error"]): longer windows are cut, or raise.
            finetune (FinetuneMode): ``"full"``, ``"frozen"`` or ``"lora"``.
            lora_r (int): LoRA rank.
            lora_alpha (int): LoRA scaling numerator.
            lora_dropout (float): dropout on the LoRA input.
            lora_target_modules (list[str] | None): layers to adapt; None: the attention
                projections ``query``, ``key``, ``value``, ``output``.
            gradient_checkpointing (bool): recompute transformer activations in the
                backward.

        Raises:
            ValueError: ``target_length`` is not positive.
        """
        super().__init__(use_lm_head, default_config)
        if target_length is not None and target_length < 1:
            raise ValueError(f"target_length must be positive or None, not {target_length}.")
        self.target_length = target_length
        self.sequence_tokenizer = SequenceTokenizer(
            onehot_tokenizer(DNA + self.extra_residues),
            residues=DNA,
            extra_residues=self.extra_residues,
            max_length=max_length or self.default_max_length,
            unknown=unknown,
            truncation=truncation,
            name=type(self).__name__,
        )
        # Token id -> one-hot row: the four bases; N, unknown and padding are all zero.
        vocab = self.get_vocab()
        table = torch.zeros(len(vocab), 4)
        for channel, base in enumerate(_BASES):
            table[vocab[base], channel] = 1.0
        self.register_buffer("onehot_table", table, persistent=False)
        self.finetune = finetune
        targets = default_targets(lora_target_modules, self.lora_target_modules)
        self._lora = LoraSettings(
            r=lora_r, alpha=lora_alpha, dropout=lora_dropout, target_modules=targets
        )
        self._gradient_checkpointing = gradient_checkpointing

    def attach_model(self, model: EnformerModel) -> None:
        """Take the loaded or built model, then apply the kept fine-tuning options.

        Args:
            model (EnformerModel): the model.

        Raises:
            BackboneLoadError: the model's bins are not the class's ``output_bin_size``.
        """
        if model.config.bin_size != self.output_bin_size:
            raise BackboneLoadError(
                f"This Enformer has num_downsamples={model.config.num_downsamples} "
                f"({model.config.bin_size}-residue bins), but {type(self).__name__} "
                f"declares {self.output_bin_size}-residue bins: use a checkpoint with "
                "num_downsamples 7."
            )
        self.model = model
        self.model.gradient_checkpointing = self._gradient_checkpointing
        apply_finetune_mode(self.model, self.finetune, self._lora)

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, all_hidden_states: bool = False
    ) -> BackboneOutput:
        """Encode a padded batch into one state per bin of each window.

        Enformer has no attention mask, so padding would change the states: in eval mode
        items of different lengths run apart, and no item's states depend on its
        batch-mates. In training the batch runs as one (batch norm takes its statistics
        over the batch, as in the reference), shorter windows padded with all-zero (N)
        positions. A window of ``L`` residues gives ``ceil(L / 128)`` bins, or the central
        ``target_length``.

        Returns:
            BackboneOutput: ``last_hidden_state`` ``(batch, bins, 2 * dim)`` and an
            ``attention_mask`` over bins; ``hidden_states`` holds that output alone.

        Raises:
            ValueError: in training, a batch of one window of at most 128 residues (batch
                norm needs more than one value per channel).
        """
        mask = attention_mask.bool()
        dtype = next(self.model.parameters()).dtype
        onehot = self.onehot_table.to(dtype)[input_ids]
        lengths = mask.sum(1)
        crop = -1 if self.target_length is None else self.target_length
        groups = lengths.unique().tolist()
        if self.training or len(groups) == 1:
            if self.training and input_ids.shape[0] == 1 and groups[0] <= self.output_bin_size:
                raise ValueError(
                    f"{type(self).__name__} cannot train on a batch of one window of "
                    f"{groups[0]} residues: its batch norm needs more than one bin per batch. "
                    "Use a larger batch_size or longer windows."
                )
            states = self.model(onehot[:, : max(groups)], target_length=crop)
            bins_mask = torch.ones(states.shape[:2], dtype=torch.bool, device=states.device)
            if crop == -1 and len(groups) > 1:
                bins = -(-lengths // self.output_bin_size)
                positions = torch.arange(states.shape[1], device=states.device)
                bins_mask = positions[None] < bins.to(states.device)[:, None]
                states = states * bins_mask[..., None]
        else:
            outputs = {}
            for length in groups:
                rows = (lengths == length).nonzero().squeeze(1)
                outputs[length] = (rows, self.model(onehot[rows, :length], target_length=crop))
            width = max(out.shape[1] for _, out in outputs.values())
            first = next(iter(outputs.values()))[1]
            states = first.new_zeros(input_ids.shape[0], width, first.shape[-1])
            bins_mask = torch.zeros(states.shape[:2], dtype=torch.bool, device=states.device)
            for rows, out in outputs.values():
                states[rows, : out.shape[1]] = out
                bins_mask[rows, : out.shape[1]] = True
        return BackboneOutput(
            last_hidden_state=states,
            attention_mask=bins_mask,
            special_tokens_mask=~bins_mask,
            hidden_states=(states,) if all_hidden_states else None,
        )

    def predict_tracks(self, states: Tensor, head: str = "human") -> Tensor:
        """Apply one of the pretrained organism heads to the bin states.

        Args:
            states (Tensor): ``last_hidden_state`` of `forward`.
            head (str): ``"human"`` or ``"mouse"`` for the published model.

        Returns:
            Tensor: ``(batch, bins, tracks)`` positive values.
        """
        return self.model.predict_tracks(states, head)

    def get_embedding_size(self) -> int:
        """Return ``2 * dim``, the width of each bin's state."""
        return self.model.embedding_size

    def get_num_layer(self) -> int:
        """Return 0: only the trunk's output is exposed (``hidden_states`` holds it alone).

        The transformer's own states are ``dim`` wide and cover the uncropped bins, so they
        are not states of the output's size.
        """
        return 0

    def layer_classes(self) -> set[type[nn.Module]]:
        """Return the transformer layer class (the units for sharding and checkpointing)."""
        return {TransformerLayer}

    def train(self, mode: bool = True) -> EnformerFamily:
        """Set training mode; a frozen model stays in eval mode (batch norm statistics)."""
        super().train(mode)
        if mode and self.finetune == "frozen":
            self.model.eval()
        return self

    def write_pretrained(self, folder: Path) -> None:
        """Write ``config.json`` and ``model.safetensors`` in the published layout.

        ``Enformer(model_path=folder)`` loads the folder.
        """
        save_model(self.exportable_model(), folder)


class Enformer(EnformerFamily):
    """Enformer (Avsec et al. 2021): a convolution + transformer model of genome tracks.

    ``model_path`` defaults to ``EleutherAI/enformer-official-rough`` (enformer-pytorch's
    port of DeepMind's weights), or give a local folder holding its ``config.json`` and
    weights (``pytorch_model.bin`` or ``model.safetensors``). The states are the trunk's
    embeddings (3072 wide for the published model), one per 128-bp bin of the window;
    `predict_tracks` applies the pretrained human or mouse head.

    The gamma position features are computed as enformer-pytorch's ``Enformer`` class
    computes them; its separate ``from_pretrained()`` function swaps in TensorFlow's
    precomputed values for full 196,608-bp windows, which mg does not ship (they differ
    by up to ~2e-3).

    Args:
        use_lm_head (bool): reserved; Enformer has no masked-LM head.
        default_config (dict[str, Any] | None): reserved; ignored.
        model_path (str | None): a local folder or a Hub id; None is the published model.
        revision (str | None): branch, tag or commit of a Hub repository.
        cache_dir (str | None): Hub cache folder (default: ``HF_HOME``).
        **options (Any): the options every Enformer shares (``target_length``,
            ``max_length`` (default 196,608), ``unknown``, ``truncation``, ``finetune``, the
            ``lora_*`` options, ``gradient_checkpointing``); see `EnformerFamily`.
    """

    default_model_path: ClassVar[str] = ENFORMER_CHECKPOINTS["official-rough"]

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        model_path: str | None = None,
        revision: str | None = None,
        cache_dir: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(use_lm_head, default_config, **options)
        folder = model_folder(
            model_path or self.default_model_path,
            ["config.json", *WEIGHT_FILES],
            HubOptions(revision, cache_dir),
        )
        self.attach_model(load_model(folder))


TINY_SIZES: dict[str, Any] = dict(
    dim=48,
    depth=1,
    heads=2,
    attn_dim_key=8,
    dim_divisible_by=8,
    target_length=-1,
    output_heads={"human": 3, "mouse": 2},
)
"""The tiny configuration: every part of the architecture, a few thousand weights."""


class EnformerTiny(EnformerFamily):
    """A tiny Enformer (seeded random init, the real architecture); for tests and examples.

    Same options as `Enformer`, except that the model is built from `TINY_SIZES` (changed
    by ``config_overwrites``) with ``seed`` instead of loaded; windows default to 4,096
    residues (32 bins).

    Args:
        config_overwrites (dict[str, Any] | None): `EnformerConfig` fields to change.
        seed (int): seed of the random weights.
        **options (Any): as for `Enformer` (see `EnformerFamily`).
    """

    reloads_as: ClassVar[str] = "Enformer"
    """The registered family whose ``model_path`` reads what `save_pretrained` writes."""

    default_max_length: ClassVar[int] = 4096

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        config_overwrites: dict[str, Any] | None = None,
        seed: int = 0,
        **options: Any,
    ) -> None:
        super().__init__(use_lm_head, default_config, **options)
        overwrites = dict(config_overwrites or {})
        unknown = sorted(set(overwrites) - set(EnformerConfig.__dataclass_fields__))
        if unknown:
            raise ValueError(
                f"config_overwrites names {unknown}, which EnformerConfig does not have; it has "
                f"{sorted(EnformerConfig.__dataclass_fields__)}."
            )
        config = EnformerConfig(**{**TINY_SIZES, **overwrites})
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.attach_model(EnformerModel(config))
