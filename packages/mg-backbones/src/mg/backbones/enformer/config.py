"""The Enformer configuration: the fields of the published ``config.json``.

The published checkpoints (``EleutherAI/enformer-official-rough``) were written by
enformer-pytorch, whose config is a transformers ``PretrainedConfig``; mg reads the same
file as plain data, so the fields and their defaults are those of that config.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Keys transformers writes into every config.json; they say nothing about the architecture.
_BOOKKEEPING = frozenset(
    {
        "architectures",
        "model_type",
        "transformers_version",
        "dtype",
        "torch_dtype",
        "_name_or_path",
        "auto_map",
        "return_dict",
        "output_hidden_states",
        "output_attentions",
        "torchscript",
        "pruned_heads",
        "tie_word_embeddings",
        "id2label",
        "label2id",
        "problem_type",
    }
)


def _published_heads() -> dict[str, int]:
    return {"human": 5313, "mouse": 1643}


@dataclass
class EnformerConfig:
    """Sizes and options of an Enformer model.

    Attributes:
        dim (int): width of the transformer; the trunk's embeddings are ``2 * dim`` wide.
        depth (int): transformer layers.
        heads (int): attention heads; ``dim // heads`` must be a multiple of 6 (the
            relative-position features come in three kinds, each with a signed copy).
        output_heads (dict[str, int]): tracks per organism head.
        target_length (int): bins kept at the centre of the window; -1 keeps them all.
        attn_dim_key (int): query/key size per head.
        dropout_rate (float): dropout in the transformer and (divided by 8) after the
            final pointwise block.
        attn_dropout (float): dropout on attention weights.
        pos_dropout (float): dropout on the relative-position features.
        use_checkpointing (bool): recompute transformer activations in the backward pass.
        use_convnext (bool): read for compatibility; the reference ignores it too.
        num_downsamples (int): halvings of the sequence; one bin is ``2**num_downsamples``
            residues (128 for the published model).
        dim_divisible_by (int): the conv tower's widths are rounded to multiples of this.
        use_tf_gamma (bool): use TensorFlow's precomputed gamma features, which mg does not
            ship; must be false.
    """

    dim: int = 1536
    depth: int = 11
    heads: int = 8
    output_heads: dict[str, int] = field(default_factory=_published_heads)
    target_length: int = 896
    attn_dim_key: int = 64
    dropout_rate: float = 0.4
    attn_dropout: float = 0.05
    pos_dropout: float = 0.01
    use_checkpointing: bool = False
    use_convnext: bool = False
    num_downsamples: int = 7
    dim_divisible_by: int = 128
    use_tf_gamma: bool = False

    def __post_init__(self) -> None:
        problems = []
        if self.dim < 2 or self.dim % 2:
            problems.append(f"dim ({self.dim}) must be an even number of at least 2")
        if self.heads < 1 or self.dim % self.heads or (self.dim // self.heads) % 6:
            problems.append(
                f"dim // heads ({self.dim} // {self.heads}) must be a whole multiple of 6"
            )
        if self.num_downsamples < 2:
            problems.append(f"num_downsamples ({self.num_downsamples}) must be at least 2")
        if self.target_length < 1 and self.target_length != -1:
            problems.append(f"target_length ({self.target_length}) must be positive or -1")
        if self.use_tf_gamma:
            problems.append(
                "use_tf_gamma is true, but mg computes the gamma position features itself "
                "and does not ship TensorFlow's precomputed ones: set it false"
            )
        if problems:
            raise ValueError("Invalid Enformer config: " + "; ".join(problems) + ".")

    @property
    def bin_size(self) -> int:
        """Residues per output bin: ``2 ** num_downsamples``."""
        return 2**self.num_downsamples

    def tower_widths(self) -> list[int]:
        """Channels entering and leaving each conv-tower stage (``num_downsamples`` values).

        From ``dim // 2`` to ``dim`` on an exponential scale, rounded to multiples of
        ``dim_divisible_by``, starting with ``dim // 2`` again.
        """
        start, stop, stages = self.dim // 2, self.dim, self.num_downsamples - 1
        factor = math.exp(math.log(stop / start) / (stages - 1)) if stages > 1 else 1.0
        step = self.dim_divisible_by
        widths = [int(round(start * factor**i / step) * step) for i in range(stages)]
        return [start, *widths]

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "config") -> EnformerConfig:
        """Build a config from ``config.json``'s values.

        Raises:
            ValueError: the file is not an Enformer config, or names a field Enformer lacks.
        """
        kind = values.get("model_type", "enformer")
        if kind != "enformer":
            raise ValueError(
                f"{where} is a {kind!r} config, not an Enformer one: point model_path at a "
                "folder written for Enformer (config.json with model_type 'enformer')."
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known - _BOOKKEEPING)
        if unknown:
            raise ValueError(
                f"{where} holds {unknown}, which Enformer's config does not have; remove them."
            )
        return cls(**{k: v for k, v in values.items() if k in known})

    @classmethod
    def from_file(cls, path: str | Path) -> EnformerConfig:
        """Read a ``config.json``."""
        return cls.from_dict(json.loads(Path(path).read_text()), where=str(path))

    def to_dict(self) -> dict[str, Any]:
        """Return the values as ``config.json`` holds them (with the model type)."""
        return {"model_type": "enformer", **dataclasses.asdict(self)}
