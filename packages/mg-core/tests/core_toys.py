"""A toy adapter and task used to exercise the contracts in mg-core's own tests."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from mg.core import (
    BackboneInterface,
    LabelKind,
    SequenceAdapter,
    SequenceAdapterCallable,
    TaskInterface,
)
from mg.core.testing import InMemoryData


class MeanPoolLinear(SequenceAdapter):
    def __init__(self, in_features: int, out_features: int, /, *, bias: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=bias)

    def forward(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        keep = attention_mask.unsqueeze(-1)
        total = torch.where(keep, hidden_states, 0.0).sum(1)
        pooled = total / keep.sum(1).clamp(min=1).to(hidden_states.dtype)
        return self.linear(pooled)


class ToyRegression(TaskInterface):
    adapter_type = SequenceAdapter
    default_adapter = MeanPoolLinear
    label_kind = LabelKind.REGRESSION

    def __init__(
        self, backbone: Any, adapter: SequenceAdapterCallable = default_adapter, **kwargs: Any
    ) -> None:
        super().__init__(backbone, adapter, **kwargs)

    def adapter_arguments(self, backbone: BackboneInterface) -> tuple[int, int]:
        return backbone.get_embedding_size(), 1

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        assert self.backbone is not None
        tokens = self.backbone.batch([s["sequences"] for s in samples])
        batch: dict[str, Any] = {
            "input_ids": tokens.input_ids,
            "attention_mask": tokens.attention_mask,
            "ids": [s.get("ids") for s in samples],
        }
        if "labels" in samples[0]:
            batch["labels"] = torch.tensor([float(s["labels"]) for s in samples])
        return batch

    def forward(self, batch: dict[str, Any]) -> Tensor:
        out = self.backbone(batch["input_ids"], batch["attention_mask"])
        return self.adapter(out.last_hidden_state, out.attention_mask).squeeze(-1)

    def evaluate(self, preds: Tensor, batch: dict[str, Any], stage: str) -> dict[str, Tensor]:
        return {"loss": nn.functional.mse_loss(preds, batch["labels"])}


def gc_samples(n: int, seed: int) -> list[dict[str, Any]]:
    """Random DNA whose label is its GC fraction."""
    generator = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(n):
        length = int(torch.randint(6, 20, (1,), generator=generator))
        seq = "".join("ACGT"[int(j)] for j in torch.randint(0, 4, (length,), generator=generator))
        samples.append(
            {
                "ids": f"s{seed}_{i}",
                "sequences": seq,
                "labels": (seq.count("G") + seq.count("C")) / length,
            }
        )
    return samples


def toy_data(batch_size: int = 4) -> InMemoryData:
    return InMemoryData(
        train=gc_samples(32, 0), val=gc_samples(8, 1), test=gc_samples(10, 2), batch_size=batch_size
    )
