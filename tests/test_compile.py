"""torch.compile of the whole pre-training step on a CPU (the GPU's fast path; tests/test_cuda.py runs it there):
the same losses as eager, the same masks and samples for the same seed, and gradients through the compiled step."""

import os

import pytest
import torch
from torch._inductor import config as inductor_config

from electra_hf import DataCollatorForElectra, ElectraPretrainingConfig, ElectraPretrainingModel
from electra_hf.dropout import use_packed_dropout
from electra_hf.onednn_linear import use_onednn_linear


@pytest.fixture
def aten_random(monkeypatch):
    monkeypatch.setattr(inductor_config, "fallback_random", True)  # compiled RNG ops draw torch's stream


def test_compiled_step_matches_eager(tokenizer, sentences, aten_random):
    config = ElectraPretrainingConfig.from_preset("tiny", max_seq_length=32, model_hparam_overrides={
        "num_hidden_layers": 1, "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2})
    batch = DataCollatorForElectra.from_config(tokenizer, config, mask=False)([tokenizer(s) for s in sentences[:8]])
    model = ElectraPretrainingModel(config).eval()
    use_packed_dropout(model)
    use_onednn_linear(model)  # both CPU switches step aside under the compiler, as the Trainer applies them
    compiled = torch.compile(model, backend=os.environ.get("ELECTRA_TEST_COMPILE_BACKEND", "aot_eager"), fullgraph=True)
    outputs = []
    for forward in (model, compiled):
        torch.manual_seed(3)  # the model masks the batch and samples from this stream
        with torch.no_grad():
            outputs.append(forward(**batch))
    eager, fast = outputs
    for name in ("loss", "generator_loss", "discriminator_loss"):
        torch.testing.assert_close(getattr(fast, name), getattr(eager, name), rtol=1e-4, atol=1e-4)
    for name in ("masked_lm_ids", "masked_lm_weights", "sampled_ids", "discriminator_labels"):
        assert torch.equal(getattr(fast, name), getattr(eager, name)), name
    model.train()
    compiled(**batch).loss.backward()
    assert model.embeddings.word_embeddings.weight.grad.any()
