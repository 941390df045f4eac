"""Zero-shot variant effect: score substitutions with a pretrained backbone, no training.

Each sample is a reference sequence (``"sequences"``) and a mutation string
(``"mutations"``, e.g. ``A123G`` or ``A123G:C130T``; 1-based positions), or the variant's
own sequence (``"alternatives"``, as long as the reference). Two scorers:

- `VariantLikelihoodRatio`: ``log p(alt) - log p(ref)`` at every mutated position under
  the backbone's masked-LM head, summed over the variant's mutations.
- `VariantEmbeddingDistance`: how far the variant's embedding moves from the reference's.

A batch holds each distinct reference once, so the variants of one reference share its
forward pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import Metric

from mg.core import BackboneCallable, Capability, CompatibilityReport, TaskInterface
from mg.core.alphabets import AlphabetCheck
from mg.core.checks import backbone_alphabet
from mg.core.compat import target_class
from mg.core.data import SPLITS_OF_STAGE, DataInterface, stage_name
from mg.core.data import LabelKind as MGLabelKind
from mg.core.label_values import as_numbers, preview
from mg.core.task import Stage
from mg.tasks.batching import Sample, pack_index, residue_mask

VariantLabels = Literal["binary", "continuous"]
"""Labels of a variant test set: 0/1 (1 = damaging, e.g. pathogenic) or a fitness value."""

Marginal = Literal["masked", "wildtype"]
"""Read each mutated position masked (masked marginal) or as it is (wild-type marginal)."""

Distance = Literal["cosine", "l1", "l2"]
"""How `VariantEmbeddingDistance` measures the change of an embedding."""

Pooling = Literal["mean", "positions"]
"""Compare mean embeddings over all residues, or the states at the mutated positions."""

_SUBSTITUTION = re.compile(r"^([A-Za-z*])([0-9]+)([A-Za-z*])$")
WILD_TYPE = frozenset({"", "wt", "_wt", "wildtype", "wild_type"})
"""Mutation strings (any case) that name the reference itself: its score is 0."""


@dataclass(frozen=True)
class Substitution:
    """One substitution of a variant.

    Attributes:
        ref (str): the residue the reference holds.
        position (int): 0-based position in the reference.
        alt (str): the residue of the variant.
    """

    ref: str
    position: int
    alt: str

    def __str__(self) -> str:
        return f"{self.ref}{self.position + 1}{self.alt}"


def parse_mutations(text: Any) -> list[Substitution]:
    """Read a mutation string: ``A123G``, or several joined by ``:`` (``A123G:C130T``).

    Positions are 1-based. ``WT`` (or an empty string) is the reference itself.

    Args:
        text (Any): the value as written in the data.

    Returns:
        list[Substitution]: the substitutions, in the order written.

    Raises:
        ValueError: a part is not of the form ``A123G``, a position is 0, or a position
            appears twice.
    """
    if not isinstance(text, str):
        raise ValueError(f"mutation {preview(text)} is not text like 'A123G' or 'A123G:C130T'")
    if text.strip().lower() in WILD_TYPE:
        return []
    substitutions = []
    for part in text.split(":"):
        match = _SUBSTITUTION.match(part.strip())
        if match is None:
            raise ValueError(
                f"mutation {text!r}: {part.strip()!r} is not a substitution like 'A123G' "
                "(reference residue, 1-based position, new residue; join several with ':')"
            )
        ref, position, alt = match.group(1), int(match.group(2)), match.group(3)
        if position < 1:
            raise ValueError(f"mutation {text!r}: positions start at 1, not {position}")
        substitutions.append(Substitution(ref, position - 1, alt))
    positions = [s.position for s in substitutions]
    if len(set(positions)) != len(positions):
        raise ValueError(f"mutation {text!r} changes one position twice")
    return substitutions


def mutation_problem(reference: str, text: Any) -> str | None:
    """Say what is wrong with a mutation string against its reference, or None."""
    try:
        substitutions = parse_mutations(text)
    except ValueError as error:
        return str(error)
    for substitution in substitutions:
        if substitution.position >= len(reference):
            return (
                f"mutation {text!r}: position {substitution.position + 1} is past the end of the "
                f"{len(reference)}-residue reference"
            )
        held = reference[substitution.position]
        # Case carries no meaning in a mutation string: c12g is C12G.
        if held.upper() != substitution.ref.upper():
            return (
                f"mutation {text!r}: the reference holds {held!r} at position "
                f"{substitution.position + 1}, not {substitution.ref!r}; is the mutation for "
                "another reference, or 0-based?"
            )
    return None


def mutations_between(reference: str, alternative: Any) -> str:
    """Write the substitutions that turn ``reference`` into ``alternative`` (``A3G:C9T``).

    Raises:
        ValueError: ``alternative`` is not text or not as long as the reference (only
            substitutions are scored).
    """
    if not isinstance(alternative, str):
        raise ValueError(f"alternative {preview(alternative)} is not a sequence")
    if len(alternative) != len(reference):
        raise ValueError(
            f"the alternative sequence has {len(alternative)} residues and the reference "
            f"{len(reference)}: only substitutions are scored, not insertions or deletions"
        )
    changes = [
        f"{r}{i + 1}{a}" for i, (r, a) in enumerate(zip(reference, alternative, strict=True))
    ]
    return ":".join(c for c in changes if c[0] != c[-1]) or "WT"


def variant_problem(sample: Sample) -> str | None:
    """Say what is wrong with a sample's variant (mutation string or alternative sequence)."""
    try:
        return mutation_problem(sample["sequences"], variant_mutations(sample))
    except ValueError as error:
        return str(error)


def new_residue_problem(sample: Sample, alphabet: AlphabetCheck | None, reader: str) -> str | None:
    """Say which new residue of a sample's substitutions ``alphabet`` lacks, or None."""
    if alphabet is None or ("mutations" not in sample and "alternatives" not in sample):
        return None
    text = variant_mutations(sample)
    for substitution in parse_mutations(text):
        if alphabet.invalid_characters(substitution.alt):
            return (
                f"mutation {text!r}: the new residue {substitution.alt!r} is not in the "
                f"{reader} alphabet {alphabet.accepted!r}; check the mutation, or use a "
                "backbone for this alphabet"
            )
    return None


def variant_mutations(sample: Sample) -> str:
    """Return a sample's mutation string: its ``mutations``, or read off its ``alternatives``."""
    if "mutations" in sample:
        return sample["mutations"]
    return mutations_between(sample["sequences"], sample["alternatives"])


class _VariantScorer(TaskInterface):
    """What both zero-shot scorers share: data checks, batching by reference, metrics."""

    supported_stages = frozenset({"test", "predict"})
    needs_capabilities = frozenset({Capability.PER_RESIDUE_TOKENS})
    score_rises_with_damage: ClassVar[bool] = False
    """True when a higher score means a more damaging variant."""
    scores_indels: ClassVar[bool] = False
    """True when samples flagged ``"indel"`` (an insertion or deletion given as the
    variant's own window, as genome-coordinate data writes them) are scored correctly."""

    def __init__(
        self, backbone: BackboneCallable, *, labels: VariantLabels = "binary", **kwargs: Any
    ) -> None:
        super().__init__(backbone, **kwargs)
        if labels not in ("binary", "continuous"):
            raise ValueError(f"labels must be 'binary' or 'continuous', not {labels!r}.")
        self.labels = labels
        # Test labels are read as classes (0/1) or as numbers (fitness, say).
        self.label_kind = MGLabelKind.CLASS if labels == "binary" else MGLabelKind.REGRESSION

    # ----------------------------------------------------------------- declarations
    @classmethod
    def required_data_columns(cls, stage: str) -> set[str]:
        """References; labels too for ``test`` (and the variant column, see `compatibility`)."""
        return {"sequences", "labels"} if stage == "test" else {"sequences"}

    def compatibility(
        self, datamodule: DataInterface | None = None, stage: str = "fit"
    ) -> CompatibilityReport:
        """Check the parts, and that the data gives each variant as mutations or a sequence."""
        report = super().compatibility(datamodule, stage)
        if datamodule is None or stage_name(stage) not in self.supported_stages:
            return report
        provided = datamodule.provided_columns(stage_name(stage))
        if provided & {"mutations", "alternatives"}:
            return report
        reason = (
            f"{type(self).__name__} needs a 'mutations' column (A123G or A123G:C130T) or an "
            f"'alternatives' column (the variant's sequence), but {type(datamodule).__name__} "
            f"provides only {sorted(provided)}: map one with MultiColumnData's columns option."
        )
        return replace(report, reasons=(*report.reasons, reason))

    @property
    def label_size(self) -> int:
        """Binary labels are classes 0 and 1; a continuous label is one number."""
        return 2 if self.labels == "binary" else 1

    def configure_metrics(self, stage: Stage) -> dict[str, Metric]:
        """``auroc`` and ``auprc`` for binary labels, ``spearman`` for continuous ones."""
        from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision
        from torchmetrics.regression import SpearmanCorrCoef

        if self.labels == "binary":
            return {"auroc": BinaryAUROC(), "auprc": BinaryAveragePrecision()}
        return {"spearman": SpearmanCorrCoef()}

    # ----------------------------------------------------------------- checks
    def setup(self, stage: str) -> None:
        """Check columns and labels, then every mutation against its reference."""
        super().setup(stage)
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if not isinstance(datamodule, DataInterface):
            return
        # Known before the backbone is built when its class declares an alphabet; otherwise
        # `collate` finds a foreign new residue against the loaded vocabulary.
        alphabet = backbone_alphabet(self.backbone_fn)
        reader = getattr(target_class(self.backbone_fn), "__name__", "the backbone")
        for split in SPLITS_OF_STAGE.get(stage_name(stage), ()):
            dataset = datamodule.datasets.get(split)
            if dataset is None:
                continue
            origin = getattr(dataset, "origin", None)
            for index in range(len(dataset)):  # type: ignore[arg-type]
                sample = dataset[index]
                problem = self.sample_problem(sample) or new_residue_problem(
                    sample, alphabet, reader
                )
                if problem is not None:
                    where = origin(index) if callable(origin) else f"item {index}"
                    raise ValueError(f"{where} (id {sample.get('ids')!r}): {problem}")

    def sample_problem(self, sample: Sample) -> str | None:
        """Say what is wrong with a sample's variant for this scorer, or None."""
        if sample.get("indel") and not self.scores_indels:
            return (
                f"{sample.get('variant', 'the variant')} is an insertion or deletion, and "
                f"{type(self).__name__} scores substitutions only: score it with "
                "VariantEmbeddingDistance, or leave it out of the data"
            )
        return variant_problem(sample)

    # ----------------------------------------------------------------- model
    def configure_model(self) -> None:
        """Build the backbone (with its LM head when the scorer reads it); nothing trains."""
        if self.backbone is not None:
            return
        self.backbone = self.build_backbone()
        self.backbone.requires_grad_(False)

    def collate(self, samples: list[Sample]) -> dict[str, Any]:
        """Tokenize each distinct reference once and list every variant's substitutions.

        Returns:
            dict[str, Any]: the references' ``input_ids``, ``attention_mask`` and
            ``special_tokens_mask``; per variant ``ids``, ``reference`` (row of its
            reference) and, when labelled, ``labels``; per substitution ``site_variant``,
            ``site_token`` (its token position), ``site_ref`` and ``site_alt`` (token ids).

        Raises:
            ValueError: a mutation does not fit its reference, or lies beyond the
                residues the backbone keeps (its ``max_length``).
        """
        references = list(dict.fromkeys(s["sequences"] for s in samples))
        row_of = {sequence: row for row, sequence in enumerate(references)}
        batch = self.tokenize_samples(samples, references)
        batch["ids"] = [s.get("ids") for s in samples]  # one per variant, not per reference
        batch["reference"] = torch.tensor([row_of[s["sequences"]] for s in samples])
        index, packed = pack_index(residue_mask(batch))
        kept = packed.sum(1)
        sites: list[tuple[int, int, int, int]] = []
        for variant, sample in enumerate(samples):
            problem = self.sample_problem(sample)
            if problem is not None:
                raise ValueError(f"id {sample.get('ids')!r}: {problem}")
            row = row_of[sample["sequences"]]
            for substitution in parse_mutations(variant_mutations(sample)):
                if substitution.position >= int(kept[row]):
                    raise ValueError(
                        f"id {sample.get('ids')!r}: mutation {substitution} lies beyond the "
                        f"{int(kept[row])} residues {type(self.backbone).__name__} keeps "
                        "(its max_length); shorten the reference around the mutation."
                    )
                held = sample["sequences"][substitution.position]
                # The new residue is written in the reference's case (c12g on ACGT is C12G).
                alt = substitution.alt.upper() if held.isupper() else substitution.alt.lower()
                try:
                    alt_token = self.backbone.get_token_id(alt)
                except KeyError:
                    raise ValueError(
                        f"id {sample.get('ids')!r}: mutation {substitution}: the new residue "
                        f"{alt!r} is not in the {type(self.backbone).__name__} vocabulary; "
                        "check the mutation, or use a backbone for this alphabet."
                    ) from None
                sites.append(
                    (
                        variant,
                        int(index[row, substitution.position]),
                        self.backbone.get_token_id(held),
                        alt_token,
                    )
                )
        columns = torch.tensor(sites, dtype=torch.long).view(-1, 4)
        batch["site_variant"], batch["site_token"] = columns[:, 0], columns[:, 1]
        batch["site_ref"], batch["site_alt"] = columns[:, 2], columns[:, 3]
        if samples and "labels" in samples[0]:
            values = [as_numbers(s["labels"]) for s in samples]
            batch["labels"] = torch.tensor([v[0] for v in values], dtype=torch.float32)
        return batch

    # ----------------------------------------------------------------- steps
    def evaluate(self, preds: Tensor, batch: dict[str, Any], stage: Stage) -> dict[str, Tensor]:
        """Update the metrics with each variant's damage (or fitness) against its label."""
        labels = batch["labels"].to(preds.device)
        damage_like = self.labels == "binary"
        effect = preds if damage_like == self.score_rises_with_damage else -preds
        target = labels.long() if damage_like else labels
        self.stage_metrics(stage).update(effect.float(), target)
        return {}

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """Score the variants and update the test metrics (there is no loss)."""
        self.evaluate(self(batch), batch, "test")
        size = len(batch["ids"])
        for name, metric in self.stage_metrics("test").items():
            self.log(f"test_{name}", metric, on_step=False, on_epoch=True, batch_size=size)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Return ``{"ids": [...], "predictions": (variants,) scores}``."""
        return {"ids": batch["ids"], "predictions": self(batch).float().cpu()}

    def variant_ids(self, batch: dict[str, Any]) -> Tensor:
        """Return every variant's token ids: its reference row with the substitutions made."""
        reference = batch["reference"].to(batch["input_ids"].device)
        ids = batch["input_ids"][reference].clone()
        ids[batch["site_variant"], batch["site_token"]] = batch["site_alt"]
        return ids


class VariantLikelihoodRatio(_VariantScorer):
    """Score variants zero-shot by the log-likelihood ratio of a masked-LM head.

    For each substitution, ``log p(alt) - log p(ref)`` at its position, summed over the
    variant's substitutions; 0 for the reference itself, negative when the model finds
    the variant less likely than the reference. With ``marginal="masked"`` the position
    is masked before it is read (one forward pass per distinct reference and mutated
    position, shared by every variant of the batch that mutates it); with
    ``"wildtype"`` the unmasked reference is read once for all its variants.

    Nothing trains: run ``mg test`` (with labels) or ``mg predict``, on a pretrained
    backbone or an `MLM` checkpoint (``--ckpt_path``).

    Data: samples with ``"sequences"`` (the reference), ``"mutations"`` (``A123G`` or
    ``A123G:C130T``, 1-based; ``WT`` for the reference) or ``"alternatives"`` (the
    variant's sequence, substitutions only) and, for ``test``, ``"labels"``.
    Every mutation is checked against its reference before the model loads.

    Predictions: ``{"ids": [...], "predictions": (batch,) scores}``.

    Metrics (test): with ``labels="binary"`` (1 = damaging, e.g. pathogenic)
    ``auroc`` and ``auprc`` of the negated score; with ``"continuous"`` (fitness)
    ``spearman`` of the score.

    Args:
        backbone (BackboneCallable): builds the backbone (masked-LM head, mask token, one
            token per residue).
        marginal (Marginal): ``"masked"`` or ``"wildtype"``.
        labels (VariantLabels): ``"binary"`` or ``"continuous"`` test labels.
        **kwargs (Any): other `TaskInterface` options.

    Raises:
        ValueError: an unknown ``marginal`` or ``labels``.
    """

    uses_lm_head = True
    needs_capabilities = frozenset({Capability.PER_RESIDUE_TOKENS, Capability.MASK_TOKEN})

    def __init__(
        self,
        backbone: BackboneCallable,
        *,
        marginal: Marginal = "masked",
        labels: VariantLabels = "binary",
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone, labels=labels, **kwargs)
        if marginal not in ("masked", "wildtype"):
            raise ValueError(f"marginal must be 'masked' or 'wildtype', not {marginal!r}.")
        self.marginal = marginal

    def _log_probs(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        out = self.backbone(input_ids, attention_mask)
        return F.log_softmax(self.backbone.get_decoder()(out.last_hidden_state).float(), -1)

    def forward(self, batch: dict[str, Any]) -> Tensor:
        """Return each variant's summed log-likelihood ratio, ``(variants,)``."""
        ids, mask = batch["input_ids"], batch["attention_mask"]
        reference = batch["reference"].to(ids.device)
        scores = torch.zeros(len(batch["ids"]), device=ids.device)
        if batch["site_variant"].numel() == 0:
            return scores
        rows = reference[batch["site_variant"]]
        positions = batch["site_token"]
        if self.marginal == "wildtype":
            log_probs = self._log_probs(ids, mask)[rows, positions]
        else:
            # One masked copy per distinct (reference, position), shared by its variants.
            pairs, which = torch.unique(
                torch.stack([rows, positions], 1), dim=0, return_inverse=True
            )
            masked = ids[pairs[:, 0]].clone()
            masked[torch.arange(len(pairs), device=ids.device), pairs[:, 1]] = (
                self.backbone.get_special_token_id("mask")
            )
            log_probs = self._log_probs(masked, mask[pairs[:, 0]])
            log_probs = log_probs[torch.arange(len(pairs), device=ids.device), pairs[:, 1]][which]
        ratio = log_probs.gather(1, batch["site_alt"][:, None]) - log_probs.gather(
            1, batch["site_ref"][:, None]
        )
        return scores.index_add(0, batch["site_variant"], ratio.squeeze(1))


def cosine_distance(a: Tensor, b: Tensor) -> Tensor:
    """``1 - cos(a, b)`` along the last dimension, accurate for nearly equal vectors.

    ``1 - cosine_similarity`` subtracts two numbers close to 1 and keeps only rounding
    error when ``a`` and ``b`` point almost the same way (in float32, relative errors of
    several times the true value, or exactly 0). Half the squared distance between the
    unit vectors is the same quantity, computed from their small difference.

    Args:
        a (Tensor): ``(..., dim)``.
        b (Tensor): ``(..., dim)``.

    Returns:
        Tensor: ``(...)``, in ``[0, 2]``.
    """
    difference = F.normalize(a, dim=-1) - F.normalize(b, dim=-1)
    return 0.5 * difference.pow(2).sum(-1)


class VariantEmbeddingDistance(_VariantScorer):
    """Score variants zero-shot by how far their embedding moves from the reference's.

    The reference is encoded once for all its variants; each variant (the reference's
    tokens with its substitutions made) is encoded once. With ``pooling="mean"`` the
    mean over residues of each is compared; with ``"positions"`` the mean of the states
    at the mutated positions. The score is the ``distance`` between them (``cosine``:
    ``1 - cosine similarity``; ``l1``; ``l2``), 0 for the reference itself and larger for
    bigger changes.

    Nothing trains: run ``mg test`` (with labels) or ``mg predict``.

    Data: as `VariantLikelihoodRatio`.

    Predictions: ``{"ids": [...], "predictions": (batch,) distances}``.

    Metrics (test): with ``labels="binary"`` (1 = damaging) ``auroc`` and ``auprc``
    of the distance; with ``"continuous"`` (fitness) ``spearman`` of its negation.

    Args:
        backbone (BackboneCallable): builds the backbone (one token per residue).
        distance (Distance): ``"cosine"``, ``"l1"`` or ``"l2"``.
        pooling (Pooling): ``"mean"`` or ``"positions"``.
        labels (VariantLabels): ``"binary"`` or ``"continuous"`` test labels.
        **kwargs (Any): other `TaskInterface` options.

    Raises:
        ValueError: an unknown ``distance``, ``pooling`` or ``labels``.
    """

    score_rises_with_damage = True
    scores_indels = True  # the variant's window is encoded whole, whatever its alignment

    def __init__(
        self,
        backbone: BackboneCallable,
        *,
        distance: Distance = "cosine",
        pooling: Pooling = "mean",
        labels: VariantLabels = "binary",
        **kwargs: Any,
    ) -> None:
        super().__init__(backbone, labels=labels, **kwargs)
        if distance not in ("cosine", "l1", "l2"):
            raise ValueError(f"distance must be 'cosine', 'l1' or 'l2', not {distance!r}.")
        if pooling not in ("mean", "positions"):
            raise ValueError(f"pooling must be 'mean' or 'positions', not {pooling!r}.")
        self.distance = distance
        self.pooling = pooling

    def forward(self, batch: dict[str, Any]) -> Tensor:
        """Return each variant's embedding distance from its reference, ``(variants,)``."""
        ids, mask = batch["input_ids"], batch["attention_mask"]
        reference = batch["reference"].to(ids.device)
        ref_states = self.backbone(ids, mask).last_hidden_state.float()[reference]
        var_states = self.backbone(self.variant_ids(batch), mask[reference]).last_hidden_state
        var_states = var_states.float()
        if self.pooling == "mean":
            weights = residue_mask(batch)[reference].float()
        else:
            weights = torch.zeros(ref_states.shape[:2], device=ids.device)
            weights[batch["site_variant"], batch["site_token"]] = 1.0
        count = weights.sum(1, keepdim=True).clamp(min=1)
        a = (ref_states * weights[..., None]).sum(1) / count
        b = (var_states * weights[..., None]).sum(1) / count
        if self.distance == "cosine":
            scores = cosine_distance(a, b)
        elif self.distance == "l1":
            scores = (a - b).abs().sum(-1)
        else:
            scores = (a - b).norm(dim=-1)
        # The reference itself (no substitution) is exactly 0, whatever rounding says.
        has_sites = torch.zeros(len(scores), dtype=torch.bool, device=ids.device)
        has_sites[batch["site_variant"]] = True
        return torch.where(has_sites, scores, torch.zeros_like(scores))
