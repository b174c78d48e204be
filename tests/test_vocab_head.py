"""The fused vocabulary head (electra_hf/vocab_head.py): the unfused head's loss, gradients and samples."""

import pytest
import torch
import torch.nn.functional as F

from electra_hf import DataCollatorForElectra, ElectraPretrainingConfig, ElectraPretrainingModel
from electra_hf import vocab_head
from electra_hf.modeling import sample_tokens
from electra_hf.vocab_head import linear_cross_entropy, token_logits


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(vocab_head, "CHUNK_FLOATS", 7 * 50)  # 7 rows of a 50-word vocabulary: a ragged last chunk


def test_loss_lse_and_gradients_match_the_unfused_head(small_chunks):
    rows, width, vocab = 31, 12, 50
    hidden = torch.randn(rows, width, requires_grad=True)
    weight = torch.randn(vocab, width, requires_grad=True)
    bias = torch.randn(vocab, requires_grad=True)
    targets = torch.randint(vocab, (rows,))
    row_weights = torch.rand(rows)
    loss, lse = linear_cross_entropy(hidden, weight, bias, targets, row_weights)
    (3.0 * loss).backward()
    fused = [t.grad.clone() for t in (hidden, weight, bias)]
    for t in (hidden, weight, bias):
        t.grad = None
    logits = hidden @ weight.t() + bias
    expected = (F.cross_entropy(logits, targets, reduction="none") * row_weights).sum()
    (3.0 * expected).backward()
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(lse, logits.logsumexp(-1).detach())
    for got, want in zip(fused, (hidden.grad, weight.grad, bias.grad)):
        torch.testing.assert_close(got, want)
    assert not lse.requires_grad


def test_chunks_come_in_row_order_so_cpu_samples_equal_the_whole_tensors(small_chunks):
    rows, vocab = 23, 50
    hidden, weight, bias = torch.randn(rows, 8), torch.randn(vocab, 8), torch.randn(vocab)
    seen, samples = [], torch.empty(rows, dtype=torch.long)

    def on_chunk(part, logits):
        seen.append((part.start, part.stop))
        samples[part] = sample_tokens(logits, method="gumbel")

    torch.manual_seed(5)
    with torch.no_grad():
        linear_cross_entropy(hidden, weight, bias, torch.zeros(rows, dtype=torch.long), torch.ones(rows), on_chunk)
    assert seen == [(0, 7), (7, 14), (14, 21), (21, 23)]
    torch.manual_seed(5)
    assert torch.equal(samples, sample_tokens(hidden @ weight.t() + bias, method="gumbel"))


def test_token_logits():
    hidden, weight, bias = torch.randn(2, 3, 8), torch.randn(40, 8), torch.randn(40)
    ids = torch.randint(40, (2, 3))
    expected = (hidden @ weight.t() + bias).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(token_logits(hidden, weight, bias, ids), expected)


@pytest.mark.parametrize("objective", ["electra", "electric", "mlm"])
def test_pair_fused_equals_unfused(tokenizer, sentences, objective, small_chunks):
    configs = [ElectraPretrainingConfig.from_preset("tiny", objective=objective, max_seq_length=32,
                                                    fused_vocab_head=fused,
                                                    model_hparam_overrides={"num_hidden_layers": 2})
               for fused in (True, False)]
    batch = DataCollatorForElectra.from_config(tokenizer, configs[0])([tokenizer(s) for s in sentences[:8]])
    fused_model = ElectraPretrainingModel(configs[0]).eval()
    unfused_model = ElectraPretrainingModel(configs[1]).eval()
    unfused_model.load_state_dict(fused_model.state_dict())
    outputs = []
    for model in (fused_model, unfused_model):
        torch.manual_seed(2)
        out = model(**batch)
        out.loss.backward()
        outputs.append(out)
    fused, unfused = outputs
    for name in ("loss", "generator_loss", "masked_lm_loss", "discriminator_loss", "discriminator_logits"):
        if getattr(unfused, name) is not None:
            torch.testing.assert_close(getattr(fused, name), getattr(unfused, name), rtol=1e-4, atol=1e-4)
    assert torch.equal(fused.masked_lm_predictions, unfused.masked_lm_predictions)
    if objective != "mlm":
        assert torch.equal(fused.sampled_ids, unfused.sampled_ids)
    unfused_grads = dict(unfused_model.named_parameters())
    for name, param in fused_model.named_parameters():
        other = unfused_grads[name].grad
        if param.grad is None:
            assert other is None or not other.any(), name
        else:
            torch.testing.assert_close(param.grad, other, rtol=1e-3, atol=1e-5, msg=name)
