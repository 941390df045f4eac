"""Read Geneformer's gene dictionaries as data: JSON, or pickles that hold only plain values.

Geneformer ships its token and gene-median dictionaries as Python pickles. Unpickling
can run arbitrary code, so mg never calls ``pickle.load`` on them: `read_dictionary`
reads JSON as is, and reads a pickle with an unpickler that builds dicts, strings and
numbers only (numpy number scalars included, the one thing those files hold besides);
any other object in the file stops it with the file's name. ``mg``'s documented way to
convert once is::

    python -m mg.backbones.cells.dictionaries token_dictionary.pkl token_dictionary.json
"""

from __future__ import annotations

import io
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np

# The only globals a dictionary of numbers may name: numpy's scalar rebuild and dtypes.
_ALLOWED = {
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "dtype"),
}


class _PlainUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, where: str) -> None:
        super().__init__(io.BytesIO(data))
        self.where = where

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            if name == "dtype":
                return _checked_dtype
            return _number_scalar
        raise ValueError(
            f"{self.where} asks to build {module}.{name}, which a gene dictionary never holds; "
            "mg reads only dicts of names and numbers from pickles (convert it to JSON where "
            "you trust it)."
        )


def _checked_dtype(spec: Any, *args: Any) -> np.dtype:
    dtype = np.dtype(spec)
    if dtype.kind not in "biuf":
        raise ValueError(f"a gene dictionary holds numbers only, not {dtype}")
    return dtype


def _number_scalar(dtype: np.dtype, data: bytes = b"", *_: Any) -> float | int:
    if dtype.kind not in "biuf":
        raise ValueError(f"a gene dictionary holds numbers only, not {dtype}")
    return np.frombuffer(data, dtype=dtype, count=1)[0].item()


def read_dictionary(path: str | Path) -> dict[str, float | int]:
    """Read a gene → number dictionary from JSON or a plain-values pickle.

    Args:
        path (str | Path): a ``.json`` or ``.pkl`` file.

    Returns:
        dict[str, float | int]: the dictionary, keys as text.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file holds anything but names and numbers (nothing is run).
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise FileNotFoundError(f"{where} does not exist: give Geneformer's dictionary file.")
    data = path.read_bytes()
    if path.suffix == ".json":
        values = json.loads(data)
    else:
        values = _PlainUnpickler(data, where).load()
    if not isinstance(values, dict):
        raise ValueError(f"{where} holds a {type(values).__name__}, not a dictionary.")
    for key, value in values.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"{where}: {key!r} maps to {value!r}, not a number.")
    return {str(k): v for k, v in values.items()}


def convert(source: str | Path, target: str | Path) -> None:
    """Write a dictionary read safely from ``source`` to ``target`` as JSON."""
    values = read_dictionary(source)
    Path(target).write_text(json.dumps(values, indent=0) + "\n", encoding="utf-8")


if __name__ == "__main__":
    convert(sys.argv[1], sys.argv[2])
