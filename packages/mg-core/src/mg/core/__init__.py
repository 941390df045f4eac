"""mg-core: the interfaces every mg component implements.

Names are imported on first use, so ``import mg.core.registry`` (what ``mg list`` needs)
does not load torch. Importing this package never loads transformers.
"""

from __future__ import annotations

import importlib
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

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
        TokenizedBatch,
    )
    from mg.core.compat import CompatibilityReport, IncompatibleError, check_compatibility
    from mg.core.data import DataInterface
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
        "TokenizedBatch",
    ],
    "mg.core.compat": ["CompatibilityReport", "IncompatibleError", "check_compatibility"],
    "mg.core.data": ["DataInterface"],
    "mg.core.task": ["LRSchedulerCallable", "OptimizerCallable", "TaskInterface"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__version__ = version("mg-core")
__all__ = [
    "BackboneCallable",
    "BackboneInterface",
    "BackboneOutput",
    "Capability",
    "CompatibilityReport",
    "ConditionalGenerationAdapter",
    "ConditionalGenerationAdapterCallable",
    "DataInterface",
    "FusionAdapter",
    "FusionAdapterCallable",
    "IncompatibleError",
    "LRSchedulerCallable",
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
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'mg.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
