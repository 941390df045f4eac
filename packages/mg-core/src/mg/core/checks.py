"""The checks entry point: everything checkable about a run, before any weights load.

`check_run` is the one place where a task, its backbones and a data module meet before a
stage runs. It flows one way, from here into the data module and the backbones' classes:

1. tell the data module the task's label kind (`DataInterface.use_label_kind`);
2. check that task, backbones, adapter and the data's columns fit (`check_compatibility`,
   through the task's ``compatibility``) and the task's own options;
3. for a backbone that reads cells, hand its genes to the data module, which aligns and
   checks the cells (`DataInterface.use_genes`); check every sequence column against the
   alphabet of the backbone that reads it (`DataInterface.check_sequences`), a fusion
   task's second and third columns too;
4. check every label with the handler of the task's label kind (`task.label_problem`);
5. hand the task's ``collate`` to the data module.

What ``max_length`` cuts is said once the backbone is built, by `say_what_is_cut`, since
only the built tokenizer knows how many tokens a sequence takes.
The task never reads the data module's datasets, and the data module never reads the task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lightning.pytorch.utilities import rank_zero_warn

from mg.core.alphabets import AlphabetCheck
from mg.core.backbone import BackboneInterface, Capability, Modality
from mg.core.compat import CompatibilityReport, target_class
from mg.core.data import DataInterface, stage_name
from mg.core.inputs import InputKind
from mg.core.signatures import init_options

if TYPE_CHECKING:
    from mg.core.task import TaskInterface


def check_run(task: TaskInterface, datamodule: DataInterface, stage: Any) -> CompatibilityReport:
    """Check parts, columns, every sequence and every label of ``stage``; hand over ``collate``.

    Args:
        task (TaskInterface): the task about to run.
        datamodule (DataInterface): its data.
        stage (Any): the Lightning stage (a name or Lightning's ``TrainerFn``).

    Returns:
        CompatibilityReport: the (compatible) report.

    Raises:
        IncompatibleError: the parts or the data's columns do not fit.
        ValueError: an option, a sequence or a label is wrong (the message names the file,
            row, id, column and value as written).
    """
    stage = stage_name(stage)
    datamodule.use_label_kind(task.label_kind)
    report = task.compatibility(datamodule, stage)
    report.raise_if_incompatible()
    task.check_options()
    hand_over_genes(getattr(task, "backbone_fn", None), datamodule, stage)
    for column, backbone in task.sequence_backbones().items():
        alphabet = backbone_alphabet(backbone)
        if alphabet is not None and task.extra_characters():
            alphabet = AlphabetCheck(alphabet.accepted + task.extra_characters())
        if alphabet is not None:
            name = getattr(target_class(backbone), "__name__", str(backbone))
            datamodule.check_sequences(stage, alphabet, name, column)
        if column == "sequences":
            say_if_nucleotides_meet_protein(backbone, datamodule)
    if "labels" in task.required_data_columns(stage):
        datamodule.check_labels(stage, task.label_problem)
    datamodule.collate_fn = task.collate
    return report


def hand_over_genes(backbone: Any, datamodule: DataInterface, stage: str) -> None:
    """Give a cell backbone's genes to the data module, known from its options alone.

    Raises:
        ValueError: the backbone learns its genes only from the weights it loads.
    """
    cls = target_class(backbone)
    if cls is None or getattr(cls, "input_kind", InputKind.SEQUENCE) != InputKind.CELLS:
        return
    vocabulary = cls.declared_gene_vocabulary(backbone_options(backbone))
    if vocabulary is None:
        raise ValueError(
            f"{cls.__name__} names its genes only once its weights load, but mg aligns and "
            "checks the cells before: give its `genes` option, or a local model folder (or "
            "dictionary files) that lists them."
        )
    expects_counts = bool(getattr(cls, "expects_counts", True))
    datamodule.use_genes(stage, vocabulary, cls.__name__, expects_counts)


NUCLEOTIDES = frozenset("ACGTUN")


def say_if_nucleotides_meet_protein(backbone: Any, datamodule: DataInterface) -> None:
    """Say once when a protein backbone is given sequences written only in nucleotides.

    A, C, G, T and N are amino-acid letters too, so the alphabet check lets DNA through to
    a protein model, which then learns from it without a word. Real proteins use many more
    letters: a split whose first thousand sequences hold none is almost surely DNA or RNA.
    """
    cls = target_class(backbone)
    if getattr(cls, "modality", None) != Modality.PROTEIN:
        return
    for split, sequences in datamodule.split_sequences().items():
        first = [sequences[i] for i in range(min(len(sequences), 1000))]
        letters = set("".join(first).upper())
        if letters and letters <= NUCLEOTIDES:
            rank_zero_warn(
                f"The {split} sequences hold only {''.join(sorted(letters))}: they look like "
                f"DNA or RNA, but {cls.__name__} reads protein. For nucleotide data choose a "
                "DNA or RNA backbone (`mg list backbones` lists them)."
            )
            return


def backbone_options(backbone: Any) -> dict[str, Any]:
    """Return the options a backbone callable builds with.

    Its class's defaults, overridden by the options bound on the callable (as jsonargparse
    binds them).
    """
    cls = target_class(backbone)
    defaults: dict[str, Any] = {}
    if cls is not None:
        parameters = init_options(cls).values()
        defaults = {p.name: p.default for p in parameters if p.default is not p.empty}
    return defaults | (getattr(backbone, "keywords", None) or {})


def backbone_alphabet(backbone: Any) -> AlphabetCheck | None:
    """Return the characters a backbone callable accepts, known without building it.

    The class says it from the callable's options (`BackboneInterface.input_alphabet`);
    None when the backbone reads any character or learns its alphabet only from a
    tokenizer it loads.
    """
    cls = target_class(backbone)
    if cls is None or not issubclass(cls, BackboneInterface):
        return None
    declared = cls.input_alphabet(backbone_options(backbone))
    return AlphabetCheck(declared) if declared else None


def say_what_is_cut(backbone: BackboneInterface, datamodule: DataInterface) -> None:
    """Say once, before any step, how many sequences of each split ``max_length`` cuts.

    Args:
        backbone (BackboneInterface): the built backbone (its tokenizer counts tokens).
        datamodule (DataInterface): the data whose set-up splits to measure.
    """
    splits = datamodule.split_sequences()
    if not splits:
        return  # cells, or no split set up: nothing is cut
    limit = backbone.get_max_context()
    per_residue = Capability.PER_RESIDUE_TOKENS in backbone.capabilities
    specials = len(backbone.tokenize([backbone.accepted_characters()[:1] or "A"])[0]) - 1
    refuse = backbone.refuses_long_input()
    notes = []
    for split, sequences in splits.items():
        # A token covers at least one residue: only these can reach the limit.
        long = [(i, s) for i, s in enumerate(sequences) if len(s) + specials > limit]
        if refuse:
            # The tokenizer would refuse it at its batch: stop before any step instead.
            if first := _first_long(backbone, long, per_residue):
                row, sequence = first
                sample = datamodule.datasets[split][row]
                name = sample.get("ids") if isinstance(sample, dict) else None
                raise ValueError(
                    f"{type(backbone).__name__} has truncation='error' and max_length={limit} "
                    f"tokens, special tokens included: {split} row {row + 1}"
                    f"{f' (id {name!r})' if name is not None else ''} is longer, "
                    f"{len(sequence)} residues. Shorten or split such sequences, raise "
                    "max_length, or set truncation='cut'."
                )
            continue
        if not per_residue and long:
            ids = backbone.tokenize([s for _, s in long])
            long = [pair for pair, row in zip(long, ids, strict=True) if len(row) >= limit]
        if long:
            longest = max(len(s) for _, s in long)
            share = f"{len(long)} of {len(sequences)} {split} sequences"
            notes.append(f"{share} (longest {longest} residues)")
    if notes:
        rank_zero_warn(
            f"max_length={limit} tokens (special tokens included) cuts {'; '.join(notes)}: "
            "only their first residues are read. To keep them whole raise the backbone's "
            "max_length (up to what the model was trained on) or split long sequences."
        )


def _first_long(
    backbone: BackboneInterface, candidates: list[tuple[int, str]], per_residue: bool
) -> tuple[int, str] | None:
    """The first of ``candidates`` (row, sequence) over the backbone's token limit."""
    if per_residue:  # one token a residue: the length says it
        return candidates[0] if candidates else None
    return _first_refused(backbone, candidates)


def _first_refused(
    backbone: BackboneInterface, candidates: list[tuple[int, str]]
) -> tuple[int, str] | None:
    """The first candidate the backbone's tokenizer refuses, found a chunk at a time."""
    for start in range(0, len(candidates), 256):
        chunk = candidates[start : start + 256]
        try:
            backbone.tokenize([s for _, s in chunk])
        except ValueError:
            for pair in chunk:
                try:
                    backbone.tokenize([pair[1]])
                except ValueError:
                    return pair
    return None
