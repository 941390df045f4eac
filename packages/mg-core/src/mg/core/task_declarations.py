"""`TaskDeclarations`: what a task class says about itself, read before anything is built.

The compatibility check (`mg.core.compat`), `mg matrix` and the data checks read these
class attributes and class methods from the task class alone: no weights, no data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from torch import nn

from mg.core.backbone import BackboneInterface, Capability
from mg.core.compat import target_class
from mg.core.data import STAGES, LabelKind


class TaskDeclarations:
    """Class-level declarations of a task (see `TaskInterface` for what each means)."""

    adapter_type: ClassVar[type[nn.Module] | None] = None
    default_adapter: ClassVar[Callable[..., nn.Module] | None] = None
    """The adapter built when the user names none; the compatibility check reads it."""
    label_kind: LabelKind = LabelKind.NONE
    uses_lm_head: ClassVar[bool] = False
    needs_capabilities: ClassVar[frozenset[Capability]] = frozenset()
    supported_stages: ClassVar[frozenset[str]] = frozenset(STAGES)
    labels_are_targets: ClassVar[bool] = True
    """The labels are what the task predicts (False: a condition the task is given), so a
    test run keeps each prediction beside its label for `mg report`."""
    accepts_binned_outputs: ClassVar[bool] = False
    """The task reads only the backbone's own output masks, never the batch's token masks,
    so it also takes a backbone with one hidden state per bin of residues
    (``output_bin_size``, e.g. Enformer)."""
    supports_embedding_cache: ClassVar[bool] = False
    """The task gets backbone outputs from `backbone_outputs` alone and feeds it the same
    inputs every epoch (no per-step masking), so a cache of them gives identical results."""

    @classmethod
    def required_capabilities(cls) -> frozenset[Capability]:
        """Return every backbone capability this task needs."""
        needs = set(cls.needs_capabilities)
        if cls.uses_lm_head:
            needs.add(Capability.MASKED_LM_HEAD)
        return frozenset(needs)

    @classmethod
    def backbone_reasons(cls, backbone_cls: type[BackboneInterface]) -> list[str]:
        """Say why a backbone class cannot serve this task beyond its capabilities.

        Read from class declarations alone (no weights), for `mg matrix` and the checks:
        e.g. a task that scores nucleotide substitutions refuses a protein backbone.

        Args:
            backbone_cls (type[BackboneInterface]): the backbone class.

        Returns:
            list[str]: one plain-language reason with its fix per problem; empty by default.
        """
        return []

    @classmethod
    def required_data_columns(cls, stage: str) -> set[str]:
        """Return the data columns this task reads in ``stage``.

        The default: sequences, and labels for every stage but predict unless the task
        reads no labels (``label_kind`` is ``none``).

        Args:
            stage (str): ``"fit"``, ``"validate"``, ``"test"`` or ``"predict"``.
        """
        if stage == "predict" or cls.label_kind == LabelKind.NONE:
            return {"sequences"}
        return {"sequences", "labels"}

    @classmethod
    def default_adapter_class(cls) -> type | None:
        """Return the adapter class the task builds when the user names none.

        It is the class-level ``default_adapter`` (None for a task without an adapter).
        """
        return target_class(cls.default_adapter) if cls.default_adapter is not None else None
