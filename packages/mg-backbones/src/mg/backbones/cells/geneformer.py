"""Geneformer: a BERT over a cell's genes ranked by normalised expression.

The rank-value encoding: each gene's count, scaled by the cell's total, is divided by the
gene's median over the pretraining corpus (its "normalisation factor"); the cell's
expressed genes, highest value first, become its tokens, cut to the model's input size.
Version 2 models frame the genes with ``<cls>`` and ``<eos>``; version 1 models take the
genes alone. Dividing every gene of a cell by the same total never changes the order, so
the ranks do not depend on genes outside the vocabulary.

The dictionaries (gene → token id, gene → median) are read as data
(`mg.backbones.cells.dictionaries`); the model is a transformers ``BertModel``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from mg.backbones.cells.common import FinetunedCellBackbone
from mg.backbones.cells.dictionaries import read_dictionary
from mg.backbones.loading import model_folder
from mg.backbones.saving import SavesPretrained
from mg.core.backbone import BackboneOutput
from mg.core.cells import GeneVocabulary
from mg.core.padding import TokenizedBatch

SPECIAL_TOKENS = ("<pad>", "<mask>", "<cls>", "<eos>")
"""Geneformer's special tokens; the rest of the token dictionary are genes."""


class RankValueTokenizer:
    """Geneformer's tokenization of cells, from its token and gene-median dictionaries.

    Args:
        tokens (dict[str, int]): Ensembl id or special token → token id.
        medians (dict[str, float]): Ensembl id → median (normalisation factor).
        max_length (int): tokens per cell, special tokens included.
        special_tokens (bool | None): frame cells with ``<cls>`` and ``<eos>``; None does
            so when the token dictionary has them (version 2).
    """

    def __init__(
        self,
        tokens: dict[str, int],
        medians: dict[str, float],
        max_length: int,
        special_tokens: bool | None = None,
    ) -> None:
        genes = [g for g in tokens if g not in SPECIAL_TOKENS and g in medians]
        if not genes:
            raise ValueError("The token and median dictionaries share no gene.")
        self.tokens = tokens
        self.vocabulary = GeneVocabulary.from_names(genes)
        self.gene_tokens = np.array([tokens[g] for g in genes], dtype=np.int64)
        self.medians = np.array([float(medians[g]) for g in genes], dtype=np.float64)
        if special_tokens is None:
            special_tokens = "<cls>" in tokens and "<eos>" in tokens
        self.special_tokens = special_tokens
        self.max_length = max_length
        self.pad_id = int(tokens.get("<pad>", 0))

    @classmethod
    def from_files(
        cls,
        token_dictionary: str | Path,
        gene_median_dictionary: str | Path,
        max_length: int,
        special_tokens: bool | None = None,
    ) -> RankValueTokenizer:
        """Read the two dictionaries (JSON, or pickles of plain values) and build it."""
        tokens = {k: int(v) for k, v in read_dictionary(token_dictionary).items()}
        medians = {k: float(v) for k, v in read_dictionary(gene_median_dictionary).items()}
        return cls(tokens, medians, max_length, special_tokens)

    def rank(self, counts: np.ndarray) -> list[list[int]]:
        """Turn cells into token ids, highest normalised expression first; no padding.

        Args:
            counts (np.ndarray): ``(cells, genes)`` counts over `vocabulary`.

        Returns:
            list[list[int]]: one row of token ids per cell (ties keep vocabulary order).
        """
        counts = np.asarray(counts, dtype=np.float64)
        totals = counts.sum(axis=1, keepdims=True)
        values = counts / np.where(totals > 0, totals, 1.0) * 1e4 / self.medians
        room = self.max_length - (2 if self.special_tokens else 0)
        rows = []
        for row in values:
            expressed = np.flatnonzero(row > 0)
            order = expressed[np.argsort(-row[expressed], kind="stable")][:room]
            ids = self.gene_tokens[order].tolist()
            if self.special_tokens:
                ids = [self.tokens["<cls>"], *ids, self.tokens["<eos>"]]
            rows.append(ids)
        return rows

    def batch(self, counts: Tensor) -> TokenizedBatch:
        """Rank and pad cells on the right; special tokens and padding marked."""
        rows = self.rank(counts.detach().cpu().numpy())
        width = max(1, max(len(r) for r in rows))
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.bool)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[i, : len(row)] = True
        special = ~mask
        if self.special_tokens:
            special |= (ids == self.tokens["<cls>"]) | (ids == self.tokens["<eos>"])
        return TokenizedBatch(ids, mask, special)


class GeneformerNetwork(SavesPretrained, FinetunedCellBackbone):
    """Geneformer's BERT over rank-value tokens: what `Geneformer` and `GeneformerTiny` share.

    A subclass builds or loads the model, sets ``self.cell_tokenizer`` and calls
    `attach_model`; the fine-tuning options are `FinetunedCellBackbone`'s.
    """

    cell_tokenizer: RankValueTokenizer

    def gene_vocabulary(self) -> GeneVocabulary:
        """Return the genes with both a token and a median (Ensembl ids)."""
        return self.cell_tokenizer.vocabulary

    def batch_cells(self, expression: Tensor) -> TokenizedBatch:
        """Rank each cell's genes into tokens and pad the batch."""
        return self.cell_tokenizer.batch(expression)

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, all_hidden_states: bool = False
    ) -> BackboneOutput:
        """Encode ranked gene tokens; padding never reaches a real token."""
        mask = attention_mask.bool()
        out = self.model(
            input_ids=input_ids,
            attention_mask=mask.long(),
            output_hidden_states=all_hidden_states,
            return_dict=True,
        )
        special = ~mask
        if self.cell_tokenizer.special_tokens:
            tokens = self.cell_tokenizer.tokens
            special = special | (input_ids == tokens["<cls>"]) | (input_ids == tokens["<eos>"])
        return BackboneOutput(
            last_hidden_state=out.last_hidden_state,
            attention_mask=mask,
            special_tokens_mask=special,
            hidden_states=tuple(out.hidden_states) if all_hidden_states else None,
        )

    def get_max_context(self) -> int:
        """Return the tokens per cell, special tokens included."""
        return self.cell_tokenizer.max_length

    def get_embedding_size(self) -> int:
        """Return the hidden size."""
        return int(self.model.config.hidden_size)

    def get_num_layer(self) -> int:
        """Return the number of layers."""
        return int(self.model.config.num_hidden_layers)

    def write_pretrained(self, folder: Path) -> None:
        """Write the BERT and both dictionaries as JSON, as `Geneformer` reads them."""
        self.exportable_model().save_pretrained(folder)
        tokenizer = self.cell_tokenizer
        medians = dict(zip(tokenizer.vocabulary.genes, tokenizer.medians.tolist(), strict=True))
        for name, values in (
            ("token_dictionary", tokenizer.tokens),
            ("gene_median_dictionary", medians),
        ):
            (folder / f"{name}.json").write_text(json.dumps(values), encoding="utf-8")


class Geneformer(GeneformerNetwork):
    """Geneformer from a folder holding the BERT model and the two gene dictionaries.

    Args:
        use_lm_head (bool): reserved; Geneformer's masked-LM head is not loaded.
        default_config (dict[str, Any] | None): reserved; task defaults (unused).
        model_path (str | None): a folder (or Hub id) with ``config.json`` and weights.
        token_dictionary (str | None): the gene → token file; None looks in the model
            folder for ``token_dictionary.json`` then ``token_dictionary.pkl``.
        gene_median_dictionary (str | None): the gene → median file; None looks in the
            model folder for ``gene_median_dictionary.json`` then ``.pkl``.
        max_length (int | None): tokens per cell; None uses the model's positions.
        special_tokens (bool | None): ``<cls>``/``<eos>`` framing; None from the tokens.
        **finetuning (Any): ``finetune`` and the ``lora_*`` options; see
            `FinetunedCellBackbone`.
    """

    default_model_path: ClassVar[str | None] = None

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        model_path: str | None = None,
        token_dictionary: str | None = None,
        gene_median_dictionary: str | None = None,
        max_length: int | None = None,
        special_tokens: bool | None = None,
        **finetuning: Any,
    ) -> None:
        super().__init__(use_lm_head, default_config, **finetuning)
        from transformers import BertModel

        path = model_path or self.default_model_path
        if path is None:
            raise ValueError(f"{type(self).__name__} needs model_path: a local folder.")
        folder = model_folder(
            path, ["config.json", "model*.safetensors", "*dictionary*.json", "*dictionary*.pkl"]
        )
        files = {
            "token_dictionary": token_dictionary,
            "gene_median_dictionary": gene_median_dictionary,
        }
        found = {name: given or _in_folder(folder, name) for name, given in files.items()}
        model = BertModel.from_pretrained(str(folder), add_pooling_layer=False)
        limit = max_length or int(model.config.max_position_embeddings)
        tokenizer = RankValueTokenizer.from_files(
            found["token_dictionary"], found["gene_median_dictionary"], limit, special_tokens
        )
        self.cell_tokenizer = tokenizer
        self.attach_model(model)

    @classmethod
    def declared_gene_vocabulary(cls, options: Mapping[str, Any]) -> GeneVocabulary | None:
        """Read the genes from the dictionaries (options, or a local model folder's files).

        Returns None for a Hub id without dictionary options: only the download knows.
        """
        files = {name: options.get(name) for name in ("token_dictionary", "gene_median_dictionary")}
        path = options.get("model_path") or cls.default_model_path
        folder = Path(path).expanduser() if path else None
        if folder is not None and folder.is_dir():
            files = {name: given or _in_folder(folder, name) for name, given in files.items()}
        if not all(files.values()):
            return None
        tokenizer = RankValueTokenizer.from_files(
            files["token_dictionary"], files["gene_median_dictionary"], max_length=2
        )
        return tokenizer.vocabulary


def _in_folder(folder: Path, name: str) -> Path:
    for suffix in (".json", ".pkl"):
        candidate = folder / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{folder} has no {name}.json or {name}.pkl: set {name} to Geneformer's file "
        f"(e.g. {name}_gc104M.pkl from the Geneformer repository)."
    )


class GeneformerTiny(GeneformerNetwork):
    """A tiny Geneformer (seeded random BERT) over a given gene list; for tests.

    Args:
        use_lm_head (bool): reserved.
        default_config (dict[str, Any] | None): reserved; ``{"genes": [...]}`` supplies
            the genes when the option is unset.
        genes (Sequence[str] | None): Ensembl ids; token ids follow the special tokens.
        medians (Sequence[float] | None): each gene's median; None: all 1.
        hidden_size (int): hidden size.
        num_layers (int): layers.
        num_heads (int): attention heads.
        max_length (int): tokens per cell, ``<cls>`` and ``<eos>`` included.
        seed (int): seed of the random initialisation.
        **finetuning (Any): ``finetune`` and the ``lora_*`` options; see
            `FinetunedCellBackbone`.
    """

    reloads_as: ClassVar[str] = "Geneformer"
    """The registered family whose ``model_path`` reads what `save_pretrained` writes."""

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        genes: Sequence[str] | None = None,
        medians: Sequence[float] | None = None,
        hidden_size: int = 32,
        num_layers: int = 2,
        num_heads: int = 4,
        max_length: int = 64,
        seed: int = 0,
        **finetuning: Any,
    ) -> None:
        super().__init__(use_lm_head, default_config, **finetuning)
        from transformers import BertConfig, BertModel

        names = list(genes if genes is not None else self.default_config.get("genes") or [])
        if not names:
            raise ValueError("GeneformerTiny needs its genes: set genes to a list of gene ids.")
        tokens = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
        tokens.update({g: len(SPECIAL_TOKENS) + i for i, g in enumerate(names)})
        factors = list(medians) if medians is not None else [1.0] * len(names)
        tokenizer = RankValueTokenizer(tokens, dict(zip(names, factors, strict=True)), max_length)
        config = BertConfig(
            vocab_size=len(tokens),
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            intermediate_size=2 * hidden_size,
            max_position_embeddings=max_length,
            pad_token_id=tokens["<pad>"],
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = BertModel(config, add_pooling_layer=False)
        self.cell_tokenizer = tokenizer
        self.attach_model(model)

    @classmethod
    def declared_gene_vocabulary(cls, options: Mapping[str, Any]) -> GeneVocabulary | None:
        """Return the ``genes`` option's vocabulary; None when the task supplies the genes."""
        genes = options.get("genes")
        return None if genes is None else GeneVocabulary.from_names(list(genes))
