"""The original optimizer, schedule and layer-wise learning rates (model/optimization.py)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import torch
from torch.optim.lr_scheduler import LambdaLR

# Parameters whose name matches are not decayed (optimization.py:56, 163-171): every LayerNorm and bias,
# the generator's output bias included. Embedding tables are decayed.
NO_DECAY_PATTERN = re.compile(r"LayerNorm|layer_norm|bias")

# A step count at which Adam's bias corrections 1 - beta**step are exactly 1.0 in floating point.
_NO_BIAS_CORRECTION_STEP = 1e9


class AdamWeightDecay(torch.optim.AdamW):
    """The original `AdamWeightDecayOptimizer` (optimization.py:70-178): Adam without bias correction, epsilon outside
    the square root, decoupled weight decay scaled by the learning rate.

        m = b1*m + (1-b1)*g ;  v = b2*v + (1-b2)*g^2 ;  p -= lr * (m / (sqrt(v) + eps) + wd*p)

    torch's AdamW computes the same update once its bias corrections are 1, so this class starts every
    parameter's step counter where they are (1 - 0.9**1e9 == 1.0) and reuses torch's foreach and fused
    kernels. `bias_correction=True` gives plain AdamW. With neither `foreach` nor `fused` given, the fused
    kernel is used for plain CPU/CUDA float parameters (on CPU it is 5x faster than torch's default loop).
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.0, bias_correction: bool = False, foreach: bool | None = None,
                 fused: bool | None = None):
        params = list(params)
        if fused is None and foreach is None:
            tensors = [p for group in params for p in (group["params"] if isinstance(group, dict) else [group])]
            fused = all(type(p) in (torch.Tensor, torch.nn.Parameter) and p.device.type in ("cpu", "cuda")
                        and p.is_floating_point() for p in tensors) or None
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                         fused=fused)
        self.bias_correction = bias_correction

    @torch.no_grad()
    def step(self, closure=None):
        if not self.bias_correction:
            for group in self.param_groups:
                on_device = group["fused"] or group["capturable"]
                for p in group["params"]:
                    if p.grad is not None and not self.state[p]:
                        self.state[p] = {
                            "step": torch.tensor(_NO_BIAS_CORRECTION_STEP, dtype=torch.float32,
                                                 device=p.device if on_device else "cpu"),
                            "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                        }
        return super().step(closure)


def electra_lr_lambda(step: int, num_warmup_steps: float, num_training_steps: int, power: float = 1.0) -> float:
    """`min(1, t/W) * (1 - min(t, T)/T) ** power` (optimization.py:36-45): warm-up multiplies the decay, it does not
    replace it, so the peak is below the base rate and the rate at step W is `(1 - W/T) ** power`."""
    decay = (1.0 - min(step, num_training_steps) / num_training_steps) ** power
    warmup = min(1.0, step / num_warmup_steps) if num_warmup_steps > 0 else 1.0
    return decay * warmup


def electra_lr_lambda_of_next_step(step: int, **schedule) -> float:
    """The rate of step k + 1 for update k: what the original's graph applies on a CPU or GPU, where its
    `global_step` increment (model/optimization.py:65-66, grouped with the update without a control dependency)
    runs before the rate (lines 35-45) is read. The first update already moves by lr(1); the last by lr(T) = 0."""
    return electra_lr_lambda(step + 1, **schedule)


def get_electra_schedule(optimizer: torch.optim.Optimizer, num_warmup_steps: float, num_training_steps: int,
                         power: float = 1.0, next_step: bool = False) -> LambdaLR:
    """The original learning-rate schedule as a LambdaLR: update k uses the rate of step k (transformers'
    alignment), or of step k + 1 with `next_step` (the original's graph; see electra_lr_lambda_of_next_step)."""
    if num_training_steps <= 0:
        raise ValueError(f"num_training_steps={num_training_steps} must be positive.")
    rate = electra_lr_lambda_of_next_step if next_step else electra_lr_lambda
    return LambdaLR(optimizer, functools.partial(rate, num_warmup_steps=num_warmup_steps,
                                                 num_training_steps=num_training_steps, power=power))


def layer_depth(name: str, num_layers: int) -> int:
    """The original's depth of a parameter (optimization.py:181-193): embeddings and `embeddings_project` 0,
    encoder layer i at i+1, anything else (a task head) n+2."""
    if re.search(r"(^|\.)embeddings(_project)?\.", name):
        return 0
    match = re.search(r"(^|\.)encoder\.layer\.(\d+)\.", name)
    if match:
        return int(match.group(2)) + 1
    return num_layers + 2


def layerwise_lr_multiplier(name: str, num_layers: int, decay: float, depth_rule: str = "original") -> float:
    """Learning-rate multiplier of a parameter under layer-wise decay (optimization.py:181-193).

    `"original"`: `decay ** (n + 2 - depth)`; depth n+1 (the removed pooler) is never used, so the top
    encoder layer gets decay**2 and the head 1.0. `"paper"`: the intended rule, top layer decay**1,
    embeddings decay**(n+1).
    """
    depth = layer_depth(name, num_layers)
    if depth_rule == "original":
        return decay ** (num_layers + 2 - depth)
    if depth_rule == "paper":
        return 1.0 if depth == num_layers + 2 else decay ** (num_layers + 1 - depth)
    raise ValueError(f"depth_rule={depth_rule!r}: use 'original' or 'paper'.")


def electra_parameter_groups(named_parameters: Iterable[tuple[str, torch.nn.Parameter]], learning_rate: float,
                             weight_decay: float, layerwise_lr_decay: float = 0.0, num_layers: int | None = None,
                             depth_rule: str = "original") -> list[dict]:
    """Optimizer parameter groups: weight decay except LayerNorm and biases; with `layerwise_lr_decay > 0`,
    one learning rate per depth."""
    if layerwise_lr_decay > 0 and num_layers is None:
        raise ValueError("layer-wise learning-rate decay needs the number of transformer layers.")
    groups: dict[tuple[float, float], list] = {}
    for name, param in named_parameters:
        if not param.requires_grad:
            continue
        decay = 0.0 if NO_DECAY_PATTERN.search(name) else weight_decay
        multiplier = (layerwise_lr_multiplier(name, num_layers, layerwise_lr_decay, depth_rule)
                      if layerwise_lr_decay > 0 else 1.0)
        groups.setdefault((multiplier, decay), []).append(param)
    return [{"params": params, "lr": learning_rate * multiplier, "weight_decay": decay, "lr_multiplier": multiplier}
            for (multiplier, decay), params in sorted(groups.items(), key=lambda item: item[0])]
