"""Packed dropout (electra_hf/dropout.py): torch's dropout semantics with four decisions per 64-bit draw on a CPU."""

import pytest
import torch
from torch import nn
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from electra_hf import DataCollatorForElectra, ElectraPretrainingConfig, ElectraPretrainingModel
from electra_hf.dropout import (PACKED_DROPOUT_ATTENTION, PackedDropout, packed_drop_probability, packed_dropout,
                                sdpa_with_packed_dropout, use_packed_dropout)


def test_drop_rate_scale_and_independence():
    p = 0.1
    x = torch.ones(1 << 22)
    y = packed_dropout(x, p)
    dropped = y == 0
    p_applied = packed_drop_probability(p)
    assert p_applied == 6554 / 65536
    assert abs(dropped.float().mean().item() - p_applied) < 0.001
    assert torch.allclose(y[~dropped], torch.tensor(1 / (1 - p_applied)))  # exact inverse of the keep rate
    assert abs(y.mean().item() - 1.0) < 0.002  # unbiased
    # The four 16-bit lanes of one draw decide independently: neighbours are both dropped at rate p^2.
    pairs = dropped.view(-1, 4)
    for a, b in ((0, 1), (1, 2), (2, 3), (0, 3)):
        assert abs((pairs[:, a] & pairs[:, b]).float().mean().item() - p_applied**2) < 0.0015
    # Consecutive draws are not correlated either (lane 3 of one draw, lane 0 of the next).
    assert abs((pairs[:-1, 3] & pairs[1:, 0]).float().mean().item() - p_applied**2) < 0.0015


@pytest.mark.parametrize("shape", [(7,), (3, 5, 11), (2, 4, 6, 6)])
def test_gradient_is_the_mask_times_the_scale(shape):
    x = torch.randn(shape, requires_grad=True)
    y = packed_dropout(x, 0.3)
    assert y.shape == x.shape
    y.backward(torch.ones_like(y))
    kept = y != 0
    scale = 1 / (1 - packed_drop_probability(0.3))
    torch.testing.assert_close(x.grad, kept.float() * scale)
    torch.testing.assert_close(y, x.detach() * kept * scale)


def test_identity_outside_training_and_reproducible_from_the_seed():
    x = torch.randn(1000)
    assert torch.equal(packed_dropout(x, 0.1, training=False), x)
    assert torch.equal(packed_dropout(x, 0.0), x)
    assert not packed_dropout(x, 1.0).any()
    torch.manual_seed(3)
    first = packed_dropout(x, 0.1)
    torch.manual_seed(3)
    assert torch.equal(packed_dropout(x, 0.1), first)  # the default generator: the Trainer checkpoints its state
    assert not torch.equal(packed_dropout(x, 0.1), first)


def test_attention_computes_what_sdpa_computes():
    module = nn.Module()
    module.is_causal = False
    q, k, v = (torch.randn(2, 3, 9, 8) for _ in range(3))
    visible = torch.ones(2, 1, 9, 9, dtype=torch.bool)
    visible[1, ..., 6:] = False  # the second row's last three keys are padding
    expected, _ = sdpa_attention_forward(module, q, k, v, visible, dropout=0.0, scaling=0.3)
    # A drop probability below 1/131072 rounds to none dropped, so the math path runs without dropping anything.
    got, _ = sdpa_with_packed_dropout(module, q, k, v, visible, dropout=1e-9, scaling=0.3)
    torch.testing.assert_close(got, expected)
    got, _ = sdpa_with_packed_dropout(module, q, k, v, None, dropout=1e-9)
    torch.testing.assert_close(got, sdpa_attention_forward(module, q, k, v, None, dropout=0.0)[0])


@pytest.mark.parametrize("objective", ["electra", "electric"])
def test_pair_uses_it_everywhere_without_changing_weights_or_eval_outputs(tokenizer, sentences, objective):
    config = ElectraPretrainingConfig.from_preset("tiny", objective=objective, max_seq_length=32,
                                                  model_hparam_overrides={"num_hidden_layers": 2})
    batch = DataCollatorForElectra.from_config(tokenizer, config)([tokenizer(s) for s in sentences[:8]])
    model = ElectraPretrainingModel(config).eval()
    keys = set(model.state_dict())
    torch.manual_seed(1)
    before = model(**batch)
    use_packed_dropout(model)
    assert keys == set(model.state_dict())
    assert not [m for m in model.modules() if type(m) is nn.Dropout]
    assert any(isinstance(m, PackedDropout) for m in model.modules())
    for half in model.halves().values():
        assert half.config._attn_implementation == PACKED_DROPOUT_ATTENTION
    torch.manual_seed(1)
    after = model(**batch)
    torch.testing.assert_close(after.loss, before.loss)
    model.train()
    losses = model(**batch)
    assert torch.isfinite(losses.loss)
    losses.loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
