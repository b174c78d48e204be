"""Optimizer, schedule and layer-wise learning rates against the original (model/optimization.py)."""

import numpy as np
import pytest
import torch
from transformers import ElectraConfig, ElectraForSequenceClassification, get_linear_schedule_with_warmup

from electra_hf import ElectraPretrainingModel
from electra_hf.optimization import (
    AdamWeightDecay,
    electra_lr_lambda,
    electra_parameter_groups,
    get_electra_schedule,
    layerwise_lr_multiplier,
)

IMPLEMENTATIONS = [dict(foreach=False), dict(foreach=True), dict(fused=True), dict()]


def reference_adam_weight_decay(params, grads_per_step, lrs, weight_decays, b1=0.9, b2=0.999, eps=1e-6,
                                 clip=None):
    """A NumPy transcription of AdamWeightDecayOptimizer (optimization.py:70-178) plus global-norm clipping."""
    params = [p.astype(np.float64).copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for grads, lr in zip(grads_per_step, lrs):
        grads = [g.astype(np.float64) for g in grads]
        if clip is not None:
            norm = np.sqrt(sum((g ** 2).sum() for g in grads))
            grads = [g * clip / max(norm, clip) for g in grads]
        for i, (g, wd) in enumerate(zip(grads, weight_decays)):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g ** 2
            update = m[i] / (np.sqrt(v[i]) + eps) + wd * params[i]
            params[i] = params[i] - lr * update
    return params


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_one_step_matches_the_formula(impl):
    p0 = torch.tensor([0.5, -1.0, 2.0, 0.0])
    g = torch.tensor([0.2, -3.0, 1e-7, 0.5])
    param = torch.nn.Parameter(p0.clone())
    param.grad = g.clone()
    AdamWeightDecay([param], lr=0.1, weight_decay=0.01, **impl).step()
    # by hand: m = 0.1 g, v = 0.001 g^2, p -= lr * (m / (sqrt(v) + 1e-6) + wd * p)
    m, v = 0.1 * g.double(), 0.001 * g.double() ** 2
    expected = p0.double() - 0.1 * (m / (v.sqrt() + 1e-6) + 0.01 * p0.double())
    assert torch.allclose(param.double(), expected, rtol=1e-6, atol=1e-7)
    # no bias correction: the first update of a large gradient is lr * 0.1 / sqrt(0.001) = 0.31623 lr, not lr
    assert (p0[1] - param[1]).item() - 0.1 * 0.01 * p0[1].item() == pytest.approx(-0.1 * 3.16227, rel=1e-4)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_several_steps_with_clipping_and_schedule_match_numpy(impl):
    rng = np.random.default_rng(0)
    shapes = [(4, 3), (3,), (5,)]
    p0 = [rng.normal(size=s).astype(np.float32) for s in shapes]
    grads = [[rng.normal(scale=2.0, size=s).astype(np.float32) for s in shapes] for _ in range(6)]
    params = [torch.nn.Parameter(torch.from_numpy(p.copy())) for p in p0]
    named = [("layer.dense.weight", params[0]), ("layer.dense.bias", params[1]), ("LayerNorm.weight", params[2])]
    optimizer = AdamWeightDecay(electra_parameter_groups(named, 1e-2, 0.01), **impl)
    schedule = get_electra_schedule(optimizer, num_warmup_steps=3, num_training_steps=10)
    lrs = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = torch.from_numpy(g.copy())
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert lrs == pytest.approx([1e-2 * min(1, t / 3) * (1 - t / 10) for t in range(6)])
    expected = reference_adam_weight_decay(p0, grads, lrs, [0.01, 0.0, 0.0], clip=1.0)
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p.detach().numpy(), e, rtol=1e-5, atol=1e-6)


def test_bias_correction_option_is_plain_adamw():
    torch.manual_seed(0)
    a, b = torch.nn.Parameter(torch.randn(10)), torch.nn.Parameter(torch.randn(10))
    b.data.copy_(a.data)
    ours = AdamWeightDecay([a], lr=1e-3, weight_decay=0.01, bias_correction=True)
    assert ours.defaults["fused"]  # the default for CPU float parameters
    torch_adamw = torch.optim.AdamW([b], lr=1e-3, weight_decay=0.01, eps=1e-6, fused=True)
    for _ in range(3):
        grad = torch.randn(10)
        a.grad, b.grad = grad.clone(), grad.clone()
        ours.step()
        torch_adamw.step()
    assert torch.equal(a, b)


def test_schedule_values_by_hand():
    lam = lambda t: electra_lr_lambda(t, num_warmup_steps=10000, num_training_steps=1_000_000)  # noqa: E731
    # warm-up multiplies the decay (optimization.py:36-45): at W the rate is (1 - W/T), not the peak
    assert lam(0) == 0.0
    assert lam(5000) == pytest.approx(0.5 * 0.995)
    assert lam(10000) == pytest.approx(0.99)
    assert lam(500_000) == pytest.approx(0.5)
    assert lam(1_000_000) == 0.0 and lam(1_200_000) == 0.0
    assert electra_lr_lambda(50, 0, 100, power=0.5) == pytest.approx(0.5 ** 0.5)
    assert electra_lr_lambda(25, 10.0, 100) == pytest.approx(0.75)
    # transformers' linear schedule is at the peak after warm-up: a different schedule
    param = torch.nn.Parameter(torch.zeros(1))
    hf = get_linear_schedule_with_warmup(torch.optim.SGD([param], lr=1.0), 10000, 1_000_000)
    for _ in range(10000):
        hf.optimizer.step()
        hf.step()
    assert hf.get_last_lr()[0] == pytest.approx(1.0)


@pytest.mark.parametrize("layers, decay, rule, expected", [
    # optimization.py:181-193, the original rule: embeddings d^(n+2), layer_0 d^(n+1), top layer d^2, head 1
    (12, 0.8, "original", {"emb": 0.8 ** 14, "proj": 0.8 ** 14, 0: 0.8 ** 13, 5: 0.8 ** 8, 11: 0.64, "head": 1.0}),
    (24, 0.9, "original", {"emb": 0.9 ** 26, "proj": 0.9 ** 26, 0: 0.9 ** 25, 23: 0.81, "head": 1.0}),
    # the paper's intent: top layer d, embeddings d^(n+1)
    (12, 0.8, "paper", {"emb": 0.8 ** 13, "proj": 0.8 ** 13, 0: 0.8 ** 12, 11: 0.8, "head": 1.0}),
])
def test_layerwise_multipliers_match_the_table(layers, decay, rule, expected):
    names = {"emb": "electra.embeddings.word_embeddings.weight", "proj": "electra.embeddings_project.weight",
             "head": "classifier.weight"}
    for key, value in expected.items():
        name = names.get(key, f"electra.encoder.layer.{key}.attention.self.query.weight")
        assert layerwise_lr_multiplier(name, layers, decay, rule) == pytest.approx(value)
    assert 0.8 ** 14 == pytest.approx(0.04398, abs=1e-5) and 0.9 ** 26 == pytest.approx(0.06461, abs=1e-5)


def test_parameter_groups_of_a_classifier():
    model = ElectraForSequenceClassification(ElectraConfig(num_hidden_layers=2, hidden_size=64,
                                                           num_attention_heads=1, intermediate_size=128))
    groups = electra_parameter_groups(model.named_parameters(), 1e-4, 0.01, layerwise_lr_decay=0.8, num_layers=2)
    by_param = {id(p): g for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert by_param[id(named["electra.embeddings.word_embeddings.weight"])]["lr"] == pytest.approx(1e-4 * 0.8 ** 4)
    assert by_param[id(named["electra.encoder.layer.1.output.dense.weight"])]["lr"] == pytest.approx(1e-4 * 0.8 ** 2)
    assert by_param[id(named["classifier.out_proj.weight"])]["lr"] == pytest.approx(1e-4)
    assert sum(len(g["params"]) for g in groups) == len(named)


def test_weight_decay_exclusions_on_the_pretraining_model(tiny_config):
    model = ElectraPretrainingModel(tiny_config)
    groups = electra_parameter_groups(model.named_parameters(), 5e-4, 0.01)
    decay_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    decayed = {n for n, p in named.items() if decay_of[id(p)] > 0}
    # embeddings and kernels decayed; every LayerNorm and bias (the generator's output bias too) not
    assert "generator.electra.embeddings.word_embeddings.weight" in decayed
    assert "generator.electra.embeddings.position_embeddings.weight" in decayed
    assert "generator.electra.encoder.layer.0.attention.self.query.weight" in decayed
    assert "generator.generator_lm_head.bias" in named and "generator.generator_lm_head.bias" not in decayed
    assert all(("LayerNorm" in n or n.endswith("bias")) for n in set(named) - decayed)
    # shared parameters appear once
    assert len(decay_of) == len({id(p) for p in model.parameters()})


@pytest.mark.parametrize("next_step", [False, True])
def test_the_rate_each_update_uses_in_both_alignments(next_step, tmp_path):
    """Update k (0-based) gets lr(k) by default and lr(k + 1) with lr_of_next_step, as the original's graph
    (model/optimization.py:35-45, 65-66): its first update already moves, its last one does not."""
    from electra_hf import ElectraTrainer, ElectraTrainingArguments

    model = torch.nn.Linear(2, 1)
    args = ElectraTrainingArguments(output_dir=str(tmp_path), learning_rate=1.0, warmup_steps=4, max_steps=10,
                                    lr_of_next_step=next_step, report_to="none", use_cpu=True)
    trainer = ElectraTrainer(model=model, args=args)
    trainer.create_optimizer_and_scheduler(num_training_steps=10)
    rates = []
    for _ in range(10):
        rates.append(trainer.optimizer.param_groups[0]["lr"])
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
    shift = 1 if next_step else 0
    assert rates == pytest.approx([min(1, (k + shift) / 4) * (1 - (k + shift) / 10) for k in range(10)])
    assert (rates[0] > 0, rates[-1] == 0) == (next_step, next_step)
