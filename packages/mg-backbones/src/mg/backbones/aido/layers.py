"""Building blocks shared by the AIDO architectures: norms, rotary positions, attention, MLPs.

AIDO.DNA, AIDO.RNA and AIDO.Protein are pre-norm BERT-style encoders (Megatron layout):
a norm before attention and before the MLP of every layer, one more after the last layer,
rotary positions on queries and keys, and gated (SwiGLU) MLPs. Parameter names follow the
published checkpoints, so their weights load as they are.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

AttentionKernel = Literal["auto", "sdpa", "plain"]

# Below this many score entries per head (query length x key length), "auto" uses plain
# attention on CPU. Measured with `benchmarks/aido_speed.py --kernels` (torch 2.15, 2-core
# x86 CPU, one thread): SDPA was 1.26x (rnabert) and 1.50x (fm4bio) faster than plain
# attention at 128 tokens, so the bound sits below any real sequence; raise it where
# that benchmark shows plain attention winning on another CPU or torch.
PLAIN_ON_CPU_BELOW = 16 * 16


def head_width(hidden_size: int, num_heads: int) -> int:
    """Return the channels per attention head.

    Raises:
        ValueError: ``num_heads`` does not divide ``hidden_size``.
    """
    if hidden_size % num_heads:
        raise ValueError(f"num_attention_heads={num_heads} must divide hidden_size={hidden_size}.")
    return hidden_size // num_heads


class AIDORMSNorm(nn.Module):
    """Root-mean-square norm computed in float32, scaled by a learned weight (no bias).

    Args:
        hidden_size (int): features normalised.
        eps (float): added to the mean square.
    """

    def __init__(self, hidden_size: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.eps = eps

    def forward(self, hidden: Tensor) -> Tensor:
        """Normalise the last dimension."""
        dtype = hidden.dtype
        widened = hidden.float()
        scaled = widened * torch.rsqrt(widened.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * scaled.to(dtype)


def make_norm(kind: str, hidden_size: int, eps: float) -> nn.Module:
    """Return the norm a config names (``"RMSNorm"`` or ``"LayerNorm"``).

    Raises:
        ValueError: any other name.
    """
    if kind == "RMSNorm":
        return AIDORMSNorm(hidden_size, eps)
    if kind == "LayerNorm":
        return nn.LayerNorm(hidden_size, eps=eps)
    raise ValueError(f"normalization_type={kind!r}: AIDO models use 'RMSNorm' or 'LayerNorm'.")


def rotary_angles(length: int, rotary_dim: int, device: torch.device) -> Tensor:
    """Return the rotary angles ``(length, rotary_dim)``: each frequency twice, halves layout.

    Args:
        length (int): positions 0 .. length - 1.
        rotary_dim (int): how many features of each head rotate (even).
        device (torch.device): where to build them.
    """
    steps = torch.arange(0, rotary_dim, 2, dtype=torch.float32, device=device) / rotary_dim
    inverse_frequency = 1.0 / (10000.0**steps)
    positions = torch.arange(length, dtype=torch.float32, device=device)
    angles = torch.outer(positions, inverse_frequency)
    return torch.cat((angles, angles), dim=-1)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate the first ``cos.shape[-1]`` features of ``x`` ``(batch, heads, length, dim)``."""
    rotary_dim = cos.shape[-1]
    rotated, passed = x[..., :rotary_dim], x[..., rotary_dim:]
    first, second = rotated.chunk(2, dim=-1)
    turned = torch.cat((-second, first), dim=-1)
    rotated = rotated * cos + turned * sin
    return torch.cat((rotated, passed), dim=-1) if passed.shape[-1] else rotated


def choose_kernel(kernel: AttentionKernel, query: Tensor) -> Literal["sdpa", "plain"]:
    """Pick the attention kernel for this device and size (``"auto"``: see `PLAIN_ON_CPU_BELOW`)."""
    if kernel != "auto":
        return kernel
    if query.device.type == "cpu" and query.shape[-2] ** 2 < PLAIN_ON_CPU_BELOW:
        return "plain"
    return "sdpa"


def attend(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    key_mask: Tensor | None,
    dropout: float,
    kernel: Literal["sdpa", "plain"],
) -> Tensor:
    """Scaled dot-product attention over ``(batch, heads, length, dim)`` tensors.

    Args:
        query (Tensor): queries.
        key (Tensor): keys.
        value (Tensor): values.
        key_mask (Tensor | None): ``(batch, 1, 1, length)`` bool, True for keys to attend
            to; None when every key is real (lets the GPU use its flash kernel).
        dropout (float): dropout on the attention weights.
        kernel (Literal["sdpa", "plain"]): torch's fused kernel or matmul-softmax-matmul.
    """
    if kernel == "sdpa":
        return F.scaled_dot_product_attention(
            query, key, value, attn_mask=key_mask, dropout_p=dropout
        )
    scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(query.shape[-1])
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1)
    if dropout:
        weights = F.dropout(weights, dropout)
    return torch.matmul(weights, value)


class AIDOSelfAttention(nn.Module):
    """Query, key and value projections and multi-head attention with rotary positions.

    Args:
        hidden_size (int): model width.
        num_heads (int): attention heads (must divide ``hidden_size``).
        bias (bool): projections carry a bias.
        dropout (float): dropout on the attention weights while training.
    """

    def __init__(self, hidden_size: int, num_heads: int, bias: bool, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_width(hidden_size, num_heads)
        self.query = nn.Linear(hidden_size, hidden_size, bias=bias)
        self.key = nn.Linear(hidden_size, hidden_size, bias=bias)
        self.value = nn.Linear(hidden_size, hidden_size, bias=bias)
        self.dropout = dropout
        self.kernel: AttentionKernel = "auto"

    def _heads(self, x: Tensor) -> Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self, hidden: Tensor, key_mask: Tensor | None, rotary: tuple[Tensor, Tensor] | None
    ) -> Tensor:
        """Attend; ``rotary`` holds cos and sin ``(length, rotary_dim)`` or None."""
        query = self._heads(self.query(hidden))
        key = self._heads(self.key(hidden))
        value = self._heads(self.value(hidden))
        if rotary is not None:
            cos, sin = rotary
            query = apply_rotary(query, cos, sin)
            key = apply_rotary(key, cos, sin)
        kernel = choose_kernel(self.kernel, query)
        dropout = self.dropout if self.training else 0.0
        context = attend(query, key, value, key_mask, dropout, kernel)
        batch, _, length, _ = context.shape
        return context.transpose(1, 2).reshape(batch, length, -1)


class AIDOSelfOutput(nn.Module):
    """The projection after attention (named ``output.dense`` in the checkpoints)."""

    def __init__(self, hidden_size: int, bias: bool, dropout: float) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, context: Tensor) -> Tensor:
        """Project the attention context."""
        return self.dropout(self.dense(context))


class AIDOAttention(nn.Module):
    """Pre-norm attention block: ``ln``, ``self`` (projections), ``output`` (projection)."""

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        bias: bool,
        dropout: float,
        norm: nn.Module,
        attention_dropout: float,
    ) -> None:
        super().__init__()
        self.ln = norm
        self.self = AIDOSelfAttention(hidden_size, num_heads, bias, attention_dropout)
        self.output = AIDOSelfOutput(hidden_size, bias, dropout)


class SplitSwiGLU(nn.Module):
    """SwiGLU with separate gate, up and down projections (AIDO.DNA and AIDO.RNA)."""

    def __init__(self, hidden_size: int, intermediate_size: int, bias: bool) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=bias)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=bias)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=bias)

    def forward(self, hidden: Tensor) -> Tensor:
        """``down(silu(gate(x)) * up(x))``."""
        return self.down_proj(F.silu(self.gate_proj(hidden)) * self.up_proj(hidden))


def _glu(activation: str, joint: Tensor) -> Tensor:
    # The fused projection holds the value half first, the gate half second.
    value, gate = joint.chunk(2, dim=-1)
    if activation == "swiglu":
        return value * F.silu(gate)
    if activation == "geglu":
        return value * F.gelu(gate)
    raise ValueError(f"hidden_act={activation!r}: AIDO.Protein uses 'swiglu' or 'geglu'.")


class FusedGLU(nn.Module):
    """Gated MLP with one fused input projection (AIDO.Protein's dense layers)."""

    def __init__(
        self, hidden_size: int, intermediate_size: int, bias: bool, activation: str
    ) -> None:
        super().__init__()
        self.activation = activation
        self.dense_h_to_4h = nn.Linear(hidden_size, 2 * intermediate_size, bias=bias)
        self.dense_4h_to_h = nn.Linear(intermediate_size, hidden_size, bias=bias)

    def forward(self, hidden: Tensor) -> Tensor:
        """Project up, gate, project down."""
        return self.dense_4h_to_h(_glu(self.activation, self.dense_h_to_4h(hidden)))


class MixtureOfGLUs(nn.Module):
    """Top-k routed mixture of gated MLPs (AIDO.Protein-16B's layers).

    A float32 router scores the experts per token; each token goes to its ``top_k`` best,
    weighted by a softmax over their scores. Expert ``i`` is ``dense_h_to_4h_i`` and
    ``dense_4h_to_h_i`` as in the checkpoints.
    """

    def __init__(
        self,
        hidden_size: int,
        intermediate_size: int,
        bias: bool,
        activation: str,
        num_experts: int,
        top_k: int,
    ) -> None:
        super().__init__()
        if num_experts < 2 or not 1 <= top_k <= num_experts:
            raise ValueError(
                f"moe needs num_experts >= 2 and 1 <= experts_per_token <= num_experts; got "
                f"{num_experts} and {top_k}."
            )
        self.activation = activation
        self.num_experts = num_experts
        self.top_k = top_k
        self.router = nn.Linear(hidden_size, num_experts, bias=False)
        for index in range(num_experts):
            self.add_module(
                f"dense_h_to_4h_{index}", nn.Linear(hidden_size, 2 * intermediate_size, bias=bias)
            )
            self.add_module(
                f"dense_4h_to_h_{index}", nn.Linear(intermediate_size, hidden_size, bias=bias)
            )

    def forward(self, hidden: Tensor) -> Tensor:
        """Route each token to its experts and sum their weighted outputs."""
        shape, dtype = hidden.shape, hidden.dtype
        tokens = hidden.reshape(-1, shape[-1])
        scores = F.linear(tokens.float(), self.router.weight.float()).to(dtype)
        best, chosen = torch.topk(scores, self.top_k)
        weights = torch.softmax(best, dim=1, dtype=torch.float).to(dtype)
        output = torch.zeros_like(tokens)
        for index in range(self.num_experts):
            rows, slot = torch.where(chosen == index)
            if rows.numel() == 0:
                continue
            up = getattr(self, f"dense_h_to_4h_{index}")
            down = getattr(self, f"dense_4h_to_h_{index}")
            expert = down(_glu(self.activation, up(tokens[rows])))
            output.index_add_(0, rows, weights[rows, slot, None] * expert)
        return output.reshape(shape)
