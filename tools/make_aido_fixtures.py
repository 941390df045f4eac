"""Write the AIDO reference fixtures with ModelGenerator's own model classes.

Run with the interpreter of a throwaway environment that has ``modelgenerator`` installed
(0.1.3 needs ``pyarrow<19`` and ``datasets<3.3`` pinned to import)::

    /path/to/venv/bin/python tools/make_aido_fixtures.py

For each architecture it builds a tiny random model, saves it in the published layout
(``config.json`` and ``model.safetensors``), runs it on sequences tokenized by
ModelGenerator's own tokenizer (padding in the batch), and saves the inputs, the last
hidden states and the masked-LM logits to
``reference.safetensors`` beside it, with the versions and classes in ``source.json``.
mg's tests load the folder with mg's own implementation and compare.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[1] / "packages/mg-backbones/tests/fixtures"

SIZES = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48)


def _tokenize(tokenizer: object, sequences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """ModelGenerator's tokenizer on the sequences, padded to the longest (as it batches)."""
    batch = tokenizer(sequences, padding=True, add_special_tokens=True, return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"]


def _write(
    name: str, model: torch.nn.Module, sequences: list[str], ids: torch.Tensor, mask: torch.Tensor
) -> None:
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    save_file(
        {
            "input_ids": ids,
            "attention_mask": mask,
            "last_hidden_state": out.hidden_states[-1].contiguous(),
            "embeddings": out.hidden_states[0].contiguous(),
            "logits": out.logits.contiguous(),
        },
        folder / "reference.safetensors",
    )
    source = {
        "modelgenerator": importlib.metadata.version("modelgenerator"),
        "transformers": importlib.metadata.version("transformers"),
        "torch": torch.__version__,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "python": sys.version.split()[0],
    }
    source["sequences"] = sequences
    (folder / "source.json").write_text(json.dumps(source, indent=2) + "\n")
    print(name, source["class"], sum(p.numel() for p in model.parameters()), "parameters")


def rnabert() -> None:
    """AIDO.DNA / AIDO.RNA: ``RNABertForMaskedLM`` and ``RNABertTokenizer``."""
    import modelgenerator.huggingface_models.rnabert as package
    from modelgenerator.huggingface_models.rnabert import (
        RNABertConfig,
        RNABertForMaskedLM,
        RNABertTokenizer,
    )

    torch.manual_seed(0)
    config = RNABertConfig(vocab_size=16, max_position_embeddings=64, **SIZES)
    model = RNABertForMaskedLM(config)
    _randomise_norms(model)
    tokenizer = RNABertTokenizer(str(Path(package.__file__).parent / "vocab.txt"), version="v2")
    sequences = ["ACGTNGGCATTACG", "GGAUCNA", "UUAC"]
    _write("aido_rnabert", model, sequences, *_tokenize(tokenizer, sequences))


def fm4bio(name: str, **extra: object) -> None:
    """AIDO.Protein: ``FM4BioForMaskedLM`` (``extra``: e.g. the mixture of experts)."""
    import modelgenerator.huggingface_models.fm4bio as package
    from modelgenerator.huggingface_models.fm4bio import (
        FM4BioConfig,
        FM4BioForMaskedLM,
        FM4BioTokenizer,
    )

    torch.manual_seed(1)
    config = FM4BioConfig(vocab_size=44, max_position_embeddings=64, **SIZES, **extra)
    model = FM4BioForMaskedLM(config)
    _randomise_norms(model)
    tokenizer = FM4BioTokenizer(str(Path(package.__file__).parent / "vocab_protein.txt"))
    sequences = ["MKTAYIAKQRQISFVKSH", "MXBUZOACDE", "WYV"]
    _write(name, model, sequences, *_tokenize(tokenizer, sequences))


def _randomise_norms(model: torch.nn.Module) -> None:
    """Norm weights and biases start at 1 and 0; random ones catch a swapped or missed norm."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "ln" in name.split(".") or "LayerNorm" in name or name.endswith("bias"):
                parameter.add_(0.1 * torch.randn_like(parameter))


if __name__ == "__main__":
    rnabert()
    fm4bio("aido_fm4bio")
    fm4bio("aido_fm4bio_moe", moe=True, num_experts=4, experts_per_token=2)
