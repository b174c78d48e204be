"""oneDNN linears (electra_hf/onednn_linear.py): nn.Linear's values and gradients in fp32 on an x86 CPU."""

import copy

import pytest
import torch
from torch import nn

from electra_hf import DataCollatorForElectra, ElectraPretrainingModel
from electra_hf.onednn_linear import AVAILABLE, OneDNNLinear, use_onednn_linear

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="torch without oneDNN, or not an x86 CPU")


def _pair(in_features, out_features, bias):
    torch.manual_seed(0)
    plain = nn.Linear(in_features, out_features, bias=bias)
    fast = copy.deepcopy(plain)
    assert use_onednn_linear(fast) == 1 and type(fast) is OneDNNLinear
    return plain, fast


@pytest.mark.parametrize("shape,bias,input_grad", [((300, 96), True, True), ((4, 33, 96), True, True),
                                                   ((4, 33, 96), False, True), ((300, 96), True, False)])
def test_values_and_gradients_are_nn_linears(shape, bias, input_grad):
    plain, fast = _pair(96, 200, bias)
    x = torch.randn(shape)
    inputs = [x.clone().requires_grad_(input_grad) for _ in range(2)]
    out_plain, out_fast = plain(inputs[0]), fast(inputs[1])
    assert type(out_fast.grad_fn).__name__ == "_OneDNNLinearFunctionBackward"  # the oneDNN path, not a fallback
    torch.testing.assert_close(out_fast, out_plain)
    upstream = torch.randn_like(out_plain)
    out_plain.backward(upstream)
    out_fast.backward(upstream)
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad)
    if bias:
        torch.testing.assert_close(fast.bias.grad, plain.bias.grad)
    if input_grad:
        torch.testing.assert_close(inputs[1].grad, inputs[0].grad)


def test_a_strided_input():
    plain, fast = _pair(96, 64, True)
    x = torch.randn(96, 50).t()  # a transposed view, as attention's reshapes can give
    torch.testing.assert_close(fast(x), plain(x))


def test_bf16_and_autocast_are_torchs_own():
    plain, fast = _pair(32, 16, True)
    x = torch.randn(8, 32, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fast(x)
    assert out.dtype == torch.bfloat16 and "OneDNN" not in type(out.grad_fn).__name__
    fast_bf16 = fast.to(torch.bfloat16)
    out = fast_bf16(x.detach().bfloat16().requires_grad_())
    assert "OneDNN" not in type(out.grad_fn).__name__
    torch.testing.assert_close(out, plain.to(torch.bfloat16)(x.detach().bfloat16()))


def test_a_pretraining_step_keeps_its_losses_gradients_and_ties(tokenizer, tiny_config):
    torch.manual_seed(0)
    plain = ElectraPretrainingModel(tiny_config)
    fast = copy.deepcopy(plain)
    linears = sum(type(m) is nn.Linear for m in plain.modules())
    assert use_onednn_linear(fast) == linears > 0
    assert fast.state_dict().keys() == plain.state_dict().keys()
    assert fast.generator.electra.embeddings is fast.discriminator.electra.embeddings
    assert fast.generator.generator_lm_head.weight is fast.generator.electra.embeddings.word_embeddings.weight
    collator = DataCollatorForElectra.from_config(tokenizer, tiny_config)
    torch.manual_seed(3)
    batch = collator([tokenizer("It is a truth universally acknowledged that a single man " * 3)] * 4)
    outputs = []
    for model in (plain, fast):
        torch.manual_seed(1)  # the same dropout masks and samples
        out = model(**batch)
        out.loss.backward()
        outputs.append(out)
    for name in ("loss", "generator_loss", "discriminator_loss"):
        torch.testing.assert_close(getattr(outputs[1], name), getattr(outputs[0], name), rtol=1e-5, atol=1e-5)
    for (name, p_plain), p_fast in zip(plain.named_parameters(), fast.parameters(), strict=True):
        torch.testing.assert_close(p_fast.grad, p_plain.grad, rtol=1e-4, atol=1e-6, msg=name)
