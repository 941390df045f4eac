"""The traits of tasks that give one output per sequence (or cell) from a pooling head."""

from __future__ import annotations

from mg.adapters import LinearCLSAdapter
from mg.core import SequenceAdapter, TaskInterface
from mg.core.inputs import InputKind


class PerSequenceTask(TaskInterface):
    """Base of `SequenceClassification` and `SequenceRegression`.

    Both read sequences or cells, pool the backbone's states with a `SequenceAdapter`
    (the CLS head by default), so they take binned backbones and cached embeddings alike.
    Subclasses set ``label_kind``.
    """

    input_kinds = frozenset({InputKind.SEQUENCE, InputKind.CELLS})
    adapter_type = SequenceAdapter
    default_adapter = LinearCLSAdapter
    supports_embedding_cache = True
    accepts_binned_outputs = True  # the adapter pools with the backbone's own mask
