"""`StageMetrics`: a task's metrics per stage, built on first use, updated a few steps at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from mg.core.epoch_sums import Stage
from mg.core.metric_updates import BufferedUpdates

if TYPE_CHECKING:
    # torchmetrics imports transformers whenever it is installed; mg.core must not.
    from torchmetrics import Metric, MetricCollection


class StageMetrics:
    """The metrics of each stage of a task (mixed into `TaskInterface`).

    It reads the ``metrics`` module dict, the ``_metric_updates`` and the ``device`` the
    task has; a task declares its metrics in `configure_metrics`.
    """

    metrics: nn.ModuleDict
    _metric_updates: dict[str, BufferedUpdates]
    device: Any

    def configure_metrics(self, stage: Stage) -> dict[str, Metric]:
        """Return fresh metrics for ``stage``; logged as ``{stage}_{name}`` every epoch."""
        return {}

    def stage_metrics(self, stage: Stage) -> MetricCollection:
        """Return the metric collection of ``stage``, built on first use, updates applied.

        Calls held by `update_metrics` are applied first, so what it returns is current.
        """
        from torchmetrics import MetricCollection

        key = f"{stage}_metrics"  # a bare "train" would clash with Module.train
        if key not in self.metrics:
            self.metrics[key] = MetricCollection(self.configure_metrics(stage)).to(self.device)
        if stage in self._metric_updates:
            self._metric_updates[stage].flush()
        return self.metrics[key]  # type: ignore[return-value]

    def update_metrics(self, stage: Stage, *tensors: Tensor) -> None:
        """Update the stage's metrics with one step's ``(preds, target)``, a few steps at once.

        The call is held (detached) and applied together with up to 31 others, or when the
        epoch's values are computed: the same values as updating every step, at a fraction
        of the cost (see `mg.core.metric_updates`). Each tensor needs one row per item along
        its first dimension; a metric that takes other arguments is updated through
        `stage_metrics` directly.

        Args:
            stage (Stage): the stage whose metrics to update.
            *tensors (Tensor): the arguments of the metrics' ``update``.
        """
        buffered = self._metric_updates.get(stage)
        if buffered is None:
            buffered = self._metric_updates[stage] = BufferedUpdates(self.stage_metrics(stage))
        buffered.update(*tensors)
