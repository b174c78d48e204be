"""Dropout that is cheap on a CPU, for the pre-training step (`--packed_dropout`, on by default).

Why by hand: torch's CPU dropout draws one 64-bit random number per element, serially (its parallel MKL path is
taken on Intel CPUs only), which made dropout an eighth to a fifth of a CPU pre-training step. Here one 64-bit draw from
the same generator decides four elements, 16 bits each, so the drop probability is rounded to a multiple of
1/65536 (0.1 -> 0.1000061) and kept values are scaled by the exact inverse of the keep probability. Off the CPU
(CUDA draws its masks in a fused kernel), under torch.compile and outside training this is torch's own dropout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AttentionInterface, PreTrainedConfig
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

LEVELS = 1 << 16  # one decision per 16-bit lane of a 64-bit draw
PACKED_DROPOUT_ATTENTION = "sdpa_packed_dropout"


def packed_drop_probability(p: float) -> float:
    """The drop probability `packed_dropout` applies for `p`: rounded to a multiple of 1/65536."""
    return round(p * LEVELS) / LEVELS


def packed_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """`F.dropout(x, p, training)` with four decisions per 64-bit random draw on a CPU."""
    if not training or not 0.0 < p < 1.0 or x.device.type != "cpu" or torch.compiler.is_compiling():
        return F.dropout(x, p, training)  # compiled, the compiler's own random numbers are the cheap ones
    drops = round(p * LEVELS)
    n = x.numel()
    draws = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(2**63), None)  # full 64-bit range
    lanes = draws.view(torch.int16)[:n].view(x.shape)  # uniform over [-32768, 32767]
    keep = lanes >= drops - LEVELS // 2
    return x.mul(keep).mul_(LEVELS / (LEVELS - drops))


class PackedDropout(nn.Dropout):
    """`nn.Dropout` through `packed_dropout` (same `p`, no parameters, so checkpoints do not change)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return packed_dropout(x, self.p, self.training)


def sdpa_with_packed_dropout(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                             attention_mask: torch.Tensor | None, dropout: float = 0.0,
                             scaling: float | None = None, **kwargs) -> tuple[torch.Tensor, None]:
    """transformers' SDPA attention, except on a CPU with attention dropout: there SDPA falls back to its math
    path with torch's dropout, so this computes the same math with `packed_dropout` (a causal call without a mask
    is left to SDPA)."""
    causal = kwargs.get("is_causal", getattr(module, "is_causal", False)) and attention_mask is None
    if dropout == 0.0 or query.device.type != "cpu" or torch.compiler.is_compiling() or causal:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    scale = query.shape[-1] ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(-1, -2)).mul_(scale)
    if attention_mask is not None:  # sdpa_mask: True where a query may attend
        if attention_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + attention_mask
    probs = packed_dropout(scores.softmax(-1), dropout)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), None


AttentionInterface.register(PACKED_DROPOUT_ATTENTION, sdpa_with_packed_dropout)
AttentionMaskInterface.register(PACKED_DROPOUT_ATTENTION, sdpa_mask)


def use_packed_dropout(model: nn.Module) -> None:
    """Route `model`'s dropout through `packed_dropout`, in place: every `nn.Dropout` module, and the attention
    dropout of every network using SDPA attention."""
    for module in model.modules():
        for name, child in module.named_children():
            if type(child) is nn.Dropout and child.p > 0:
                setattr(module, name, PackedDropout(child.p, child.inplace).train(child.training))
        config = getattr(module, "config", None)
        if isinstance(config, PreTrainedConfig) and config._attn_implementation == "sdpa":
            config._attn_implementation = PACKED_DROPOUT_ATTENTION
