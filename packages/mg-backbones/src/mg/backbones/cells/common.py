"""What the cell backbones share: their gene lists and their weights files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from mg.backbones.loading import BackboneLoadError, resolve_model_path
from mg.core.cells import GeneVocabulary

DATA = Path(__file__).parent / "data"


def gene_vocabulary(
    genes: Sequence[str] | str | None,
    default_config: dict[str, Any] | None,
    *,
    default: str | None = None,
    who: str,
) -> GeneVocabulary:
    """Return a backbone's genes from its option, the task's defaults, or a shipped list.

    Args:
        genes (Sequence[str] | str | None): the genes, or a text file with one per line.
        default_config (dict[str, Any] | None): task defaults; ``"genes"`` there is used
            when the option is unset (a task passes the data's genes to the baseline).
        default (str | None): the name of a gene list shipped in this package.
        who (str): the backbone's name, for messages.

    Raises:
        ValueError: no genes anywhere.
    """
    chosen = genes if genes is not None else (default_config or {}).get("genes")
    if chosen is None and default is not None:
        return GeneVocabulary.from_file(DATA / default)
    if chosen is None:
        raise ValueError(
            f"{who} needs its genes: set genes to a list of gene names or to a text file "
            "with one gene per line."
        )
    if isinstance(chosen, str | Path):
        return GeneVocabulary.from_file(chosen)
    return GeneVocabulary.from_names(list(chosen))


def model_folder(model_path: str, files: Sequence[str]) -> Path:
    """Return a local folder holding a model's files, downloading them from the Hub if needed.

    Args:
        model_path (str): a local folder or a Hub id.
        files (Sequence[str]): glob patterns of the files needed (config, weights).

    Raises:
        BackboneLoadError: a Hub id that cannot be reached or is not cached.
    """
    source, is_local = resolve_model_path(model_path)
    if is_local:
        return Path(source)
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(source, allow_patterns=list(files)))
    except Exception as error:  # the hub raises many types; all mean "not available"
        raise BackboneLoadError(
            f"model_path {model_path!r} could not be fetched from the Hugging Face Hub "
            f"({type(error).__name__}); check the id and your network, or give a local folder."
        ) from None


def read_config(folder: Path) -> dict[str, Any]:
    """Read ``config.json`` of a model folder as plain data."""
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """Read a model folder's weights as data: safetensors, else a weights-only torch load.

    Raises:
        BackboneLoadError: the folder holds no weights file.
    """
    safetensors = sorted(folder.glob("model*.safetensors"))
    if safetensors:
        from safetensors.torch import load_file

        state: dict[str, torch.Tensor] = {}
        for path in safetensors:
            state.update(load_file(str(path)))
        return state
    binary = folder / "pytorch_model.bin"
    if binary.is_file():
        return torch.load(binary, map_location="cpu", weights_only=True)
    raise BackboneLoadError(
        f"{folder} holds no weights (model.safetensors or pytorch_model.bin): point model_path "
        "at the folder that save_pretrained wrote."
    )
