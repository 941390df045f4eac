"""Write the ESM C reference fixture with EvolutionaryScale's own ``esm`` package.

Run with the interpreter of a throwaway environment that has ``esm`` installed (3.2.1
pins ``transformers<4.48.2``, so it cannot share mg's environment; it also needs
``httpx`` installed by hand to import)::

    uv venv /tmp/esm-venv --python 3.11
    uv pip install --python /tmp/esm-venv/bin/python "esm==3.2.1.post1" httpx
    /tmp/esm-venv/bin/python tools/make_esmc_fixtures.py

It builds a tiny random ``esm.models.esmc.ESMC`` (the class behind ESMC_300M and
ESMC_600M, at a toy size), saves its state dict as the published checkpoints are laid out
(``data/weights/<name>.pth``, a plain state dict), runs it on sequences tokenized by the
package's own ``EsmSequenceTokenizer`` (padded to the longest, as the package batches), and
saves the token ids, every layer's hidden states, the final embeddings and the sequence
logits to ``reference.safetensors``; ``source.json`` records the versions, the class and
its constructor arguments (the published layout carries no config).
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[1] / "packages/mg-backbones/tests/fixtures/esmc_tiny"

SIZES = {"d_model": 64, "n_heads": 4, "n_layers": 2}

# Different lengths (padding in the batch), ambiguity letters and a mask token.
SEQUENCES = ["MKTAYIAKQRQISFVKSHFSRQ", "MXBUZOACDE", "WYV", "GGSL<mask>TPE"]


def _randomise_norms(model: torch.nn.Module) -> None:
    """Norm weights start at 1 and biases at 0; random ones catch a swapped or missed one."""
    with torch.no_grad():
        for _, parameter in model.named_parameters():
            if parameter.dim() == 1:
                parameter.add_(0.1 * torch.randn_like(parameter))


def main() -> None:
    """Build the tiny model, run it and write the fixture folder."""
    from esm.models.esmc import ESMC
    from esm.tokenization import get_esmc_model_tokenizers
    from esm.utils import encoding
    from esm.utils.misc import stack_variable_length_tensors

    torch.manual_seed(0)
    tokenizer = get_esmc_model_tokenizers()
    model = ESMC(**SIZES, tokenizer=tokenizer, use_flash_attn=False).eval()
    _randomise_norms(model)

    ids = stack_variable_length_tensors(
        [encoding.tokenize_sequence(s, tokenizer, add_special_tokens=True) for s in SEQUENCES],
        constant_value=tokenizer.pad_token_id,
    )
    with torch.no_grad():
        output = model(sequence_tokens=ids)

    weights = OUT / "data" / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), weights / "esmc_tiny_v0.pth")
    tensors = {
        "input_ids": ids,
        "attention_mask": ids != tokenizer.pad_token_id,
        "embeddings": output.embeddings.contiguous(),
        "logits": output.sequence_logits.contiguous(),
    }
    for index, hidden in enumerate(output.hidden_states):
        tensors[f"hidden_state_{index}"] = hidden.contiguous()
    save_file(tensors, OUT / "reference.safetensors")
    source = {
        "esm": importlib.metadata.version("esm"),
        "transformers": importlib.metadata.version("transformers"),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "init": SIZES,
        "tokenizer": f"{type(tokenizer).__module__}.{type(tokenizer).__qualname__}",
        "sequences": SEQUENCES,
    }
    (OUT / "source.json").write_text(json.dumps(source, indent=2) + "\n")
    print(source["class"], sum(p.numel() for p in model.parameters()), "parameters")


if __name__ == "__main__":
    main()
