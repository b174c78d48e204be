"""fp32 linear layers through oneDNN on an x86 CPU (`--onednn_linear`, on by default).

Why by hand: torch sends fp32 matrix products on a CPU to MKL's sgemm and uses oneDNN only for bf16/fp16 (or
reduced-precision fp32); on the AVX-512 AMD CPU of benchmarks/RESULTS.md, oneDNN's fp32 kernel computes a linear
layer's forward and its input gradient faster than MKL, and MKL its weight gradient. So the forward and the input
gradient go through `torch.ops.mkldnn._linear_pointwise` (oneDNN's fp32 inner product, what inductor calls for
CPU linears) and the weight gradient stays torch's `mm`. Same math in fp32, summed in another order. Off the CPU,
under autocast, for other dtypes, under torch.compile and where torch has no oneDNN, it is `F.linear`.
"""

from __future__ import annotations

import platform

import torch
import torch.nn.functional as F
from torch import nn

AVAILABLE = torch.backends.mkldnn.is_available() and platform.machine().lower() in ("x86_64", "amd64")


def _inner_product(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """`x @ weight.T + bias` by oneDNN (x of any rank, weight [out, in], strided views allowed)."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


class _OneDNNLinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _inner_product(x, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        rows = grad.reshape(-1, grad.shape[-1])
        grad_x = _inner_product(grad, weight.t(), None) if ctx.needs_input_grad[0] else None
        grad_weight = rows.t() @ x.reshape(-1, x.shape[-1]) if ctx.needs_input_grad[1] else None
        grad_bias = rows.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_weight, grad_bias


def onednn_applies(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (AVAILABLE and x.device.type == "cpu" and x.dtype == weight.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu") and not torch.compiler.is_compiling())


class OneDNNLinear(nn.Linear):
    """`nn.Linear` whose fp32 CPU products go through oneDNN (same parameters, same state dict)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not onednn_applies(x, self.weight):
            return F.linear(x, self.weight, self.bias)
        return _OneDNNLinearFunction.apply(x, self.weight, self.bias)


def use_onednn_linear(model: nn.Module) -> int:
    """Make every plain `nn.Linear` of `model` a `OneDNNLinear`, in place (its class changes, its parameters and
    their ties stay); returns how many. No-op where torch has no oneDNN or the CPU is not x86."""
    if not AVAILABLE:
        return 0
    linears = [module for module in model.modules() if type(module) is nn.Linear]
    for module in linears:
        module.__class__ = OneDNNLinear  # a new module would break the ties of shared weights
    return len(linears)
