"""The CUDA paths: fused optimizer, bf16, torch.compile. Skipped where no GPU is present (CI)."""

import pytest
import torch

from electra_hf import DataCollatorForElectra, ElectraPretrainingConfig, ElectraPretrainingModel
from electra_hf.optimization import AdamWeightDecay

from .conftest import synthetic_sentences

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def batch_on_gpu(tokenizer, config, n=16):
    collator = DataCollatorForElectra.from_config(tokenizer, config)
    batch = collator([tokenizer(s) for s in synthetic_sentences(n)])
    return {k: v.cuda() for k, v in batch.items()}


def test_fused_optimizer_matches_foreach_on_cpu():
    torch.manual_seed(0)
    shapes = [(300, 70), (70,), (5, 5, 5)]
    cpu = [torch.nn.Parameter(torch.randn(s)) for s in shapes]
    gpu = [torch.nn.Parameter(p.detach().cuda()) for p in cpu]
    optimizers = [AdamWeightDecay([{"params": ps[:1], "weight_decay": 0.01}, {"params": ps[1:], "weight_decay": 0.0}],
                                  lr=1e-2, **kw) for ps, kw in ((cpu, {"foreach": True}), (gpu, {"fused": True}))]
    for _ in range(5):
        grads = [torch.randn(s) for s in shapes]
        for ps, opt in zip((cpu, gpu), optimizers):
            for p, g in zip(ps, grads):
                p.grad = g.to(p.device)
            opt.step()
    for a, b in zip(cpu, gpu):
        torch.testing.assert_close(a.detach(), b.detach().cpu(), rtol=1e-4, atol=1e-5)


def test_bf16_autocast_matches_fp32(tokenizer):
    config = ElectraPretrainingConfig.from_preset("small")
    model = ElectraPretrainingModel(config).cuda().eval()
    batch = batch_on_gpu(tokenizer, config)
    with torch.no_grad():
        reference = model(**batch)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            low = model(**batch)
    assert torch.isfinite(low.loss)
    assert low.generator_loss.item() == pytest.approx(reference.generator_loss.item(), rel=2e-2)
    assert low.sampled_ids.max() < config.discriminator_config.vocab_size


def test_training_steps_in_bf16_lower_the_loss(tokenizer):
    config = ElectraPretrainingConfig.from_preset("small")
    model = ElectraPretrainingModel(config).cuda()
    optimizer = AdamWeightDecay(model.parameters(), lr=1e-3, fused=True)
    batch = batch_on_gpu(tokenizer, config, 64)
    losses = []
    for _ in range(30):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert sum(losses[-5:]) < 0.7 * sum(losses[:5])


def test_compiled_model_matches_eager(tokenizer):
    config = ElectraPretrainingConfig.from_preset("tiny")
    model = ElectraPretrainingModel(config).cuda().eval()
    batch = batch_on_gpu(tokenizer, config)
    compiled = torch.compile(model)
    with torch.no_grad():
        eager, fast = model(**batch), compiled(**batch)
    assert fast.generator_loss.item() == pytest.approx(eager.generator_loss.item(), rel=1e-4)
    model.train()
    compiled(**batch).loss.backward()
    assert model.embeddings.word_embeddings.weight.grad is not None
