"""mg-core: the interfaces every mg component implements.

Names are imported on first use, so ``import mg.core.registry`` (what ``mg list`` needs)
does not load torch. Importing this package never loads transformers.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING

from mg.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mg.core.adapters import (
        ConditionalGenerationAdapter,
        ConditionalGenerationAdapterCallable,
        FusionAdapter,
        FusionAdapterCallable,
        PairwiseAdapter,
        PairwiseAdapterCallable,
        SequenceAdapter,
        SequenceAdapterCallable,
        TokenAdapter,
        TokenAdapterCallable,
    )
    from mg.core.backbone import (
        BackboneCallable,
        BackboneInterface,
        BackboneOutput,
        Capability,
        Modality,
    )
    from mg.core.cells import CellBackboneInterface, GeneIdKind, GeneVocabulary
    from mg.core.compat import CompatibilityReport, IncompatibleError, check_compatibility
    from mg.core.data import DataInterface, LabelKind
    from mg.core.inputs import InputKind
    from mg.core.padding import TokenizedBatch, pad_labels, pad_tokens
    from mg.core.task import LRSchedulerCallable, OptimizerCallable, TaskInterface

_EXPORTS = {
    "mg.core.adapters": [
        "ConditionalGenerationAdapter",
        "ConditionalGenerationAdapterCallable",
        "FusionAdapter",
        "FusionAdapterCallable",
        "PairwiseAdapter",
        "PairwiseAdapterCallable",
        "SequenceAdapter",
        "SequenceAdapterCallable",
        "TokenAdapter",
        "TokenAdapterCallable",
    ],
    "mg.core.backbone": [
        "BackboneCallable",
        "BackboneInterface",
        "BackboneOutput",
        "Capability",
        "Modality",
    ],
    "mg.core.cells": ["CellBackboneInterface", "GeneIdKind", "GeneVocabulary"],
    "mg.core.compat": ["CompatibilityReport", "IncompatibleError", "check_compatibility"],
    "mg.core.data": ["DataInterface", "LabelKind"],
    "mg.core.inputs": ["InputKind"],
    "mg.core.padding": ["TokenizedBatch", "pad_labels", "pad_tokens"],
    "mg.core.task": ["LRSchedulerCallable", "OptimizerCallable", "TaskInterface"],
}
__version__ = version("mg-core")
__all__ = [
    "BackboneCallable",
    "BackboneInterface",
    "BackboneOutput",
    "Capability",
    "CellBackboneInterface",
    "CompatibilityReport",
    "ConditionalGenerationAdapter",
    "ConditionalGenerationAdapterCallable",
    "DataInterface",
    "FusionAdapter",
    "FusionAdapterCallable",
    "GeneIdKind",
    "GeneVocabulary",
    "IncompatibleError",
    "InputKind",
    "LRSchedulerCallable",
    "LabelKind",
    "Modality",
    "OptimizerCallable",
    "PairwiseAdapter",
    "PairwiseAdapterCallable",
    "SequenceAdapter",
    "SequenceAdapterCallable",
    "TaskInterface",
    "TokenAdapter",
    "TokenAdapterCallable",
    "TokenizedBatch",
    "check_compatibility",
    "pad_labels",
    "pad_tokens",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
