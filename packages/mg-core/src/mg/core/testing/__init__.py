"""Test kit for mg components and third-party plugins (needs pytest: ``mg-core[testing]``)."""

from mg.core.testing.toy import CharTokenizer, InMemoryData, ListDataset, ToyBackbone

__all__ = ["CharTokenizer", "InMemoryData", "ListDataset", "ToyBackbone"]
