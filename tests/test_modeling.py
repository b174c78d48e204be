"""ElectraPretrainingModel against the original (run_pretraining.py, pretrain/pretrain_helpers.py, model/modeling.py):
sharing, initialisation, sampling, labels, losses, save/load."""

import math
import os

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, ElectraForMaskedLM, ElectraForPreTraining

from electra_hf import DataCollatorForElectra, ElectraPretrainingConfig, ElectraPretrainingModel
from electra_hf.config import SAMPLING_METHODS
from electra_hf.modeling import sample_tokens, scatter_samples


def make_batch(tokenizer, config, sentences, n=8):
    collator = DataCollatorForElectra.from_config(tokenizer, config)
    return collator([tokenizer(s) for s in sentences[:n]])


def assert_shared(model):
    disc, gen = model.discriminator, model.generator
    assert gen.electra.embeddings is disc.electra.embeddings
    for name, param in disc.electra.embeddings.named_parameters():
        assert gen.electra.embeddings.get_parameter(name).data_ptr() == param.data_ptr()
    assert gen.generator_lm_head.weight.data_ptr() == disc.electra.embeddings.word_embeddings.weight.data_ptr()
    assert gen.generator_lm_head.bias.data_ptr() != disc.electra.embeddings.word_embeddings.weight.data_ptr()
    assert gen.electra.embeddings_project is not getattr(disc.electra, "embeddings_project", None)


def test_embeddings_are_one_module(tiny_config):
    model = ElectraPretrainingModel(tiny_config)
    assert_shared(model)
    assert model.discriminator.config._attn_implementation == "sdpa"


def test_initialisation_like_the_original(tiny_config):
    model = ElectraPretrainingModel(tiny_config)
    truncated = [model.embeddings.word_embeddings.weight, model.embeddings.position_embeddings.weight,
                 model.discriminator.electra.encoder.layer[0].attention.self.query.weight,
                 model.generator.electra.encoder.layer[1].intermediate.dense.weight,
                 model.discriminator.discriminator_predictions.dense.weight,
                 model.generator.generator_predictions.dense.weight]
    for weight in truncated:  # truncated at 2 std without rescaling: realised std 0.02 * 0.8796
        assert weight.abs().max().item() <= 0.04
    assert model.embeddings.word_embeddings.weight.std().item() == pytest.approx(0.017592, rel=0.01)
    assert model.embeddings.word_embeddings.weight[0].abs().sum() > 0  # [PAD] row initialised too
    glorot = [model.discriminator.electra.embeddings_project, model.generator.electra.embeddings_project,
              model.discriminator.discriminator_predictions.dense_prediction]
    for layer in glorot:
        fan_out, fan_in = layer.weight.shape
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert layer.weight.abs().max().item() <= bound
        assert layer.weight.abs().max().item() > 0.9 * bound  # uniform on (-bound, bound), not 0.02-scaled
    for name, param in model.named_parameters():
        if name.endswith("bias"):
            assert (param == 0).all(), name
        if "LayerNorm.weight" in name:
            assert (param == 1).all(), name


@pytest.mark.parametrize("method", SAMPLING_METHODS)
def test_samples_follow_the_softmax_at_temperature(method):
    logits = torch.log(torch.tensor([0.5, 0.3, 0.2])).expand(200_000, 3) + 7.0  # a shift changes nothing
    for temperature in (1.0, 2.0):
        freq = torch.bincount(sample_tokens(logits, temperature, method=method), minlength=3).float() / 200_000
        expected = torch.softmax(logits[0] / temperature, -1)
        assert torch.allclose(freq, expected, atol=0.005)
    disallowed = sample_tokens(logits[:1000], 1.0, torch.zeros(1000, dtype=torch.long), method)
    assert (disallowed != 0).all()
    batched = sample_tokens(torch.randn(4, 5, 30), method=method)  # leading dimensions kept
    assert batched.shape == (4, 5) and batched.max() < 30


def test_gumbel_is_the_original_formula():
    logits = torch.randn(6, 40)
    torch.manual_seed(4)
    u = torch.rand(6, 40)
    expected = (logits - torch.log(-torch.log(u + 1e-9) + 1e-9)).argmax(-1)
    torch.manual_seed(4)
    assert torch.equal(sample_tokens(logits, method="gumbel"), expected)


def test_duplicate_positions_get_the_integer_mean_of_their_samples():
    input_ids = torch.tensor([[101, 10, 11, 12, 13, 14, 102]])
    positions = torch.tensor([[3, 3, 5, 0]])
    sampled = torch.tensor([[50, 61, 7, 9]])
    weights = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    # pretrain_helpers.py:100-106 (scatter_update), verified on the TF code: samples 50 and 61 at one position gave 55;
    # the dummy slot at 0 writes nothing
    assert scatter_samples(input_ids, positions, sampled, weights).tolist() == [[101, 10, 11, 55, 13, 7, 102]]


def test_losses_follow_the_original_formulas(tokenizer, tiny_config, sentences):
    model = ElectraPretrainingModel(tiny_config).eval()  # no dropout, so the stock halves reproduce the pass
    batch = make_batch(tokenizer, tiny_config, sentences)
    batch["masked_lm_positions"][:, 1] = batch["masked_lm_positions"][:, 0]  # a duplicated slot counts twice
    batch["masked_lm_ids"][:, 1] = batch["masked_lm_ids"][:, 0]
    out = model(**batch)

    mask, weights = batch["attention_mask"], batch["masked_lm_weights"]
    full_logits = model.generator(batch["masked_input_ids"], attention_mask=mask,
                                  token_type_ids=batch["token_type_ids"]).logits
    log_probs = full_logits.log_softmax(-1).gather(1, batch["masked_lm_positions"].unsqueeze(-1).expand(
        -1, -1, full_logits.shape[-1]))
    nll = -log_probs.gather(-1, batch["masked_lm_ids"].unsqueeze(-1)).squeeze(-1)
    assert out.generator_loss.item() == pytest.approx(((nll * weights).sum() / weights.sum()).item(), rel=1e-5)

    fake = scatter_samples(batch["input_ids"], batch["masked_lm_positions"], out.sampled_ids, weights)
    assert torch.equal(out.discriminator_labels, (fake != batch["input_ids"]).float())
    disc_logits = model.discriminator(fake, attention_mask=mask, token_type_ids=batch["token_type_ids"]).logits
    assert torch.allclose(out.discriminator_logits, disc_logits, atol=1e-5)
    # every non-pad token counts, [CLS] and [SEP] included (always label 0)
    per_token = F.binary_cross_entropy_with_logits(disc_logits, out.discriminator_labels, reduction="none")
    assert out.discriminator_loss.item() == pytest.approx((per_token * mask).sum().item() / mask.sum().item(),
                                                          rel=1e-5)
    assert out.loss.item() == pytest.approx(out.generator_loss.item() + 50 * out.discriminator_loss.item(),
                                            rel=1e-6)
    assert out.masked_lm_predictions.shape == batch["masked_lm_ids"].shape


def test_sample_equal_to_original_is_labelled_real(tokenizer, tiny_config):
    batch = DataCollatorForElectra.from_config(tokenizer, tiny_config)(
        [{"input_ids": [101] + [2000] * 40 + [102]} for _ in range(4)])
    for disallow_correct, expected_fakes in ((False, 0), (True, None)):
        tiny_config.disallow_correct = disallow_correct
        model = ElectraPretrainingModel(tiny_config)
        with torch.no_grad():
            model.generator.generator_lm_head.bias[2000] = 500.0  # the generator all but always says "2000"
        out = model(**batch)
        distinct_slots = sum(len(set(p[w > 0].tolist())) for p, w in
                             zip(batch["masked_lm_positions"], batch["masked_lm_weights"]))
        if expected_fakes == 0:
            assert (out.sampled_ids[batch["masked_lm_weights"] > 0] == 2000).all()
            assert out.discriminator_labels.sum() == 0
        else:  # -1000 after the temperature forbids the original token
            assert not (out.sampled_ids[batch["masked_lm_weights"] > 0] == 2000).any()
            assert out.discriminator_labels.sum() <= distinct_slots
            assert out.discriminator_labels.sum() >= distinct_slots - 2  # a duplicate may average back to 2000


def test_no_gradient_from_discriminator_to_generator(tokenizer, tiny_config, sentences):
    model = ElectraPretrainingModel(tiny_config)
    out = model(**make_batch(tokenizer, tiny_config, sentences))
    out.discriminator_loss.backward()
    for name, param in model.generator.named_parameters():
        if ".embeddings." in name:  # shared with the discriminator: gets its gradient
            continue
        assert param.grad is None or not param.grad.any(), name
    assert model.embeddings.word_embeddings.weight.grad.abs().sum() > 0


def test_save_and_load_with_stock_classes(tmp_path, tokenizer, tiny_config, sentences):
    model = ElectraPretrainingModel(tiny_config)
    model.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "discriminator", "generator"]
    for half, cls in (("discriminator", ElectraForPreTraining), ("generator", ElectraForMaskedLM)):
        assert os.path.exists(tmp_path / half / "model.safetensors")
        loaded, info = cls.from_pretrained(tmp_path / half, output_loading_info=True)
        assert all(not v for v in info.values()), info
        assert torch.equal(loaded.electra.embeddings.word_embeddings.weight, model.embeddings.word_embeddings.weight)
        base, info = AutoModel.from_pretrained(tmp_path / half, output_loading_info=True)
        assert not info["missing_keys"]
    generator = ElectraForMaskedLM.from_pretrained(tmp_path / "generator")
    assert torch.equal(generator.generator_lm_head.bias, model.generator.generator_lm_head.bias)

    restored = ElectraPretrainingModel.from_pretrained(tmp_path)
    assert_shared(restored)
    for (name, a), b in zip(model.state_dict().items(), restored.state_dict().values()):
        assert torch.equal(a, b), name
    batch = make_batch(tokenizer, tiny_config, sentences)
    torch.manual_seed(1)
    expected = model.eval()(**batch).loss
    torch.manual_seed(1)
    assert restored.eval()(**batch).loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_sharing_survives_a_training_step(tokenizer, tiny_config, sentences):
    from electra_hf.optimization import AdamWeightDecay
    model = ElectraPretrainingModel(tiny_config)
    before = model.embeddings.word_embeddings.weight.detach().clone()
    optimizer = AdamWeightDecay(model.parameters(), lr=1e-3)
    model(**make_batch(tokenizer, tiny_config, sentences)).loss.backward()
    optimizer.step()
    assert_shared(model)
    assert not torch.equal(before, model.embeddings.word_embeddings.weight)


def test_pair_from_two_checkpoints(tmp_path, tiny_config, caplog):
    ElectraForPreTraining(tiny_config.discriminator_config).save_pretrained(tmp_path / "d")
    ElectraForMaskedLM(tiny_config.generator_config).save_pretrained(tmp_path / "g")
    model = ElectraPretrainingModel.from_discriminator_and_generator(str(tmp_path / "d"), str(tmp_path / "g"),
                                                                    disc_weight=30.0)
    assert_shared(model)
    assert "embeddings differ" in caplog.text  # two unrelated random checkpoints
    saved_disc = ElectraForPreTraining.from_pretrained(tmp_path / "d")
    assert torch.equal(model.embeddings.word_embeddings.weight, saved_disc.electra.embeddings.word_embeddings.weight)
    assert (model.config.disc_weight, model.config.generator_hidden_size) == (30.0, 0.25)


def test_mlm_objective_trains_the_generator_alone(tmp_path, tokenizer, sentences):
    config = ElectraPretrainingConfig.from_preset("tiny", objective="mlm", num_hidden_layers=2)
    model = ElectraPretrainingModel(config)
    assert model.discriminator is None and model.generator.config.hidden_size == 144
    out = model(**make_batch(tokenizer, config, sentences))
    assert out.loss.item() == pytest.approx(out.generator_loss.item())
    model.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "generator"]
    assert ElectraPretrainingModel.from_pretrained(tmp_path).discriminator is None


def test_too_long_a_batch_fails_clearly(tokenizer, tiny_config):
    model = ElectraPretrainingModel(tiny_config)
    ids = torch.full((1, 600), 2000)
    batch = DataCollatorForElectra(tokenizer).mask_tokens(ids, torch.ones_like(ids))
    with pytest.raises(ValueError, match="max_position_embeddings=512"):
        model(input_ids=ids, **batch)


def test_sdpa_attention_by_default_equals_eager(tmp_path, tokenizer, tiny_config, sentences):
    model = ElectraPretrainingModel(tiny_config).eval()
    model.save_pretrained(tmp_path)
    eager = ElectraPretrainingModel.from_pretrained(tmp_path, attn_implementation="eager").eval()
    assert model.generator.config._attn_implementation == "sdpa"
    assert eager.discriminator.config._attn_implementation == "eager"
    batch = make_batch(tokenizer, tiny_config, sentences)  # padded rows: the key mask matters
    torch.manual_seed(3)
    fast = model(**batch)
    torch.manual_seed(3)
    slow = eager(**batch)
    assert torch.equal(fast.sampled_ids, slow.sampled_ids)
    real = batch["attention_mask"].bool()
    assert torch.allclose(fast.discriminator_logits[real], slow.discriminator_logits[real], atol=1e-5)
    assert fast.generator_loss.item() == pytest.approx(slow.generator_loss.item(), rel=1e-5)
