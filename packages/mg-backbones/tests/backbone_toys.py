"""A small regression task and data for backbone tests, and cached tiny model folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mg.backbones.huggingface import TransformersBackbone
from mg.core import SequenceAdapter, TaskInterface
from mg.core.testing import InMemoryData


class MeanPoolHead(SequenceAdapter):
    def __init__(self, in_features: int, out_features: int, /) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        weights = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
        pooled = (hidden_states * weights).sum(1) / weights.sum(1).clamp(min=1)
        return self.linear(pooled)


class MeanPoolRegression(TaskInterface):
    """Predict one number per sequence from mean-pooled hidden states."""

    adapter_type = SequenceAdapter

    def __init__(self, backbone: Any, **kwargs: Any) -> None:
        super().__init__(backbone, **kwargs)
        self.adapter_fn = MeanPoolHead

    def configure_model(self) -> None:
        if self.backbone is not None:
            return
        self.backbone = self.build_backbone()
        self.adapter = MeanPoolHead(self.backbone.get_embedding_size(), 1)

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        assert self.backbone is not None
        tokens = self.backbone.batch([s["sequences"] for s in samples])
        batch: dict[str, Any] = {
            "input_ids": tokens.input_ids,
            "attention_mask": tokens.attention_mask,
            "special_tokens_mask": tokens.special_tokens_mask,
            "ids": [s["ids"] for s in samples],
        }
        if "labels" in samples[0]:
            batch["labels"] = torch.tensor([float(s["labels"]) for s in samples])
        return batch

    def forward(self, batch: dict[str, Any]) -> Tensor:
        out = self.backbone(batch["input_ids"], batch["attention_mask"])
        return self.adapter(out.last_hidden_state, out.attention_mask).squeeze(-1)

    def evaluate(self, preds: Tensor, batch: dict[str, Any], stage: str) -> dict[str, Tensor]:
        return {"loss": nn.functional.mse_loss(preds, batch["labels"])}


def gc_samples(n: int, seed: int, alphabet: str = "ACGT") -> list[dict[str, Any]]:
    """Random sequences whose label is their G+C fraction."""
    generator = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(n):
        length = int(torch.randint(6, 20, (1,), generator=generator))
        picks = torch.randint(0, len(alphabet), (length,), generator=generator)
        seq = "".join(alphabet[int(j)] for j in picks)
        samples.append(
            {
                "ids": f"s{seed}_{i}",
                "sequences": seq,
                "labels": (seq.count("G") + seq.count("C")) / length,
            }
        )
    return samples


def gc_data(alphabet: str = "ACGT", batch_size: int = 4) -> InMemoryData:
    return InMemoryData(
        train=gc_samples(16, 0, alphabet),
        val=gc_samples(4, 1, alphabet),
        test=gc_samples(6, 2, alphabet),
        batch_size=batch_size,
    )


class TinyFolders:
    """Save each tiny backbone class once (with its masked-LM head) and hand out the folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.saved: dict[type, Path] = {}

    def __call__(self, tiny: type[TransformersBackbone]) -> Path:
        if tiny not in self.saved:
            self.saved[tiny] = tiny(True, None).save_pretrained(self.root / tiny.__name__)
        return self.saved[tiny]
