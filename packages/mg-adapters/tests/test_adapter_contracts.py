"""Every adapter, in several option settings, against the mg-core adapter contracts."""

from __future__ import annotations

import torch
from torch import nn

from mg.adapters import (
    ConditionalLMAdapter,
    LinearCLSAdapter,
    LinearMaxPoolAdapter,
    LinearMeanPoolAdapter,
    LinearTokenAdapter,
    MLPPairwiseAdapter,
    MLPPoolAdapter,
    MLPTokenAdapter,
    ResNet1DAdapter,
    ResNet2DPairwiseAdapter,
    TransformerPoolAdapter,
)
from mg.core.testing.contracts import AdapterContract, PairwiseAdapterContract


class TestLinearCLSAdapter(AdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return LinearCLSAdapter(in_features, out_features, dropout=0.1)


class TestLinearMeanPoolAdapter(AdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return LinearMeanPoolAdapter(in_features, out_features)


class TestLinearMaxPoolAdapter(AdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return LinearMaxPoolAdapter(in_features, out_features)


class TestMLPPoolAdapterMean(AdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return MLPPoolAdapter(in_features, out_features, hidden_sizes=[16, 8], dropout=0.1)


class TestMLPPoolAdapterMax(AdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return MLPPoolAdapter(in_features, out_features, pooling="max", activation="relu")


class TestMLPPoolAdapterCLS(AdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return MLPPoolAdapter(in_features, out_features, pooling="cls", hidden_sizes=[])


class TestTransformerPoolAdapter(AdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return TransformerPoolAdapter(
            in_features, out_features, num_layers=2, num_heads=3, dim_feedforward=24
        )


class TestTransformerPoolAdapterProjectedCLS(AdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return TransformerPoolAdapter(
            in_features, out_features, hidden_size=8, num_heads=2, pooling="cls", dropout=0.1
        )


class TestResNet1DAdapter(AdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return ResNet1DAdapter(in_features, out_features, channels=8, kernel_size=3)


class TestResNet1DAdapterMaxPool(AdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return ResNet1DAdapter(
            in_features, out_features, channels=6, kernel_size=5, num_blocks=3, pooling="max"
        )


class TestLinearTokenAdapter(AdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return LinearTokenAdapter(in_features, out_features, dropout=0.1)


class TestMLPTokenAdapter(AdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return MLPTokenAdapter(in_features, out_features, hidden_sizes=[16], activation="silu")


class TestMLPPairwiseAdapter(PairwiseAdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return MLPPairwiseAdapter(in_features, out_features, hidden_sizes=[16])


class TestMLPPairwiseAdapterChunked(PairwiseAdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return MLPPairwiseAdapter(
            in_features, out_features, hidden_sizes=[16, 8], chunk_size=4, dropout=0.1
        )


class TestResNet2DPairwiseAdapter(PairwiseAdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return ResNet2DPairwiseAdapter(
            in_features, out_features, projection_size=4, channels=6, num_blocks=2
        )


class TestConditionalLMAdapter(AdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        return ConditionalLMAdapter(in_features, out_features, self.condition_size, None)


class TestConditionalLMAdapterFromLMHead(AdapterContract):
    def make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        torch.manual_seed(0)
        lm_head = nn.Sequential(
            nn.Linear(in_features, in_features),
            nn.GELU(),
            nn.LayerNorm(in_features),
            nn.Linear(in_features, out_features),
        )
        return ConditionalLMAdapter(
            in_features,
            out_features,
            self.condition_size,
            lm_head,
            mixing="add",
            condition_hidden_sizes=[8, 8],
        )
