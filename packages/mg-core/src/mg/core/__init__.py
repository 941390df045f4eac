"""mg-core: the interfaces every mg component implements.

Importing this package loads torch and lightning, never transformers.
"""

from importlib.metadata import version

from mg.core.adapters import (
    ConditionalGenerationAdapter,
    ConditionalGenerationAdapterCallable,
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
