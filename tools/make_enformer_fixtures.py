"""Write the Enformer reference fixture with enformer-pytorch's own model class.

Run with the interpreter of a throwaway environment that has ``enformer-pytorch==0.8.12``
installed (it pins transformers 4.x, so it cannot live in mg's environment)::

    uv venv /tmp/enformer-venv --python 3.11
    uv pip install --python /tmp/enformer-venv/bin/python enformer-pytorch==0.8.12
    /tmp/enformer-venv/bin/python tools/make_enformer_fixtures.py

It builds a tiny random ``enformer_pytorch.Enformer`` (seeded; batch-norm statistics made
non-trivial by a few training-mode passes), saves it as the published checkpoint
``EleutherAI/enformer-official-rough`` is laid out (``config.json`` and
``pytorch_model.bin`` with the module's own key names, ``_trunk.*`` aliases included),
runs it in eval mode on a few one-hot windows, and saves the windows, the trunk
embeddings and both heads' outputs to ``reference.safetensors`` beside it, with the
versions and class in ``source.json``. mg's tests load the folder with mg's own
implementation and compare.
"""

from __future__ import annotations

import importlib.metadata
import json
import random
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[1] / "packages/mg-backbones/tests/fixtures/enformer_tiny"

CONFIG = dict(
    dim=48,
    depth=1,
    heads=2,
    attn_dim_key=8,
    num_downsamples=7,
    dim_divisible_by=8,
    target_length=4,
    output_heads={"human": 3, "mouse": 2},
)

WINDOW = 1024  # 8 bins of 128 bp
SHORT = 1000  # not a whole number of bins: exercises the pools' odd-length padding


def _windows() -> list[str]:
    rng = random.Random(0)
    first = "".join(rng.choice("ACGT") for _ in range(WINDOW))
    second = "".join(rng.choice("ACGTN") for _ in range(WINDOW))  # N is all-zero
    short = "".join(rng.choice("ACGT") for _ in range(SHORT))
    return [first, second, short]


def _heads(model: torch.nn.Module, embeddings: torch.Tensor) -> dict[str, torch.Tensor]:
    return {name: head(embeddings) for name, head in model.heads.items()}


def main() -> None:
    """Build, save and run the tiny reference model."""
    from enformer_pytorch import Enformer
    from enformer_pytorch.data import str_to_one_hot

    torch.manual_seed(0)
    model = Enformer.from_hparams(**CONFIG)
    # The reference zero-initialises each attention output projection, sets the pools to a
    # fixed pattern and the norms to identity; random values make the comparison test
    # every weight.
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "to_out" in name or "to_attn_logits" in name:
                parameter.normal_(0.0, 0.2)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d | torch.nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
    windows = _windows()
    model.train()
    with torch.no_grad():  # fill the batch-norm running statistics with real values
        for _ in range(3):
            model(str_to_one_hot(windows[:2]), return_only_embeddings=True)
    model.eval()
    OUT.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(OUT, safe_serialization=False)
    tensors: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        pair = str_to_one_hot(windows[:2])
        short = str_to_one_hot(windows[2:])
        tensors["onehot"] = pair
        tensors["onehot_short"] = short
        cropped = model(pair, return_only_embeddings=True)
        tensors["embeddings_cropped"] = cropped
        for name, out in _heads(model, cropped).items():
            tensors[f"{name}_cropped"] = out
        model.set_target_length(-1)  # every bin of the window
        full = model(pair, return_only_embeddings=True)
        tensors["embeddings"] = full
        for name, out in _heads(model, full).items():
            tensors[name] = out
        tensors["embeddings_short"] = model(short, return_only_embeddings=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, OUT / "reference.safetensors")
    source = {
        "enformer-pytorch": importlib.metadata.version("enformer-pytorch"),
        "transformers": importlib.metadata.version("transformers"),
        "torch": torch.__version__,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "python": sys.version.split()[0],
        "sequences": windows,
    }
    (OUT / "source.json").write_text(json.dumps(source, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
