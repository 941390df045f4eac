"""mg-tasks: the tasks, the data module they read from, and their metrics.

Each task is a `mg.core.TaskInterface`: it builds a backbone and an adapter, batches
samples in ``collate``, runs them in ``forward`` and scores them in ``evaluate``.
"""

from importlib.metadata import version

from mg.tasks.classification import SequenceClassification, TokenClassification
from mg.tasks.conditional_mlm import ConditionalMLM
from mg.tasks.data import SequenceData
from mg.tasks.diffusion import ConditionalDiffusion, Diffusion
from mg.tasks.embedding import Embed
from mg.tasks.fusion import FusionClassification, FusionRegression
from mg.tasks.masked_lm import MLM, Inference
from mg.tasks.pairwise import PairwiseTokenClassification
from mg.tasks.regression import SequenceRegression
from mg.tasks.schedules import ConstantWarmupLR, CosineWarmupLR, LinearWarmupLR
from mg.tasks.variant_effect import VariantEmbeddingDistance, VariantLikelihoodRatio

__version__ = version("mg-tasks")

__all__ = [
    "MLM",
    "ConditionalDiffusion",
    "ConditionalMLM",
    "ConstantWarmupLR",
    "CosineWarmupLR",
    "Diffusion",
    "Embed",
    "FusionClassification",
    "FusionRegression",
    "Inference",
    "LinearWarmupLR",
    "PairwiseTokenClassification",
    "SequenceClassification",
    "SequenceData",
    "SequenceRegression",
    "TokenClassification",
    "VariantEmbeddingDistance",
    "VariantLikelihoodRatio",
]
