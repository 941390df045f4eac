"""mg-adapters: heads that turn backbone hidden states into what a task needs.

Sequence-level heads (`mg.core.SequenceAdapter`, for SequenceClassification and
SequenceRegression), token-level heads (`mg.core.TokenAdapter`, for TokenClassification),
pairwise heads (`mg.core.PairwiseAdapter`, for PairwiseTokenClassification) and a
conditional LM head (`mg.core.ConditionalGenerationAdapter`, for ConditionalDiffusion and
ConditionalMLM) and fusion heads over several backbones (`mg.core.FusionAdapter`).
"""

from importlib.metadata import version

from mg.adapters.conditional import ConditionalLMAdapter
from mg.adapters.fusion import ConcatFusionAdapter, CrossAttentionFusionAdapter
from mg.adapters.layers import Activation, make_activation, make_mlp
from mg.adapters.pairwise import MLPPairwiseAdapter, ResNet2DPairwiseAdapter, pair_mask
from mg.adapters.pooling import (
    Pooling,
    check_mask,
    cls_pool,
    masked_max,
    masked_mean,
    pool,
    zero_padding,
)
from mg.adapters.sequence import (
    LinearCLSAdapter,
    LinearMaxPoolAdapter,
    LinearMeanPoolAdapter,
    MLPPoolAdapter,
    ResNet1DAdapter,
    TransformerPoolAdapter,
)
from mg.adapters.token import LinearTokenAdapter, MLPTokenAdapter

__version__ = version("mg-adapters")

__all__ = [
    "Activation",
    "ConcatFusionAdapter",
    "ConditionalLMAdapter",
    "CrossAttentionFusionAdapter",
    "LinearCLSAdapter",
    "LinearMaxPoolAdapter",
    "LinearMeanPoolAdapter",
    "LinearTokenAdapter",
    "MLPPairwiseAdapter",
    "MLPPoolAdapter",
    "MLPTokenAdapter",
    "Pooling",
    "ResNet1DAdapter",
    "ResNet2DPairwiseAdapter",
    "TransformerPoolAdapter",
    "check_mask",
    "cls_pool",
    "make_activation",
    "make_mlp",
    "masked_max",
    "masked_mean",
    "pair_mask",
    "pool",
    "zero_padding",
]
