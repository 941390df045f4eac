"""Write the AIDO.Cell reference fixtures: a tiny random model and its outputs.

Run with the ModelGenerator reference environment (it imports ModelGenerator's
``cellfoundation`` model and its transformers 4 stack, which mg does not use)::

    /work/mgref-venv/bin/python tools/make_aido_cell_fixtures.py \
        packages/mg-backbones/tests/fixtures/aido_cell

It writes, into the folder:

- ``config.json`` and ``model.safetensors``: a tiny ``CellFoundationModel`` with seeded
  random weights (every parameter drawn from N(0, 0.2), so norms and biases matter);
- ``genes.txt``: the tiny model's gene list;
- ``expected.safetensors``: raw ``counts`` for a few cells; ``prepared``: the input the
  reference backbone (``GenBioCellFoundation.forward``) hands its encoder for those
  counts (it rounds them to bfloat16); ``hidden``: the float32 encoder's last hidden
  state on ``prepared`` with the two read-depth positions dropped; ``hidden_states``:
  every layer's (stacked);
- ``NOTE.md``: how the fixtures were made.

Attention layout. ModelGenerator's attention asserts flash attention; without the
flash-attn package it calls ``torch.nn.functional.scaled_dot_product_attention`` on
``(cells * length, heads, head_dim)`` tensors, which attends across the heads of each
token and never across genes. For these fixtures that call is replaced, while they are
made, by one that reshapes to ``(cells, heads, length, head_dim)`` first: attention over
positions, as ``flash_attn_varlen_func`` computes it on a GPU. The script checks that a
gene's output then depends on the other genes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

GENES = [f"GENE{i}" for i in range(24)]
CONFIG = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 48,
    "max_position_embeddings": len(GENES),
    "bin_num": 12,
    "bin_alpha": 1.0,
    "layer_norm_eps": 1e-5,
    "add_linear_bias": True,
    "normalization_type": "RMSNorm",
    "position_embedding_type": "absolute",
    "hidden_act": "swiglu",
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "_use_flash_attention_2": True,
    "model_type": "cellfoundation",
}


def attention_over_positions(length: int):
    """An SDPA stand-in that reads ModelGenerator's flat layout as (cells, length, heads)."""
    plain = torch.nn.functional.scaled_dot_product_attention

    def attend(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, **kw):
        flat, heads, size = q.shape

        def unflatten(t):
            return t.reshape(flat // length, length, heads, size).transpose(1, 2)

        out = plain(unflatten(q), unflatten(k), unflatten(v), dropout_p=dropout_p)
        return out.transpose(1, 2).reshape(flat, heads, size)

    return attend


def reference_prepared(counts: torch.Tensor) -> torch.Tensor:
    """Capture what ModelGenerator's backbone forward hands its encoder for ``counts``."""
    from modelgenerator.backbones.backbones import GenBioCellFoundation

    captured: list[torch.Tensor] = []

    class Recorder(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None, output_hidden_states=True):
            captured.append(input_ids.detach().clone())
            hidden = torch.zeros(*input_ids.shape, 1)
            return type("Out", (), {"last_hidden_state": hidden, "hidden_states": (hidden,)})

    backbone = GenBioCellFoundation.__new__(GenBioCellFoundation)
    torch.nn.Module.__init__(backbone)
    backbone.encoder = Recorder()
    GenBioCellFoundation.forward(backbone, counts)
    return captured[0]


def main(folder: Path) -> None:
    """Build the tiny model, run it and write the fixtures."""
    from modelgenerator.huggingface_models.cellfoundation import (
        CellFoundationConfig,
        CellFoundationModel,
    )

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = CellFoundationModel(CellFoundationConfig(**CONFIG)).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.2)
    counts = torch.poisson(torch.full((3, len(GENES)), 4.0))
    counts[0, :6] = torch.tensor([0.0, 50.0, 3.0, 0.0, 800.0, 1.0])
    counts[2] = 0.0
    counts[2, 5] = 2.0  # a shallow cell: the read-depth floor applies
    prepared = reference_prepared(counts).float()
    length = prepared.shape[1]
    changed = prepared.clone()
    changed[:, 3] += 2.0

    def gene_0_moves() -> float:
        with torch.no_grad():
            before = model(input_ids=prepared).last_hidden_state[:, 0]
            after = model(input_ids=changed).last_hidden_state[:, 0]
        return (after - before).abs().max().item()

    unpatched = gene_0_moves()  # the CPU fallback as shipped: across heads, not genes
    torch.nn.functional.scaled_dot_product_attention = attention_over_positions(length)
    moved = gene_0_moves()
    assert moved > 1e-4, "gene 0's output ignores gene 3: attention is not over positions"
    with torch.no_grad():
        out = model(input_ids=prepared, output_hidden_states=True)
    genes = len(GENES)
    save_file(model.state_dict(), str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(CONFIG, indent=2) + "\n", encoding="utf-8")
    (folder / "genes.txt").write_text("\n".join(GENES) + "\n", encoding="utf-8")
    save_file(
        {
            "counts": counts.contiguous(),
            "prepared": prepared.contiguous(),
            "hidden": out.last_hidden_state[:, :genes].contiguous(),
            "hidden_states": torch.stack([h[:, :genes] for h in out.hidden_states]).contiguous(),
        },
        str(folder / "expected.safetensors"),
    )
    (folder / "NOTE.md").write_text(
        "# AIDO.Cell reference fixtures\n\n"
        "Made by `tools/make_aido_cell_fixtures.py` with ModelGenerator "
        f"(transformers {__import__('transformers').__version__}, torch {torch.__version__}) "
        "on a CPU, from a tiny `CellFoundationModel` with seeded random weights.\n\n"
        "**The reference's attention call was patched while generating.** Without the "
        "flash-attn package ModelGenerator's fallback calls `scaled_dot_product_attention` on "
        "a `(cells * length, heads, head_dim)` layout, which attends across heads inside "
        "each gene and never across genes. The call was replaced by one that reshapes to "
        "`(cells, heads, length, head_dim)` (attention over positions, as flash attention "
        "computes it on a GPU); the script checked that gene 0's output moves when gene 3's "
        f"value changes (by {moved:.3g}; with the unpatched fallback it moves by "
        f"{unpatched:.3g}).\n\n"
        "`prepared` is what ModelGenerator's backbone forward hands its encoder for `counts` "
        "(normalised to 1e4, log1p, two read-depth tokens, capped at 20, rounded to "
        "bfloat16); `hidden` is the float32 encoder's output on it.\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
