"""Borzoi, Flashzoi and their tiny versions as mg backbones: one state per 32-bp bin.

mg's own code runs the model (`mg.backbones.borzoi.modeling`); the published checkpoints
``johahi/borzoi-replicate-0`` and ``johahi/flashzoi-replicate-0`` load as data (no
``trust_remote_code``, no borzoi-pytorch).

Borzoi reads the same one-hot windows as Enformer and shares its handling of them
(`EnformerFamily`: N all zero, items of different lengths run apart in eval mode, bins
masked per item); it declares ``output_bin_size = 32``, so the compatibility check pairs
it only with tasks that read bins or pool the sequence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from mg.backbones.borzoi.config import BorzoiConfig
from mg.backbones.borzoi.modeling import BorzoiModel
from mg.backbones.borzoi.weights import load_model, save_model
from mg.backbones.enformer.families import EnformerFamily
from mg.backbones.loading import WEIGHT_FILES, HubOptions, model_folder

BORZOI_CHECKPOINTS: dict[str, str] = {
    "borzoi-replicate-0": "johahi/borzoi-replicate-0",
    "flashzoi-replicate-0": "johahi/flashzoi-replicate-0",
}
"""Published Borzoi and Flashzoi checkpoints (borzoi-pytorch's ports)."""

PUBLISHED_WINDOW = 524_288
"""Residues per window the published models were trained on (16,384 bins of 32)."""


class BorzoiFamily(EnformerFamily):
    """A Borzoi or Flashzoi backbone: one-hot DNA (N all zero), one state per 32-bp bin.

    The options are Enformer's (see `EnformerFamily`): ``target_length`` (None keeps every
    bin; 6144 is the published crop), ``max_length``, ``unknown``, ``truncation``,
    ``finetune``, the ``lora_*`` options (default targets: the attention's ``query``,
    ``key``, ``value`` and ``output``, in Flashzoi too) and ``gradient_checkpointing``.
    Windows that are not a multiple of 128 residues are padded with N inside the model.
    The states are ``final_channels`` wide (1920 when published); the transformer layers
    (Enformer's `TransformerLayer`) are the units for sharding and checkpointing.
    """

    output_bin_size = 32
    default_max_length: ClassVar[int] = PUBLISHED_WINDOW

    model: BorzoiModel  # type: ignore[assignment]

    def write_pretrained(self, folder: Path) -> None:
        """Write ``config.json`` and ``model.safetensors`` in the published layout.

        ``Borzoi(model_path=folder)`` (or ``Flashzoi``) loads the folder.
        """
        save_model(self.exportable_model(), folder)


class Borzoi(BorzoiFamily):
    """Borzoi (Linder et al. 2025): a U-Net + transformer model of genome tracks at 32 bp.

    Borzoi predicts RNA-seq coverage and other tracks from 524,288-bp windows.
    ``model_path`` defaults to ``johahi/borzoi-replicate-0`` (borzoi-pytorch's port of
    Calico's first replicate), or give a local folder holding its ``config.json`` and
    weights (``model.safetensors`` or ``pytorch_model.bin``). The folder's config decides
    the attention: a Flashzoi folder (``flashed: true``) loads as Flashzoi. The states are
    the embeddings the track heads read (1920 wide for the published model), one per 32-bp
    bin; `predict_tracks` applies the pretrained human head (and the mouse head where the
    checkpoint has one).

    Args:
        use_lm_head (bool): reserved; Borzoi has no masked-LM head.
        default_config (dict[str, Any] | None): reserved; ignored.
        model_path (str | None): a local folder or a Hub id; None is the published model.
        revision (str | None): branch, tag or commit of a Hub repository.
        cache_dir (str | None): Hub cache folder (default: ``HF_HOME``).
        **options (Any): the options every Borzoi shares (see `BorzoiFamily`);
            ``max_length`` defaults to 524,288.
    """

    default_model_path: ClassVar[str] = BORZOI_CHECKPOINTS["borzoi-replicate-0"]

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


class Flashzoi(Borzoi):
    """Flashzoi (Hingerl et al. 2025): Borzoi with rotary attention, faster and as accurate.

    Like `Borzoi`, with ``model_path`` defaulting to ``johahi/flashzoi-replicate-0``. The
    reference runs its attention with the flash-attn kernels on a GPU; mg computes the same
    function with plain PyTorch, so it runs on any device.
    """

    default_model_path: ClassVar[str] = BORZOI_CHECKPOINTS["flashzoi-replicate-0"]


TINY_SIZES: dict[str, Any] = dict(
    dim=32,
    depth=1,
    heads=4,
    attn_dim_key=8,
    attn_dim_value=8,
    stem_channels=16,
    tower_channels=[16, 20, 24, 28, 32],
    final_channels=24,
    human_tracks=3,
    mouse_tracks=2,
    enable_mouse_head=True,
    return_center_bins_only=False,
    rotary_dim=4,
)
"""The tiny configuration: every part of the architecture, a few ten thousand weights."""


class BorzoiTiny(BorzoiFamily):
    """A tiny Borzoi (seeded random init, the real architecture); for tests and examples.

    Same options as `Borzoi`, except that the model is built from `TINY_SIZES` (changed
    by ``config_overwrites``) with ``seed`` instead of loaded; windows default to 4,096
    residues (128 bins).

    Args:
        config_overwrites (dict[str, Any] | None): `BorzoiConfig` fields to change.
        seed (int): seed of the random weights.
        **options (Any): as for `Borzoi` (see `BorzoiFamily`).
    """

    reloads_as: ClassVar[str] = "Borzoi"
    """The registered family whose ``model_path`` reads what `save_pretrained` writes."""

    default_max_length: ClassVar[int] = 4096
    flashed: ClassVar[bool] = False

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
        unknown = sorted(set(overwrites) - set(BorzoiConfig.__dataclass_fields__))
        if unknown:
            raise ValueError(
                f"config_overwrites names {unknown}, which BorzoiConfig does not have; it has "
                f"{sorted(BorzoiConfig.__dataclass_fields__)}."
            )
        config = BorzoiConfig(**{**TINY_SIZES, "flashed": self.flashed, **overwrites})
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.attach_model(BorzoiModel(config))


class FlashzoiTiny(BorzoiTiny):
    """A tiny Flashzoi (rotary attention); otherwise as `BorzoiTiny`."""

    reloads_as: ClassVar[str] = "Flashzoi"
    flashed: ClassVar[bool] = True
