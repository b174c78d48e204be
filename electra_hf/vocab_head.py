"""The vocabulary projection fused with its cross-entropy, a few rows at a time (`fused_vocab_head`, the default).

Why by hand: torch has no fused linear + log-softmax. Unfused, the generator's head keeps [rows, vocab] logits and
log-probabilities for the backward, and its backward zero-fills and rewrites tensors of that size: on a CPU about
a sixth of an ELECTRA-Small step, and for Electric's cloze head (every position) B·L·V floats, about 1.5 GB at
batch 32 with the 30,522-word vocabulary. Here each chunk of rows gets its logits, its part of the loss and its
gradients at once (softmax minus one-hot), while the chunk is still in cache; only the gradients of the inputs
(the size of the inputs) are kept for the backward. The loss is the same to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

CHUNK_FLOATS = 1 << 21  # logits per chunk (8 MB in fp32): large enough for fast matmuls, small enough for cache


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, row_weights, on_chunk, grad_enabled):
        rows = hidden.shape[0]
        chunk = max(1, CHUNK_FLOATS // weight.shape[0])
        # needs_input_grad stays True under torch.no_grad (evaluation): the caller's grad mode decides
        grads = grad_enabled and any(ctx.needs_input_grad[:3])
        weight_fp32 = weight.float() if grads else None
        grad_hidden = torch.zeros_like(hidden) if grads else None
        grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if grads else None
        grad_bias = torch.zeros(weight.shape[0], dtype=torch.float32, device=weight.device) if grads else None
        loss = torch.zeros((), dtype=torch.float32, device=hidden.device)
        lse = torch.empty(rows, dtype=torch.float32, device=hidden.device)
        for start in range(0, rows, chunk):
            part = slice(start, min(start + chunk, rows))
            h = hidden[part]
            logits = torch.addmm(bias, h, weight.t()).float()
            if on_chunk is not None:
                on_chunk(part, logits)
            lse[part] = logits.logsumexp(-1)
            target = targets[part].unsqueeze(-1)
            w = row_weights[part].float().unsqueeze(-1)
            loss += ((lse[part] - logits.gather(-1, target).squeeze(-1)) * w.squeeze(-1)).sum()
            if grads:  # d loss / d logits = w * (softmax - one_hot(target))
                g = logits.sub_(lse[part].unsqueeze(-1)).exp_().mul_(w).scatter_add_(-1, target, -w)
                grad_hidden[part] = (g @ weight_fp32).to(hidden.dtype)
                grad_weight.addmm_(g.t(), h.float())
                grad_bias += g.sum(0)
        ctx.mark_non_differentiable(lse)
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias)
        ctx.dtypes = (weight.dtype, bias.dtype)
        return loss, lse

    @staticmethod
    def backward(ctx, grad_loss, grad_lse):
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        if grad_hidden is None:
            return None, None, None, None, None, None, None
        return (grad_hidden * grad_loss.to(grad_hidden.dtype), (grad_weight * grad_loss).to(ctx.dtypes[0]),
                (grad_bias * grad_loss).to(ctx.dtypes[1]), None, None, None, None)


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, targets: torch.Tensor,
                         row_weights: torch.Tensor,
                         on_chunk: Callable[[slice, torch.Tensor], None] | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """`Σ_r row_weights[r] · NLL(targets[r])` under `softmax(hidden @ weight.T + bias)`, and each row's
    log-sum-exp (no gradient).

    hidden [rows, E], weight [V, E], bias [V], targets [rows], row_weights [rows]. `on_chunk(rows, logits)` sees
    each chunk's fp32 logits first (no gradient; e.g. to sample from them); chunks are taken in row order, so a
    sampler drawing from torch's CPU generator draws what it would draw from the whole tensor at once.
    """
    return _LinearCrossEntropy.apply(hidden, weight, bias, targets, row_weights, on_chunk, torch.is_grad_enabled())


def token_logits(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                 token_ids: torch.Tensor) -> torch.Tensor:
    """The logit of one given token per row, `hidden[r] · weight[token_ids[r]] + bias[token_ids[r]]`, without
    the [rows, V] logits."""
    return (hidden * weight[token_ids]).sum(-1) + bias[token_ids]
