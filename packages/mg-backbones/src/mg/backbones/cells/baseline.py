"""The baseline expression backbone: a cell's expression through one learned projection.

No pretrained weights: it is the cell counterpart of the one-hot backbones, the floor a
cell foundation model has to beat. Counts are scaled to ``normalize_total`` per cell and
``log1p``-transformed (both optional), then projected to ``hidden_size``; the one hidden
state per cell goes to the usual sequence adapters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from mg.backbones.cells.common import gene_vocabulary
from mg.core.backbone import BackboneOutput
from mg.core.cells import CellBackboneInterface, GeneVocabulary
from mg.core.padding import TokenizedBatch


def normalise_log1p(expression: Tensor, total: float | None, log1p: bool) -> Tensor:
    """Scale each cell to ``total`` counts (when set), then ``log1p`` (when asked)."""
    values = expression.float()
    if total is not None:
        depth = values.sum(dim=1, keepdim=True).clamp_min(1e-12)
        values = values / depth * total
    return torch.log1p(values) if log1p else values


class ExpressionBaseline(CellBackboneInterface):
    """A learned linear projection of a cell's (normalised, log1p) expression.

    Args:
        use_lm_head (bool): reserved; ignored (no masked-LM head).
        default_config (dict[str, Any] | None): reserved; ``{"genes": [...]}`` from the
            task supplies the genes when the option is unset.
        genes (Sequence[str] | str | None): the genes read, in order, or a text file with
            one per line.
        hidden_size (int): size of the cell's hidden state.
        normalize_total (float | None): counts per cell after scaling; None reads values
            as they are.
        log1p (bool): ``log1p``-transform after scaling.
        finetune (Literal["full", "frozen"]): train the projection, or keep it random.
        seed (int): seed of the projection's initialisation.
    """

    expects_counts: ClassVar[bool] = False

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        genes: Sequence[str] | str | None = None,
        hidden_size: int = 64,
        normalize_total: float | None = 1e4,
        log1p: bool = True,
        finetune: Literal["full", "frozen"] = "full",
        seed: int = 0,
    ) -> None:
        super().__init__(use_lm_head, default_config)
        self.vocabulary = gene_vocabulary(genes, self.default_config, who=type(self).__name__)
        self.hidden_size = hidden_size
        self.normalize_total = normalize_total
        self.log1p = log1p
        if finetune not in ("full", "frozen"):
            raise ValueError(f"finetune must be 'full' or 'frozen', not {finetune!r}.")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.projection = nn.Linear(len(self.vocabulary), hidden_size)
        if finetune == "frozen":
            self.projection.requires_grad_(False)

    def gene_vocabulary(self) -> GeneVocabulary:
        """Return the genes read, in order."""
        return self.vocabulary

    @classmethod
    def declared_gene_vocabulary(cls, options: Mapping[str, Any]) -> GeneVocabulary | None:
        """Return the ``genes`` option's vocabulary; None when the task supplies the genes."""
        genes = options.get("genes")
        return None if genes is None else gene_vocabulary(genes, None, who=cls.__name__)

    def batch_cells(self, expression: Tensor) -> TokenizedBatch:
        """Normalise and log1p the cells; one position per cell."""
        values = normalise_log1p(expression, self.normalize_total, self.log1p)
        mask = torch.ones(values.shape[0], 1, dtype=torch.bool)
        return TokenizedBatch(values, mask, torch.zeros_like(mask))

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, all_hidden_states: bool = False
    ) -> BackboneOutput:
        """Project each cell: ``(cells, genes)`` values to ``(cells, 1, hidden_size)``."""
        hidden = self.projection(input_ids.to(self.projection.weight.dtype)).unsqueeze(1)
        mask = attention_mask.bool()
        return BackboneOutput(
            last_hidden_state=hidden,
            attention_mask=mask,
            special_tokens_mask=torch.zeros_like(mask),
            hidden_states=(hidden,) if all_hidden_states else None,
        )

    def get_max_context(self) -> int:
        """Return 1: one position per cell."""
        return 1

    def get_embedding_size(self) -> int:
        """Return ``hidden_size``."""
        return self.hidden_size

    def get_num_layer(self) -> int:
        """Return 1 (the projection)."""
        return 1
