"""Write the Borzoi and Flashzoi reference fixtures with borzoi-pytorch's own model class.

Run with the interpreter of a throwaway environment that has ``borzoi-pytorch==0.5.1``
installed (it pins transformers 4.x, so it cannot live in mg's environment)::

    uv venv /tmp/borzoi-venv --python 3.11
    uv pip install --python /tmp/borzoi-venv/bin/python borzoi-pytorch==0.5.1 torch "transformers<5"
    /tmp/borzoi-venv/bin/python tools/make_borzoi_fixtures.py

borzoi-pytorch fixes the convolution widths (512 to 1920 channels) and track counts in its
code, which would make a fixture of tens of megabytes. So the script builds
``borzoi_pytorch.Borzoi`` with a tiny transformer, then swaps each convolution module for
a narrower one of borzoi-pytorch's own classes (``ConvBlock``, ``nn.Conv1d``); the forward
pass is borzoi-pytorch's unchanged. The widths go into ``config.json`` as the extra fields
mg reads (``stem_channels``, ``tower_channels``, ``final_channels``, ``human_tracks``,
``mouse_tracks``); borzoi-pytorch's config keeps them as unused attributes.

Flashzoi's attention is flash-attn's ``MHA``, which only runs on a GPU with flash-attn's
CUDA kernels. On CPU the script installs a stand-in ``flash_attn.modules.mha.MHA`` with the
same parameters and names (``Wqkv``, ``out_proj``) that computes the same function with
transformers' own rotary helper (``apply_rotary_pos_emb``, the non-interleaved "rotate
half" form flash-attn uses by default) and PyTorch's grouped-query
``scaled_dot_product_attention``. borzoi-pytorch asks for 128 rotary features, more than a
tiny head has; the stand-in rotates ``ROTARY_DIM`` instead (written to ``config.json`` as
``rotary_dim``).

Every model is seeded; attention outputs, norms and biases are randomised (the reference
zero-initialises or sets them to identity) and the batch-norm statistics come from a few
training-mode passes. Each folder holds ``config.json``, the weights in the published
layout (borzoi-pytorch's key names), ``reference.safetensors`` (one-hot windows, trunk
embeddings cropped and uncropped, both heads' outputs, all in eval mode) and
``source.json`` (versions, class, windows).
"""

from __future__ import annotations

import importlib.metadata
import json
import random
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn
from torch.nn import functional as F
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

FIXTURES = Path(__file__).resolve().parents[1] / "packages/mg-backbones/tests/fixtures"

SIZES = dict(dim=32, depth=2, heads=4, attn_dim_key=8, attn_dim_value=12, bins_to_return=24)
STEM, TOWER, FINAL, HUMAN, MOUSE = 12, [12, 14, 16, 18, 20], 16, 3, 2
ROTARY_DIM = 4  # of 8 features per tiny Flashzoi head: rotated and passed-through parts
WINDOW = 1024  # 32 bins of 32 bp, 8 transformer positions
BASES = "ACGT"


class PlainMHA(nn.Module):
    """flash-attn's ``MHA`` as Flashzoi configures it, computed without flash-attn."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        num_heads_kv: int,
        qkv_proj_bias: bool,
        out_proj_bias: bool,
        dropout: float,
        softmax_scale: float,
        rotary_emb_base: float,
        **_: object,
    ) -> None:
        super().__init__()
        self.heads, self.kv_heads = num_heads, num_heads_kv
        self.size = embed_dim // num_heads
        self.scale, self.base = softmax_scale, rotary_emb_base
        width = self.size * (num_heads + 2 * num_heads_kv)
        self.Wqkv = nn.Linear(embed_dim, width, bias=qkv_proj_bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=out_proj_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, n, dim)`` → ``(batch, n, dim)``."""
        b, n, _ = x.shape
        qkv = self.Wqkv(x)
        q = qkv[..., : self.heads * self.size].view(b, n, self.heads, self.size)
        kv = qkv[..., self.heads * self.size :].view(b, n, 2, self.kv_heads, self.size)
        q, k, v = q.transpose(1, 2), kv[:, :, 0].transpose(1, 2), kv[:, :, 1].transpose(1, 2)
        inv_freq = 1.0 / self.base ** (torch.arange(0, ROTARY_DIM, 2).float() / ROTARY_DIM)
        freqs = torch.outer(torch.arange(n).float(), inv_freq)
        angles = torch.cat([freqs, freqs], dim=-1)[None]
        q_rot, k_rot = apply_rotary_pos_emb(
            q[..., :ROTARY_DIM], k[..., :ROTARY_DIM], angles.cos(), angles.sin()
        )
        q = torch.cat([q_rot, q[..., ROTARY_DIM:]], dim=-1)
        k = torch.cat([k_rot, k[..., ROTARY_DIM:]], dim=-1)
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale, enable_gqa=True)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, -1))


@contextmanager
def _plain_flash_attn() -> Iterator[None]:
    """Let borzoi-pytorch import ``PlainMHA`` as flash-attn's ``MHA`` while it builds."""
    names = ("flash_attn", "flash_attn.modules", "flash_attn.modules.mha")
    for name in names:
        sys.modules[name] = types.ModuleType(name)
    sys.modules["flash_attn.modules.mha"].MHA = PlainMHA  # type: ignore[attr-defined]
    try:
        yield
    finally:  # transformers probes for flash_attn later: it must not find the stand-in
        for name in names:
            del sys.modules[name]


def _windows() -> list[str]:
    rng = random.Random(0)
    first = "".join(rng.choice(BASES) for _ in range(WINDOW))
    second = "".join(rng.choice("ACGTN") for _ in range(WINDOW))  # N is all-zero
    return [first, second]


def _onehot(windows: list[str]) -> torch.Tensor:
    """``(batch, 4, length)`` one-hot in A, C, G, T order; N (and anything else) all zero."""
    out = torch.zeros(len(windows), 4, len(windows[0]))
    for row, window in enumerate(windows):
        for position, base in enumerate(window):
            if base in BASES:
                out[row, BASES.index(base), position] = 1.0
    return out


def _shrink(model: nn.Module) -> None:
    """Swap the fixed-width convolutions for narrow ones of borzoi-pytorch's classes."""
    from borzoi_pytorch.pytorch_borzoi_model import ConvBlock

    dim = model.config.dim
    model.conv_dna.conv_layer = nn.Conv1d(4, STEM, 15, padding="same")
    widths = [STEM, *TOWER]
    for k in range(len(TOWER)):
        model.res_tower[2 * k] = ConvBlock(widths[k], widths[k + 1], kernel_size=5)
    model.unet1[1] = ConvBlock(TOWER[-1], dim, kernel_size=5)
    model.horizontal_conv0 = ConvBlock(TOWER[-1], dim, kernel_size=1)
    model.final_joined_convs[0] = ConvBlock(dim, FINAL, kernel_size=1)
    model.human_head = nn.Conv1d(FINAL, HUMAN, 1)
    model.mouse_head = nn.Conv1d(FINAL, MOUSE, 1)
    for name, value in dict(
        stem_channels=STEM,
        tower_channels=TOWER,
        final_channels=FINAL,
        human_tracks=HUMAN,
        mouse_tracks=MOUSE,
        rotary_dim=ROTARY_DIM,
    ).items():
        setattr(model.config, name, value)


def _randomise(model: nn.Module) -> None:
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "to_out" in name or "out_proj" in name or name.endswith("bias"):
                parameter.normal_(0.0, 0.2)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d | nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)


def build(flashed: bool, folder: Path, weights: str) -> None:
    """Build, save and run one tiny reference model."""
    from borzoi_pytorch import Borzoi
    from borzoi_pytorch.config_borzoi import BorzoiConfig

    torch.manual_seed(0)
    config = BorzoiConfig(**SIZES, enable_mouse_head=True, flashed=flashed)
    with _plain_flash_attn():
        model = Borzoi(config)
    _shrink(model)
    _randomise(model)
    windows = _windows()
    onehot = _onehot(windows)
    model.train()
    with torch.no_grad():  # fill the batch-norm running statistics with real values
        for _ in range(3):
            model(onehot)
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=weights == "model.safetensors")
    assert (folder / weights).is_file()
    tensors: dict[str, torch.Tensor] = {"onehot": onehot.transpose(1, 2)}
    with torch.no_grad():
        human, cropped = model(onehot, return_embeddings=True)
        tensors["embeddings_cropped"] = cropped.transpose(1, 2)
        tensors["human_cropped"] = human.transpose(1, 2)
        model.crop.target_length = -1  # every bin of the window
        human, full = model(onehot, return_embeddings=True)
        tensors["embeddings"] = full.transpose(1, 2)
        tensors["human"] = human.transpose(1, 2)
        tensors["mouse"] = model(onehot, is_human=False).transpose(1, 2)
    save_file({k: v.contiguous() for k, v in tensors.items()}, folder / "reference.safetensors")
    source = {
        "borzoi-pytorch": importlib.metadata.version("borzoi-pytorch"),
        "transformers": importlib.metadata.version("transformers"),
        "torch": torch.__version__,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "attention": f"{PlainMHA.__name__} (stand-in for flash_attn MHA)" if flashed else "",
        "python": sys.version.split()[0],
        "sequences": windows,
    }
    (folder / "source.json").write_text(json.dumps(source, indent=2) + "\n")
    print(f"wrote {folder}")


def main() -> None:
    """Write both fixtures."""
    build(False, FIXTURES / "borzoi_tiny", "model.safetensors")
    build(True, FIXTURES / "flashzoi_tiny", "pytorch_model.bin")


if __name__ == "__main__":
    main()
