"""Metrics the tasks need beyond what torchmetrics ships.

- `TopLPrecision`: precision of the top ``L / k`` scored residue pairs of each item
  (contact and base-pair maps), averaged over items.
- `SelectOutput`: one output (column) of a multi-output metric, to log it on its own.
- `MeanOverOutputs`: the mean over outputs of a metric that returns one value per output.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.wrappers.abstract import WrapperMetric


class TopLPrecision(Metric):
    """Precision of the ``L // divisor`` highest-scored pairs with ``|i - j| >= min_separation``.

    For each item of length ``L`` (its real residues), the pairs ``i < j`` at least
    ``min_separation`` apart are ranked by score; the fraction of true pairs among the top
    ``max(1, L // divisor)`` is that item's precision. The metric is the mean over items,
    so it does not depend on how items are batched. Items with no pair that far apart
    are skipped.

    Args:
        divisor (int): 1 for top-L, 2 for top-L/2, 5 for top-L/5.
        min_separation (int): smallest ``|i - j|`` that counts.
        **kwargs (Any): passed to `torchmetrics.Metric`.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, divisor: int = 1, min_separation: int = 6, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if divisor < 1:
            raise ValueError(f"divisor must be at least 1, not {divisor}.")
        if min_separation < 1:
            raise ValueError(f"min_separation must be at least 1, not {min_separation}.")
        self.divisor = divisor
        self.min_separation = min_separation
        self.add_state(
            "total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum"
        )
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor, mask: Tensor) -> None:
        """Add a batch of pair maps.

        Args:
            preds (Tensor): ``(batch, length, length)`` scores (logits or probabilities).
            target (Tensor): ``(batch, length, length)`` 1 for a true pair, 0 otherwise.
            mask (Tensor): ``(batch, length)`` bool, True at the item's real residues.
        """
        for scores, truth, keep in zip(preds, target, mask.bool(), strict=True):
            positions = keep.nonzero().squeeze(1)
            length = int(positions.numel())
            i, j = torch.triu_indices(
                length, length, offset=self.min_separation, device=scores.device
            )
            if i.numel() == 0:
                continue
            scores = scores[positions][:, positions]
            truth = truth[positions][:, positions]
            k = min(max(1, length // self.divisor), i.numel())
            top = scores[i, j].topk(k).indices
            self.total += truth[i[top], j[top]].double().sum() / k
            self.count += 1

    def compute(self) -> Tensor:
        """Return the mean precision over the items seen (0 when there were none)."""
        return (self.total / self.count.clamp(min=1)).float()


class SelectOutput(WrapperMetric):
    """Feed one output (the last-dimension column ``index``) to a wrapped metric.

    Used to log multi-output regression and multilabel classification per output, as
    plain scalar metrics.

    Args:
        metric (Metric): the metric to feed; it sees ``preds[..., index]`` and
            ``target[..., index]``.
        index (int): the column.
    """

    def __init__(self, metric: Metric, index: int) -> None:
        super().__init__()
        self.metric = metric
        self.index = index

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Update the wrapped metric with column ``index``."""
        self.metric.update(preds[..., self.index], target[..., self.index])

    def compute(self) -> Tensor:
        """Return the wrapped metric's value."""
        return self.metric.compute()

    def reset(self) -> None:
        """Reset the wrapped metric."""
        self.metric.reset()
        super().reset()


class MeanOverOutputs(WrapperMetric):
    """Average a metric that returns one value per output (e.g. Pearson with ``num_outputs``).

    Args:
        metric (Metric): the wrapped metric.
    """

    def __init__(self, metric: Metric) -> None:
        super().__init__()
        self.metric = metric

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Update the wrapped metric."""
        self.metric.update(preds, target)

    def compute(self) -> Tensor:
        """Return the mean of the wrapped metric's values."""
        return self.metric.compute().float().mean()

    def reset(self) -> None:
        """Reset the wrapped metric."""
        self.metric.reset()
        super().reset()
