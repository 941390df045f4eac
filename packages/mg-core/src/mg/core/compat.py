"""Compatibility rules between tasks, backbones, adapters and data modules.

Everything here works on classes and class-level declarations: no weights load, no
files are read. The CLI calls `check_compatibility` before it builds anything, and
`mg matrix` calls it for every registered triple.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mg.core.backbone import BackboneInterface, Capability
from mg.core.data import STAGES, stage_name
from mg.core.inputs import INPUT_COLUMNS, INPUT_NOUNS, InputKind

if TYPE_CHECKING:
    from mg.core.data import DataInterface
    from mg.core.task import TaskInterface

CAPABILITY_NEEDS: dict[Capability, tuple[str, str]] = {
    Capability.MASKED_LM_HEAD: (
        "a masked-LM head",
        "choose a backbone with a masked-LM head (a Hugging Face *ForMaskedLM model, ESM-2, "
        "or a tiny variant)",
    ),
    Capability.MASK_TOKEN: (
        "a mask token",
        "choose a backbone whose tokenizer has a mask token",
    ),
    Capability.PER_RESIDUE_TOKENS: (
        "one token per residue, so per-residue labels line up with tokens",
        "choose a character-level backbone (one-hot, ESM-2, the BERT-style DNA/RNA family) "
        "rather than a k-mer tokenizer",
    ),
}


class IncompatibleError(ValueError):
    """Raised when a task, backbone, adapter or data module do not fit together."""


@dataclass(frozen=True)
class CompatibilityReport:
    """The answer to "do these parts fit together?".

    Attributes:
        task (str): task class name.
        backbone (str): backbone class name.
        adapter (str | None): adapter class name, or None when the task takes none.
        reasons (tuple[str, ...]): plain-language reasons they do not fit; empty when they do.
    """

    task: str
    backbone: str
    adapter: str | None
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def compatible(self) -> bool:
        """Whether the parts fit together."""
        return not self.reasons

    def triple(self) -> str:
        """Name the parts, e.g. ``SequenceRegression + OneHotDNA + LinearCLSAdapter``."""
        return " + ".join(n for n in (self.task, self.backbone, self.adapter) if n)

    def __str__(self) -> str:
        if self.compatible:
            return f"{self.triple()}: compatible"
        lines = [f"{self.triple()} cannot work together:"]
        lines += [f"  - {reason}" for reason in self.reasons]
        return "\n".join(lines)

    def raise_if_incompatible(self) -> None:
        """Raise `IncompatibleError` with every reason, if there is any."""
        if not self.compatible:
            raise IncompatibleError(str(self))


def target_class(component: Any) -> type | None:
    """Find the class a component stands for.

    Accepts a class, an instance, or a callable that builds one (``functools.partial``
    of a class, as jsonargparse produces for a class with bound options).

    Args:
        component (Any): the class, instance or partial.

    Returns:
        type | None: the class, or None when it cannot be told (a plain function).
    """
    if isinstance(component, type):
        return component
    if isinstance(component, functools.partial):
        for part in (component.func, *component.args):
            if isinstance(part, type | functools.partial) and (found := target_class(part)):
                return found
        return None
    if inspect.isfunction(component) or inspect.ismethod(component):
        return None
    return type(component)


def _name(cls: type | None) -> str | None:
    return None if cls is None else cls.__name__


def check_compatibility(
    task: type[TaskInterface] | TaskInterface,
    backbone: Any,
    adapter: Any = None,
    data: DataInterface | None = None,
    stage: str = "fit",
) -> CompatibilityReport:
    """Say whether a task, backbone, adapter (and data module) fit, and why not.

    Args:
        task (type[TaskInterface] | TaskInterface): the task class or instance.
        backbone (Any): the backbone class, or a callable that builds one.
        adapter (Any): the adapter class or callable; None uses the task's default.
        data (DataInterface | None): a data module instance, to check its columns.
        stage (str): the stage whose columns to check.

    Returns:
        CompatibilityReport: compatible, or the reasons it is not.
    """
    task_cls = task if isinstance(task, type) else type(task)
    stage = stage_name(stage)
    backbone_cls = target_class(backbone)
    adapter_cls = target_class(adapter) if adapter is not None else task_cls.default_adapter_class()
    reasons: list[str] = []
    is_backbone = backbone_cls is not None and issubclass(backbone_cls, BackboneInterface)
    if not is_backbone:
        reasons.append(
            f"{backbone!r} is not a backbone: pass a subclass of mg.core.BackboneInterface."
        )
    else:
        needs = task_cls.required_capabilities()
        binned = binned_output_reasons(task_cls, backbone_cls)
        # A binned backbone's unit is the bin: refused by a task that needs residues (the
        # binned reason says more than "no token per residue"), taken whole by one that
        # accepts bins.
        if getattr(backbone_cls, "output_bin_size", None) is not None:
            needs = needs - {Capability.PER_RESIDUE_TOKENS}
        reasons += binned
        reasons += _capability_reasons(task_cls.__name__, needs, backbone_cls)
        reasons += input_kind_reasons(task_cls, backbone_cls, data)
        reasons += getattr(task_cls, "backbone_reasons", lambda _: [])(backbone_cls)
    reasons += adapter_reasons(task_cls, adapter_cls)
    if adapter_cls is not None and is_backbone:
        needs = frozenset(getattr(adapter_cls, "required_capabilities", frozenset()))
        reasons += _capability_reasons(adapter_cls.__name__, needs, backbone_cls)
    if data is not None and stage not in task_cls.supported_stages:
        runs = ", ".join(s for s in STAGES if s in task_cls.supported_stages)
        reasons.append(f"{task_cls.__name__} cannot {stage}: it only runs {runs}.")
    elif data is not None and is_backbone:
        reasons += missing_column_reasons(task_cls, backbone_cls, data, stage)
    return CompatibilityReport(
        task=task_cls.__name__,
        backbone=_name(backbone_cls) or repr(backbone),
        adapter=_name(adapter_cls),
        reasons=tuple(reasons),
    )


def _capability_reasons(
    who: str, needs: Iterable[Capability], backbone_cls: type[BackboneInterface]
) -> list[str]:
    reasons = []
    for capability in sorted(needs, key=lambda c: c.value):
        if capability in backbone_cls.capabilities:
            continue
        what, fix = CAPABILITY_NEEDS[capability]
        reasons.append(
            f"{who} needs a backbone with {what}; {backbone_cls.__name__} has none: {fix}."
        )
    return reasons


def binned_output_reasons(task_cls: type, backbone_cls: type[BackboneInterface]) -> list[str]:
    """Say why a backbone with one output per bin of residues does not fit a task.

    Args:
        task_cls (type): the task class (``accepts_binned_outputs``, default False).
        backbone_cls (type[BackboneInterface]): the backbone class (``output_bin_size``).

    Returns:
        list[str]: one reason, or none when the backbone's outputs are per token or the
        task reads bins.
    """
    size = getattr(backbone_cls, "output_bin_size", None)
    if size is None or getattr(task_cls, "accepts_binned_outputs", False):
        return []
    return [
        f"{task_cls.__name__} reads one hidden state per token, but {backbone_cls.__name__} "
        f"gives one per {size}-residue bin: use it with a task that reads bins or pools the "
        "sequence (TrackRegression, SequenceClassification, SequenceRegression, the fusion "
        "tasks), or choose a backbone with one token per residue."
    ]


def task_input_kinds(task_cls: type) -> frozenset[InputKind]:
    """Return the input kinds a task reads: its ``input_kinds``, else sequences alone."""
    return frozenset(getattr(task_cls, "input_kinds", (InputKind.SEQUENCE,)))


def data_input_kind(data: Any) -> InputKind:
    """Return the input kind a data module yields: its ``input_kind``, else sequences."""
    return InputKind(getattr(data, "input_kind", InputKind.SEQUENCE))


def input_kind_reasons(
    task_cls: type, backbone_cls: type[BackboneInterface], data: Any = None
) -> list[str]:
    """List why a backbone's input kind does not fit the task or the data (empty when it does).

    Args:
        task_cls (type): the task class (``input_kinds``, default sequences alone).
        backbone_cls (type[BackboneInterface]): the backbone class (``input_kind``).
        data (Any): the data module, or None (``input_kind``, default sequences).

    Returns:
        list[str]: at most one reason for the task and one for the data.
    """
    kind = InputKind(backbone_cls.input_kind)
    reasons = []
    kinds = task_input_kinds(task_cls)
    if kind not in kinds:
        reads = " or ".join(INPUT_NOUNS[k] for k in sorted(kinds))
        reasons.append(
            f"{task_cls.__name__} reads {reads}, but {backbone_cls.__name__} reads "
            f"{INPUT_NOUNS[kind]}: choose a backbone for {reads} (`mg list backbones`)."
        )
    if data is not None and (given := data_input_kind(data)) is not kind:
        reasons.append(
            f"{backbone_cls.__name__} reads {INPUT_NOUNS[kind]}, but {type(data).__name__} "
            f"yields {INPUT_NOUNS[given]}: give it a data module that yields {INPUT_NOUNS[kind]}, "
            f"or a backbone that reads {INPUT_NOUNS[given]}."
        )
    return reasons


def adapter_reasons(task_cls: type[TaskInterface], adapter_cls: type | None) -> list[str]:
    """List why ``adapter_cls`` does not fit ``task_cls`` (empty when it does)."""
    expected = task_cls.adapter_type
    if expected is None:
        if adapter_cls is not None:
            return [f"{task_cls.__name__} takes no adapter; remove the adapter option."]
        return []
    if adapter_cls is None:
        return [f"{task_cls.__name__} needs an adapter that subclasses {expected.__name__}."]
    if not issubclass(adapter_cls, expected):
        kind = next(
            (
                base.__name__
                for base in adapter_cls.__mro__[1:]
                if base.__name__.endswith("Adapter")
            ),
            adapter_cls.__name__,
        )
        return [
            f"{task_cls.__name__} needs an adapter that subclasses {expected.__name__}, but "
            f"{adapter_cls.__name__} is a {kind}: choose a {expected.__name__} "
            "(`mg list adapters` shows them)."
        ]
    return []


def missing_column_reasons(
    task_cls: type[TaskInterface],
    backbone_cls: type[BackboneInterface],
    data: DataInterface,
    stage: str,
) -> list[str]:
    """List the columns a task and backbone need in ``stage`` that the data lacks.

    Args:
        task_cls (type[TaskInterface]): the task class.
        backbone_cls (type[BackboneInterface]): the backbone class.
        data (DataInterface): the configured data module.
        stage (str): ``"fit"``, ``"validate"``, ``"test"`` or ``"predict"``.

    Returns:
        list[str]: one reason per missing column; empty when nothing is missing.
    """
    stage = stage_name(stage)
    provided = data.provided_columns(stage)
    # A task's input column is whatever its backbone reads: expression for a cell backbone.
    read = INPUT_COLUMNS[InputKind(backbone_cls.input_kind)]
    needs = {
        read if c == INPUT_COLUMNS[InputKind.SEQUENCE] else c: task_cls.__name__
        for c in task_cls.required_data_columns(stage)
    }
    for column in backbone_cls.required_data_columns():
        needs.setdefault(column, backbone_cls.__name__)
    return [
        f"{who} needs a {column!r} column for {stage}, but {type(data).__name__} provides "
        f"only {sorted(provided)}: point the data module's column mapping at the column "
        f"that holds {column}."
        for column, who in sorted(needs.items())
        if column not in provided
    ]
