"""Cells end to end without the mg fit wiring: an .h5ad through the cell source, aligned to
a backbone's genes, batched by the backbone, into a plain torch training loop.

The baseline backbone must learn marker-gene cell types well above chance; the tiny
AIDO.Cell and Geneformer must take the same batches and train (their loss falls).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from mg.backbones.cells.aido_cell import AIDOCellTiny
from mg.backbones.cells.baseline import ExpressionBaseline
from mg.backbones.cells.geneformer import GeneformerTiny
from mg.core.cells import CellBackboneInterface
from mg.tasks.data.cells import (
    CellDataset,
    GeneAlignment,
    H5adSource,
    check_expression,
    check_label_columns,
    stratified_split,
)
from mg.tasks.data.cells.synthetic import CELL_TYPES, GENES, marker_cells, write_h5ad


@pytest.fixture(scope="module")
def h5ad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_h5ad(marker_cells(n_cells=300, seed=4), tmp_path_factory.mktemp("c") / "c.h5ad")


def loaders(path: Path, backbone: CellBackboneInterface, gene_column: str | None = None) -> Any:
    """What the wired data module will do: checks, alignment, splits, batch reads."""
    source = H5adSource(path)
    check_label_columns(source, ["cell_type"])
    alignment = GeneAlignment.build(
        source.gene_names(gene_column), backbone.gene_vocabulary(), where=source.where
    )
    check_expression(source, expects_counts=backbone.expects_counts, reader="backbone")
    splits = stratified_split(source.ids, list(source.obs["cell_type"]), 0.0, 0.25, seed=0)

    def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = backbone.batch_cells(torch.from_numpy(np.stack([s["expression"] for s in samples])))
        labels = torch.tensor([CELL_TYPES.index(s["labels"]) for s in samples])
        return {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask, "y": labels}

    def loader(split: str, shuffle: bool) -> DataLoader:
        dataset = CellDataset(source, splits[split], ["cell_type"], alignment)
        return DataLoader(dataset, batch_size=32, shuffle=shuffle, collate_fn=collate)

    return loader("train", True), loader("test", False)


class CellClassifier(nn.Module):
    def __init__(self, backbone: CellBackboneInterface) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.get_embedding_size(), len(CELL_TYPES))

    def forward(self, batch: dict[str, Any]) -> torch.Tensor:
        out = self.backbone(batch["input_ids"], batch["attention_mask"])
        mask = out.attention_mask.unsqueeze(-1).float()
        pooled = (out.last_hidden_state * mask).sum(1) / mask.sum(1)
        return self.head(pooled)


def train(model: CellClassifier, train_loader: DataLoader, epochs: int, lr: float) -> list[float]:
    torch.manual_seed(0)
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    model.train()
    for _ in range(epochs):
        total = 0.0
        for batch in train_loader:
            loss = nn.functional.cross_entropy(model(batch), batch["y"])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach())
        losses.append(total / len(train_loader))
    return losses


def accuracy(model: CellClassifier, loader: DataLoader) -> float:
    model.eval()
    right = seen = 0
    with torch.no_grad():
        for batch in loader:
            right += int((model(batch).argmax(-1) == batch["y"]).sum())
            seen += len(batch["y"])
    return right / seen


def test_baseline_learns_marker_gene_cell_types_well_above_chance(h5ad: Path) -> None:
    torch.manual_seed(0)
    # The model's genes in another order, two background genes of the data missing and
    # one the data lacks.
    genes = [*GENES[::-1][2:], "NOT_MEASURED"]
    backbone = ExpressionBaseline(genes=genes, hidden_size=16)
    train_loader, test_loader = loaders(h5ad, backbone)
    model = CellClassifier(backbone)
    before = accuracy(model, test_loader)
    train(model, train_loader, epochs=15, lr=1e-2)
    after = accuracy(model, test_loader)
    assert after >= 0.9, (before, after)  # chance is 1/3


@pytest.mark.parametrize("family", ["aido_cell", "geneformer"])
def test_tiny_cell_foundation_models_train_on_the_same_batches(h5ad: Path, family: str) -> None:
    if family == "aido_cell":
        backbone: CellBackboneInterface = AIDOCellTiny(genes=list(GENES), hidden_size=16)
    else:
        ids = H5adSource(h5ad).gene_names("gene_ids")
        backbone = GeneformerTiny(genes=[i.split(".")[0] for i in ids], hidden_size=16)
    gene_column = "gene_ids" if family == "geneformer" else None
    train_loader, _ = loaders(h5ad, backbone, gene_column)
    losses = train(CellClassifier(backbone), train_loader, epochs=4, lr=3e-3)
    assert losses[-1] < losses[0], losses
