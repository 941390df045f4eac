"""AIDO.Cell (GenBio AI): a dense transformer over every gene of a cell.

Architecture (ModelGenerator's ``cellfoundation``), written here in plain torch:

- each gene's value becomes a soft mixture of ``bin_num`` learned bin embeddings
  (value -> linear -> leaky ReLU -> residual linear -> softmax over bins), plus a learned
  absolute position embedding (the gene's place in the vocabulary);
- pre-norm layers (RMSNorm by default): full self-attention over all genes, then a
  SwiGLU MLP; a final norm.

Input preparation (`prepare_counts`): raw counts scaled to 1e4 per cell and
``log1p``-transformed, followed by two read-depth tokens ``max(log10(total counts), 5)``,
every value capped at 20. The two read-depth positions are dropped from the output, so
there is one hidden state per gene of the vocabulary.

Attention runs over genes, as the published (flash-attention) model computes it; the
reference's CPU fallback attends across heads instead and must not be used for
comparisons (see tools/make_aido_cell_fixtures.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional

from mg.backbones.aido.layers import make_norm
from mg.backbones.cells.common import (
    FinetunedCellBackbone,
    gene_vocabulary,
    read_config,
)
from mg.backbones.loading import BackboneLoadError, model_folder, read_weights
from mg.backbones.saving import SavesPretrained
from mg.core.backbone import BackboneOutput
from mg.core.cells import GeneVocabulary
from mg.core.padding import TokenizedBatch

TARGET_SUM = 1e4
"""Counts per cell after scaling, before log1p."""
MIN_DEPTH = 5.0
"""The read-depth tokens never go below this (log10 of the total count)."""
MAX_VALUE = 20.0
"""Every prepared value is capped here."""
DEPTH_TOKENS = 2
"""Read-depth tokens appended after the genes."""
GENES_FILE = "genes.txt"
"""The genes, one per line, that a folder written by `AIDOCellNetwork.save_pretrained` carries."""


def prepare_counts(counts: Tensor) -> Tensor:
    """Turn raw counts into AIDO.Cell's input: log1p of counts per 1e4, depth tokens, cap.

    Args:
        counts (Tensor): ``(cells, genes)`` raw counts over the model's vocabulary.

    Returns:
        Tensor: ``(cells, genes + 2)`` float32 values.
    """
    values = counts.float()
    total = values.sum(dim=1, keepdim=True)
    depth = torch.log10(total).clamp_min(MIN_DEPTH)
    # A cell with no counts has nothing to scale: it reads as all zeros, not NaN.
    scaled = torch.log1p(values / total.clamp_min(1e-12) * TARGET_SUM)
    prepared = torch.cat([scaled, depth, depth], dim=1)
    return prepared.clamp_max(MAX_VALUE)


@dataclass(frozen=True)
class AIDOCellConfig:
    """The architecture of an AIDO.Cell model (the fields of its ``config.json``)."""

    hidden_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 256
    max_position_embeddings: int = 19264
    bin_num: int = 100
    bin_alpha: float = 1.0
    layer_norm_eps: float = 1e-5
    add_linear_bias: bool = True
    normalization_type: str = "RMSNorm"
    pad_token_id: int = -2
    mask_token_id: int = -1
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0

    def get(self, key: str, default: Any = None) -> Any:
        """Return a field like a mapping would; peft before 0.14 reads the model config so."""
        return getattr(self, key, default)

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str) -> AIDOCellConfig:
        """Read the known fields of a ``config.json``, refusing variants not written here.

        Raises:
            BackboneLoadError: a position embedding, activation or norm this class lacks.
        """
        checks = {
            "position_embedding_type": ("absolute",),
            "hidden_act": ("swiglu",),
            "normalization_type": ("RMSNorm", "LayerNorm"),
        }
        for key, allowed in checks.items():
            if key in values and values[key] not in allowed:
                raise BackboneLoadError(
                    f"{where}: {key}={values[key]!r} is not an AIDO.Cell architecture mg has "
                    f"(it reads {' or '.join(allowed)})."
                )
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def _norm(config: AIDOCellConfig) -> nn.Module:
    return make_norm(config.normalization_type, config.hidden_size, config.layer_norm_eps)


class ValueEmbedding(nn.Module):
    """A gene's value as a softmax-weighted mix of learned bin embeddings."""

    def __init__(self, config: AIDOCellConfig) -> None:
        super().__init__()
        self.bin_alpha = config.bin_alpha
        self.mask_id = config.mask_token_id
        self.pad_id = config.pad_token_id
        self.linear1 = nn.Linear(1, config.bin_num)
        self.linear2 = nn.Linear(config.bin_num, config.bin_num)
        self.lookup_table = nn.Embedding(config.bin_num, config.hidden_size)
        self.mask_embedding = nn.Embedding(1, config.hidden_size)
        self.pad_embedding = nn.Embedding(1, config.hidden_size)

    def forward(self, values: Tensor) -> Tensor:
        """Embed ``(cells, length)`` values as ``(cells, length, hidden)``."""
        x = values.unsqueeze(-1).to(self.linear1.weight.dtype)
        scores = functional.leaky_relu(self.linear1(x), 0.1)
        scores = self.bin_alpha * scores + self.linear2(scores)
        embedded = torch.softmax(scores, dim=-1) @ self.lookup_table.weight
        # The mask and pad values stand for "unknown" and "absent": learned vectors.
        embedded = torch.where(
            (values == self.mask_id).unsqueeze(-1), self.mask_embedding.weight[0], embedded
        )
        return torch.where(
            (values == self.pad_id).unsqueeze(-1), self.pad_embedding.weight[0], embedded
        )


class SelfAttention(nn.Module):
    """Multi-head self-attention over every position of the cell."""

    def __init__(self, config: AIDOCellConfig) -> None:
        super().__init__()
        size, bias = config.hidden_size, config.add_linear_bias
        self.heads = config.num_attention_heads
        self.query = nn.Linear(size, size, bias=bias)
        self.key = nn.Linear(size, size, bias=bias)
        self.value = nn.Linear(size, size, bias=bias)
        self.dropout = config.attention_probs_dropout_prob

    def forward(self, x: Tensor) -> Tensor:
        """Attend over positions: ``(cells, length, hidden)`` in and out."""
        cells, length, size = x.shape

        def split(t: Tensor) -> Tensor:  # (cells, heads, length, head size)
            return t.view(cells, length, self.heads, size // self.heads).transpose(1, 2)

        out = functional.scaled_dot_product_attention(
            split(self.query(x)),
            split(self.key(x)),
            split(self.value(x)),
            dropout_p=self.dropout if self.training else 0.0,
        )
        return out.transpose(1, 2).reshape(cells, length, size)


class AttentionOutput(nn.Module):
    """The attention's output projection, added to the residual stream."""

    def __init__(self, config: AIDOCellConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size, bias=config.add_linear_bias)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: Tensor, residual: Tensor) -> Tensor:
        """Project and add."""
        return residual + self.dropout(self.dense(x))


class AttentionBlock(nn.Module):
    """Pre-norm self-attention with its residual."""

    def __init__(self, config: AIDOCellConfig) -> None:
        super().__init__()
        self.ln = _norm(config)
        self.self = SelfAttention(config)
        self.output = AttentionOutput(config)

    def forward(self, x: Tensor) -> Tensor:
        """Norm, attend, project, add."""
        return self.output(self.self(self.ln(x)), x)


class SwiGLU(nn.Module):
    """``down(silu(gate(x)) * up(x))``."""

    def __init__(self, config: AIDOCellConfig) -> None:
        super().__init__()
        size, inner, bias = config.hidden_size, config.intermediate_size, config.add_linear_bias
        self.up_proj = nn.Linear(size, inner, bias=bias)
        self.gate_proj = nn.Linear(size, inner, bias=bias)
        self.down_proj = nn.Linear(inner, size, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        """Gate and project back."""
        return self.down_proj(functional.silu(self.gate_proj(x)) * self.up_proj(x))


class AIDOCellLayer(nn.Module):
    """One transformer layer: attention block, then a pre-norm SwiGLU MLP with residual."""

    def __init__(self, config: AIDOCellConfig) -> None:
        super().__init__()
        self.attention = AttentionBlock(config)
        self.ln = _norm(config)
        self.mlp = SwiGLU(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: Tensor) -> Tensor:
        """Run the layer."""
        x = self.attention(x)
        return x + self.dropout(self.mlp(self.ln(x)))


class AIDOCellEncoder(nn.Module):
    """The stack of layers and the final norm."""

    def __init__(self, config: AIDOCellConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(AIDOCellLayer(config) for _ in range(config.num_hidden_layers))
        self.ln = _norm(config)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Return the input to each layer, then the normed output of the last."""
        states = []
        for layer in self.layer:
            states.append(x)
            x = layer(x)
        states.append(self.ln(x))
        return states


class AIDOCellModel(nn.Module):
    """The AIDO.Cell network; its parameter names are those of the published checkpoints."""

    def __init__(self, config: AIDOCellConfig) -> None:
        super().__init__()
        self.config = config
        self.gene_embedding = ValueEmbedding(config)
        self.position_embedding = nn.Embedding(
            config.max_position_embeddings + DEPTH_TOKENS, config.hidden_size
        )
        self.encoder = AIDOCellEncoder(config)

    def forward(self, values: Tensor) -> list[Tensor]:
        """Encode prepared values ``(cells, length)``; every layer's states, last normed."""
        positions = torch.arange(values.shape[1], device=values.device)
        hidden = self.gene_embedding(values) + self.position_embedding(positions)
        return self.encoder(hidden)


class AIDOCellNetwork(SavesPretrained, FinetunedCellBackbone):
    """AIDO.Cell's network over a gene list: what `AIDOCell` and `AIDOCellTiny` share.

    A subclass builds or loads the network, sets ``self.vocabulary`` and calls
    `attach_model`; the fine-tuning options are `FinetunedCellBackbone`'s.
    """

    lora_target_modules: ClassVar[tuple[str, ...]] = ("query", "key", "value", "dense")
    vocabulary: GeneVocabulary

    def gene_vocabulary(self) -> GeneVocabulary:
        """Return the genes the model reads, in order."""
        return self.vocabulary

    def write_pretrained(self, folder: Path) -> None:
        """Write ``config.json``, ``model.safetensors`` and the genes, as `AIDOCell` reads them."""
        from safetensors.torch import save_file

        model = self.exportable_model()
        config = {"model_type": "cellfoundation", **asdict(model.config)}
        (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(folder / "model.safetensors"))
        (folder / GENES_FILE).write_text("\n".join(self.vocabulary.genes) + "\n", encoding="utf-8")

    def batch_cells(self, expression: Tensor) -> TokenizedBatch:
        """Prepare raw counts (`prepare_counts`); every position is real."""
        values = prepare_counts(expression)
        mask = torch.ones(values.shape, dtype=torch.bool)
        special = torch.zeros_like(mask)
        special[:, -DEPTH_TOKENS:] = True
        return TokenizedBatch(values, mask, special)

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, all_hidden_states: bool = False
    ) -> BackboneOutput:
        """Encode prepared cells; one hidden state per gene (read-depth positions dropped).

        Args:
            input_ids (Tensor): ``(cells, genes + 2)`` prepared values (`batch_cells`).
            attention_mask (Tensor): ``(cells, genes + 2)`` bool (all True: every cell has
                every gene).
            all_hidden_states (bool): also return the embedding output and every layer's.
        """
        states = self.model(input_ids)
        genes = input_ids.shape[1] - DEPTH_TOKENS
        mask = attention_mask.bool()[:, :genes]
        return BackboneOutput(
            last_hidden_state=states[-1][:, :genes],
            attention_mask=mask,
            special_tokens_mask=torch.zeros_like(mask),
            hidden_states=tuple(s[:, :genes] for s in states) if all_hidden_states else None,
        )

    def get_embedding_size(self) -> int:
        """Return the hidden size."""
        return self.model.config.hidden_size

    def get_num_layer(self) -> int:
        """Return the number of layers."""
        return self.model.config.num_hidden_layers


AIDO_CELL_CHECKPOINTS: dict[str, str] = {
    "3M": "genbio-ai/AIDO.Cell-3M",
    "10M": "genbio-ai/AIDO.Cell-10M",
    "100M": "genbio-ai/AIDO.Cell-100M",
}
"""Published AIDO.Cell checkpoints by size; pass one (or its local copy) as ``model_path``."""


class AIDOCell(AIDOCellNetwork):
    """AIDO.Cell (3M, 10M, 100M): GenBio's transformer over every gene of a cell.

    Reads a local folder or a Hub id (``config.json`` and safetensors weights); the
    default is the 100M model (`AIDO_CELL_CHECKPOINTS` lists every size).

    Args:
        use_lm_head (bool): reserved; AIDO.Cell has no masked-LM head in mg.
        default_config (dict[str, Any] | None): reserved; task defaults (unused).
        model_path (str | None): a local folder or a Hub id; None uses the class's.
        genes (Sequence[str] | str | None): the model's genes in order (or a file with one
            per line); None uses the ``genes.txt`` of a folder mg saved, else the 19,264
            symbols the published models read.
        **finetuning (Any): ``finetune`` and the ``lora_*`` options; see
            `FinetunedCellBackbone`.
    """

    default_model_path: ClassVar[str] = AIDO_CELL_CHECKPOINTS["100M"]

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        model_path: str | None = None,
        genes: Sequence[str] | str | None = None,
        **finetuning: Any,
    ) -> None:
        super().__init__(use_lm_head, default_config, **finetuning)
        path = model_path or self.default_model_path
        folder = model_folder(path, ["config.json", "model*.safetensors", GENES_FILE])
        self.vocabulary = _genes(genes, folder, type(self).__name__)
        config = AIDOCellConfig.from_dict(read_config(folder), str(path))
        model = AIDOCellModel(config)
        _load_state(model, read_weights(folder), str(path))
        if config.max_position_embeddings < len(self.vocabulary):
            raise ValueError(
                f"{type(self).__name__} reads {len(self.vocabulary)} genes, but the model has "
                f"positions for {config.max_position_embeddings}: give its own gene list."
            )
        self.attach_model(model)

    @classmethod
    def declared_gene_vocabulary(cls, options: Mapping[str, Any]) -> GeneVocabulary | None:
        """Return the ``genes`` option's, else a local model folder's, else the published genes."""
        path = options.get("model_path") or cls.default_model_path
        folder = Path(path).expanduser() if path else None
        return _genes(options.get("genes"), folder, cls.__name__)


def _genes(genes: Sequence[str] | str | None, folder: Path | None, who: str) -> GeneVocabulary:
    """The ``genes`` option, else the list a saved folder carries, else the published one."""
    if genes is None and folder is not None and (folder / GENES_FILE).is_file():
        genes = str(folder / GENES_FILE)
    return gene_vocabulary(genes, None, default="aido_cell_genes.txt", who=who)


def _load_state(model: nn.Module, state: dict[str, Tensor], where: str) -> None:
    """Load published weights, which may carry a ``bert.`` prefix; every key must fit."""
    state = {k.removeprefix("bert."): v for k, v in state.items()}
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        problem = (
            f"lacks {result.missing_keys[:3]}"
            if result.missing_keys
            else f"has unknown weights {result.unexpected_keys[:3]}"
        )
        raise BackboneLoadError(
            f"{where} is not an AIDO.Cell checkpoint mg can read: it {problem}."
        )


class AIDOCell3M(AIDOCell):
    """AIDO.Cell 3M (``genbio-ai/AIDO.Cell-3M``): 19,264 genes, raw counts in."""

    default_model_path = AIDO_CELL_CHECKPOINTS["3M"]


class AIDOCell10M(AIDOCell):
    """AIDO.Cell 10M (``genbio-ai/AIDO.Cell-10M``): 19,264 genes, raw counts in."""

    default_model_path = AIDO_CELL_CHECKPOINTS["10M"]


class AIDOCell100M(AIDOCell):
    """AIDO.Cell 100M (``genbio-ai/AIDO.Cell-100M``): 19,264 genes, raw counts in."""

    default_model_path = AIDO_CELL_CHECKPOINTS["100M"]


class AIDOCellTiny(AIDOCellNetwork):
    """A tiny AIDO.Cell (seeded random weights) over a given gene list; for tests.

    Args:
        use_lm_head (bool): reserved.
        default_config (dict[str, Any] | None): reserved; ``{"genes": [...]}`` supplies
            the genes when the option is unset.
        genes (Sequence[str] | str | None): the genes read, in order.
        hidden_size (int): hidden size.
        num_layers (int): layers.
        num_heads (int): attention heads.
        bin_num (int): value bins.
        seed (int): seed of the random initialisation.
        **finetuning (Any): ``finetune`` and the ``lora_*`` options; see
            `FinetunedCellBackbone`.
    """

    reloads_as: ClassVar[str] = "AIDOCell"
    """The registered family whose ``model_path`` reads what `save_pretrained` writes."""

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        genes: Sequence[str] | str | None = None,
        hidden_size: int = 32,
        num_layers: int = 2,
        num_heads: int = 4,
        bin_num: int = 16,
        seed: int = 0,
        **finetuning: Any,
    ) -> None:
        super().__init__(use_lm_head, default_config, **finetuning)
        self.vocabulary = gene_vocabulary(genes, self.default_config, who=type(self).__name__)
        config = AIDOCellConfig(
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            intermediate_size=2 * hidden_size,
            max_position_embeddings=len(self.vocabulary),
            bin_num=bin_num,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = AIDOCellModel(config)
        self.attach_model(model)

    @classmethod
    def declared_gene_vocabulary(cls, options: Mapping[str, Any]) -> GeneVocabulary | None:
        """Return the ``genes`` option's vocabulary; None when the task supplies the genes."""
        genes = options.get("genes")
        return None if genes is None else gene_vocabulary(genes, None, who=cls.__name__)
