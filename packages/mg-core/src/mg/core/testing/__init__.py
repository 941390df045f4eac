"""Test kit for mg components and third-party plugins (needs pytest: ``mg-core[testing]``)."""

from mg.core.testing.contracts import (
    AdapterContract,
    BackboneContract,
    PairwiseAdapterContract,
    TaskContract,
    fast_trainer,
)
from mg.core.testing.toy import CharTokenizer, InMemoryData, ListDataset, ToyBackbone

__all__ = [
    "AdapterContract",
    "BackboneContract",
    "CharTokenizer",
    "InMemoryData",
    "ListDataset",
    "PairwiseAdapterContract",
    "TaskContract",
    "ToyBackbone",
    "fast_trainer",
]
