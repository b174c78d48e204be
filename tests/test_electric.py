"""Electric (run_pretraining.py:66-77, 194-201, 288-335) and the other generator modes (configure_pretraining.py): the
two-tower cloze generator, the corrected discriminator logit, the labels, the losses, the uniform / tied /
untied-embedding generators."""

import math

import pytest
import torch
import torch.nn.functional as F

from electra_hf import DataCollatorForElectra, ElectraPretrainingConfig, ElectraPretrainingModel
from electra_hf.modeling import electric_logits, scatter_samples
from electra_hf.trainer import check_checkpoint_matches
from electra_hf.two_tower import ElectraTwoTowerConfig, ElectraTwoTowerGenerator, tower_attention_mask


def electric_config(**overrides):
    return ElectraPretrainingConfig.from_preset(
        "tiny", objective="electric", max_seq_length=32, model_hparam_overrides={"num_hidden_layers": 2}, **overrides)


def batch_of(tokenizer, config, sentences, n=8):
    return DataCollatorForElectra.from_config(tokenizer, config)([tokenizer(s) for s in sentences[:n]])


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
@pytest.mark.parametrize("untied", [False, True])
def test_a_position_never_sees_its_own_token(attn_implementation, untied):
    config = ElectraTwoTowerConfig(vocab_size=60, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                                   num_attention_heads=2, intermediate_size=64, untied_tower_embeddings=untied)
    config._attn_implementation = attn_implementation
    model = ElectraTwoTowerGenerator(config).eval()
    ids = torch.randint(5, 60, (2, 12))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0  # the second row is padded: its right-to-left pads attend to everything, as the original's
    logits = model(ids, attention_mask=mask).logits
    assert torch.isfinite(logits).all()
    for t in range(1, 11):  # the circular shift gives positions 0 and L-1 a view of everything (never targets)
        changed = ids.clone()
        changed[:, t] = (changed[:, t] - 5 + 1) % 55 + 5
        diff = (model(changed, attention_mask=mask).logits - logits).abs().amax(-1)
        assert diff[0, t] < 1e-5, (t, diff[0])
        assert diff[0, t - 1] > 1e-4 and diff[0, t + 1] > 1e-4  # its neighbours do see it
        if t < 7:  # 7, the last token ([SEP] in real data), takes rtl(8): a pad that sees all, as the original
            assert diff[1, t] < 1e-5


def test_towers_read_the_discriminator_embeddings_and_shift_circularly(tokenizer, sentences):
    model = ElectraPretrainingModel(electric_config()).eval()
    gen, disc = model.generator, model.discriminator
    assert gen.ltr.embeddings is disc.electra.embeddings and gen.rtl.embeddings is disc.electra.embeddings
    assert gen.cloze_lm_head.weight is disc.electra.embeddings.word_embeddings.weight
    assert gen.ltr.encoder is not gen.rtl.encoder
    assert gen.cloze_predictions.dense.weight.shape == (128, 2 * gen.config.hidden_size)  # [E, 2h]
    batch = batch_of(tokenizer, model.config, sentences, 2)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    hidden = gen.tower_outputs(ids, mask)
    width = gen.config.hidden_size
    ltr = gen.ltr(ids, attention_mask=tower_attention_mask(mask, True, torch.float32, "sdpa")).last_hidden_state
    rtl = gen.rtl(ids, attention_mask=tower_attention_mask(mask, False, torch.float32, "sdpa")).last_hidden_state
    length = ids.shape[1]
    for t in (0, 1, length - 1):  # roll(-1)/roll(1) of run_pretraining.py:333-335, circular at both ends
        torch.testing.assert_close(hidden[:, t, :width], ltr[:, (t - 1) % length])
        torch.testing.assert_close(hidden[:, t, width:], rtl[:, (t + 1) % length])


def test_corrected_logit_by_hand():
    # s = 0.5, q = softmax([0, log 3]) = [0.25, 0.75], token 1, mask_prob 0.25: 0.5 + log 0.75 + log(1/3)
    log_q = torch.tensor([[[0.0, math.log(3.0)]]]).log_softmax(-1)
    logit = electric_logits(torch.tensor([[0.5]]), log_q[..., 1], 0.25)
    assert logit.item() == pytest.approx(-0.886294, abs=1e-5)


def test_electric_step_follows_the_formulas(tokenizer, sentences):
    config = electric_config()
    model = ElectraPretrainingModel(config).eval()  # no dropout: the pieces can be recomputed
    batch = batch_of(tokenizer, config, sentences)
    out = model(**batch)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    fake = scatter_samples(ids, batch["masked_lm_positions"], out.sampled_ids, batch["masked_lm_weights"])
    with torch.no_grad():
        cloze = model.generator(ids, attention_mask=mask).logits
        scores = model.discriminator(fake, attention_mask=mask).logits
    log_q = torch.log_softmax(cloze, -1).gather(-1, fake.unsqueeze(-1)).squeeze(-1)
    expected = scores + log_q + math.log(0.15 / 0.85)
    torch.testing.assert_close(out.discriminator_logits, expected, atol=1e-4, rtol=1e-5)
    # labels: every position a weighted slot selected, nothing else
    selected = torch.zeros_like(ids)
    for row, (positions, weights) in enumerate(zip(batch["masked_lm_positions"], batch["masked_lm_weights"])):
        selected[row, positions[weights > 0]] = 1
    assert torch.equal(out.discriminator_labels, selected.float())
    # generator loss: the cloze NLL over every candidate (non-pad, not [CLS]/[SEP]); the reported MLM loss at slots
    candidates = mask.bool() & (ids != 101) & (ids != 102)
    nll = F.cross_entropy(cloze[candidates], ids[candidates])
    assert out.generator_loss.item() == pytest.approx(nll.item(), rel=1e-5)
    slots = cloze.gather(1, batch["masked_lm_positions"].unsqueeze(-1).expand(-1, -1, cloze.shape[-1]))
    weights = batch["masked_lm_weights"]
    slot_nll = F.cross_entropy(slots[weights > 0], batch["masked_lm_ids"][weights > 0])
    assert out.masked_lm_loss.item() == pytest.approx(slot_nll.item(), rel=1e-5)
    per_token = F.binary_cross_entropy_with_logits(expected, selected.float(), reduction="none")
    disc_loss = (per_token * mask).sum() / mask.sum()
    assert out.loss.item() == pytest.approx(nll.item() + 50 * disc_loss.item(), rel=1e-4)


def test_a_sample_equal_to_the_original_is_still_noise(tokenizer):
    config = electric_config()
    batch = DataCollatorForElectra.from_config(tokenizer, config)(
        [{"input_ids": [101] + [2000] * 25 + [102]} for _ in range(4)])
    model = ElectraPretrainingModel(config)
    with torch.no_grad():
        model.generator.cloze_lm_head.bias[2000] = 500.0  # the generator all but always says "2000"
    out = model(**batch)
    weights = batch["masked_lm_weights"]
    assert (out.sampled_ids[weights > 0] == 2000).all()
    assert out.discriminator_labels.sum() > 0  # ELECTRA would label all of these real
    assert out.discriminator_labels.sum() == sum(len(set(p[w > 0].tolist()))
                                                 for p, w in zip(batch["masked_lm_positions"], weights))


def test_no_gradient_through_log_q(tokenizer, sentences):
    config = electric_config()
    model = ElectraPretrainingModel(config)
    model(**batch_of(tokenizer, config, sentences)).discriminator_loss.backward()
    for name, param in model.generator.named_parameters():
        if ".embeddings." in name:  # shared with the discriminator
            continue
        assert param.grad is None or not param.grad.any(), name
    assert model.discriminator.electra.encoder.layer[0].attention.self.query.weight.grad.any()


def test_electric_losses_decrease(tokenizer, sentences):
    config = electric_config()
    model = ElectraPretrainingModel(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    collator = DataCollatorForElectra.from_config(tokenizer, config)
    features = [tokenizer(s) for s in sentences[:8]]
    losses = []
    for _ in range(15):
        out = model(**collator(features))
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        losses.append((out.generator_loss.item(), out.discriminator_loss.item()))
    first, last = torch.tensor(losses[:5]).mean(0), torch.tensor(losses[-5:]).mean(0)
    assert last[0] < 0.8 * first[0] and last[1] < first[1], (first, last)


def test_uniform_generator_has_no_parameters_and_samples_uniformly(tokenizer, sentences):
    config = ElectraPretrainingConfig.from_original_hparams(
        {"debug": True, "uniform_generator": True}, model_hparam_overrides={"num_hidden_layers": 1})[0]
    assert config.generator_type == "uniform" and config.generator_config is None
    model = ElectraPretrainingModel(config)
    assert model.generator is None and list(model.halves()) == ["discriminator"]
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in model.discriminator.parameters())
    samples = []
    for _ in range(4):
        out = model(**batch_of(tokenizer, config, sentences, 64))
        samples.append(out.sampled_ids[out.masked_lm_weights > 0])
    samples = torch.cat(samples).double()
    vocab = config.discriminator_config.vocab_size
    assert out.generator_loss.item() == pytest.approx(math.log(vocab), rel=1e-5)  # the constant log V
    # uniform over the whole vocabulary: mean (V-1)/2 and std V/sqrt(12) within 5 standard errors
    n = samples.numel()
    assert abs(samples.mean().item() - (vocab - 1) / 2) < 5 * vocab / math.sqrt(12 * n)
    assert samples.std().item() == pytest.approx(vocab / math.sqrt(12), rel=0.05)


def test_tied_generator_is_the_discriminator_encoder(tmp_path, tokenizer, sentences):
    config = ElectraPretrainingConfig.from_original_hparams(
        {"debug": True, "untied_generator": False}, model_hparam_overrides={"num_hidden_layers": 2})[0]
    assert config.tie_generator and config.generator_config.hidden_size == config.discriminator_config.hidden_size
    model = ElectraPretrainingModel(config)
    assert model.generator.electra is model.discriminator.electra
    head = sum(p.numel() for p in model.generator.generator_predictions.parameters())
    head += config.generator_config.vocab_size  # the output bias; the output weight is the word embeddings
    discriminator = sum(p.numel() for p in model.discriminator.parameters())
    assert sum(p.numel() for p in model.parameters()) == discriminator + head
    model(**batch_of(tokenizer, config, sentences)).generator_loss.backward()
    assert model.discriminator.electra.encoder.layer[1].output.dense.weight.grad.any()  # the MLM loss trains it
    model.save_pretrained(tmp_path)
    loaded = ElectraPretrainingModel.from_pretrained(tmp_path)
    assert loaded.generator.electra is loaded.discriminator.electra


def test_untied_generator_embeddings(tmp_path, tokenizer, sentences):
    config = ElectraPretrainingConfig.from_preset("tiny", untied_generator_embeddings=True,
                                                  model_hparam_overrides={"num_hidden_layers": 2})
    model = ElectraPretrainingModel(config)
    gen_embeddings = model.generator.electra.embeddings
    assert gen_embeddings is not model.discriminator.electra.embeddings
    assert gen_embeddings.word_embeddings.weight.shape[1] == config.generator_config.hidden_size  # its own width
    assert not hasattr(model.generator.electra, "embeddings_project")
    assert model.generator.generator_lm_head.weight is gen_embeddings.word_embeddings.weight
    assert gen_embeddings.word_embeddings.padding_idx is None
    model.save_pretrained(tmp_path)
    loaded = ElectraPretrainingModel.from_pretrained(tmp_path)
    assert loaded.generator.electra.embeddings is not loaded.discriminator.electra.embeddings
    torch.testing.assert_close(loaded.generator.electra.embeddings.word_embeddings.weight,
                               gen_embeddings.word_embeddings.weight)
    paired = ElectraPretrainingModel.from_discriminator_and_generator(str(tmp_path / "discriminator"),
                                                                      str(tmp_path / "generator"))
    assert paired.config.untied_generator_embeddings  # its own width: kept, not replaced by the discriminator's
    torch.testing.assert_close(paired.generator.electra.embeddings.word_embeddings.weight,
                               gen_embeddings.word_embeddings.weight)


@pytest.mark.parametrize("untied", [False, True])
def test_electric_pair_saves_and_loads(tmp_path, tokenizer, sentences, untied):
    config = electric_config(untied_generator_embeddings=untied)
    model = ElectraPretrainingModel(config).eval()
    model.save_pretrained(tmp_path)
    loaded = ElectraPretrainingModel.from_pretrained(tmp_path).eval()
    assert isinstance(loaded.generator, ElectraTwoTowerGenerator)
    assert loaded.config.objective == "electric" and loaded.config.untied_generator_embeddings == untied
    assert (loaded.generator.ltr.embeddings is loaded.discriminator.electra.embeddings) == (not untied)
    assert loaded.discriminator.config.pretraining_objective == "electric"
    batch = batch_of(tokenizer, config, sentences, 4)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    torch.testing.assert_close(loaded.generator(ids, attention_mask=mask).logits,
                               model.generator(ids, attention_mask=mask).logits)
    standalone = ElectraTwoTowerGenerator.from_pretrained(tmp_path / "generator").eval()
    torch.testing.assert_close(standalone(ids, attention_mask=mask).logits,
                               model.generator(ids, attention_mask=mask).logits)


def test_original_hparams_select_the_modes():
    config = ElectraPretrainingConfig.from_original_hparams({"electra_objective": False, "electric_objective": True})[0]
    assert (config.objective, config.generator_type) == ("electric", "two_tower")
    assert isinstance(config.generator_config, ElectraTwoTowerConfig)
    config = ElectraPretrainingConfig.from_original_hparams({"two_tower_generator": True})[0]
    assert (config.objective, config.generator_type) == ("electra", "two_tower")
    config = ElectraPretrainingConfig.from_original_hparams({"untied_generator_embeddings": True})[0]
    assert config.untied_generator_embeddings and config.generator_config.embedding_size == 64


def test_resuming_with_another_generator_mode_is_refused(tmp_path):
    ElectraPretrainingConfig.from_preset("tiny").save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="generator_type 'masked_lm' \\(now 'two_tower'\\)"):
        check_checkpoint_matches(str(tmp_path), ElectraPretrainingConfig.from_preset("tiny", objective="electric"))


def test_sdpa_and_eager_towers_agree(tokenizer, sentences):
    config = electric_config()
    batch = batch_of(tokenizer, config, sentences, 4)
    model = ElectraTwoTowerGenerator(config.generator_config).eval()
    sdpa_logits = model(batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    model.config._attn_implementation = "eager"  # same weights, the other attention
    eager_logits = model(batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    torch.testing.assert_close(eager_logits, sdpa_logits, atol=1e-5, rtol=1e-5)


def test_two_tower_generator_with_electra_labels(tokenizer, sentences):
    config = ElectraPretrainingConfig.from_original_hparams(
        {"debug": True, "two_tower_generator": True, "max_seq_length": 32},
        model_hparam_overrides={"num_hidden_layers": 2})[0]
    model = ElectraPretrainingModel(config).eval()
    batch = batch_of(tokenizer, config, sentences)
    out = model(**batch)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    fake = scatter_samples(ids, batch["masked_lm_positions"], out.sampled_ids, batch["masked_lm_weights"])
    assert torch.equal(out.discriminator_labels, (fake != ids).float())  # ELECTRA's labels
    with torch.no_grad():
        scores = model.discriminator(fake, attention_mask=mask).logits
        cloze = model.generator(ids, attention_mask=mask).logits
    torch.testing.assert_close(out.discriminator_logits, scores)  # no correction
    candidates = mask.bool() & (ids != 101) & (ids != 102)
    assert out.generator_loss.item() == pytest.approx(F.cross_entropy(cloze[candidates], ids[candidates]).item(),
                                                      rel=1e-5)


def test_continuing_electric_halves_stays_electric(tmp_path):
    ElectraPretrainingModel(electric_config()).save_pretrained(tmp_path)
    paired = ElectraPretrainingModel.from_discriminator_and_generator(str(tmp_path / "discriminator"),
                                                                      str(tmp_path / "generator"))
    assert (paired.config.objective, paired.config.generator_type) == ("electric", "two_tower")
    assert paired.discriminator.config.pretraining_objective == "electric"


@pytest.mark.parametrize("overrides", [{}, {"objective": "electric"}, {"tie_generator": True},
                                       {"generator_type": "uniform"}])
def test_trainer_resume_loads_every_mode(tmp_path, overrides):
    config = ElectraPretrainingConfig.from_preset("tiny", model_hparam_overrides={"num_hidden_layers": 1},
                                                  **overrides)
    saved = ElectraPretrainingModel(config)
    saved.save_pretrained(tmp_path)
    resumed = ElectraPretrainingModel(config)
    resumed.load_pair_weights(tmp_path)
    expected = saved.state_dict()
    assert all(torch.equal(tensor, expected[name]) for name, tensor in resumed.state_dict().items())


@pytest.mark.parametrize("hparams, message", [
    ({"uniform_generator": True, "two_tower_generator": True}, "both true"),
    ({"electric_objective": True, "two_tower_generator": False}, "'electric' with generator_type='masked_lm' is not a generator mode"),
    ({"untied_generator": False, "untied_generator_embeddings": True},
     "tie_generator=True, untied_generator_embeddings=True is not a generator mode"),
])
def test_contradictory_original_flags_are_refused(hparams, message):
    with pytest.raises(ValueError, match=message):
        ElectraPretrainingConfig.from_original_hparams(hparams)


def test_untied_output_layer_is_refused():
    with pytest.raises(ValueError, match="tie_word_embeddings=False"):
        ElectraTwoTowerGenerator(ElectraTwoTowerConfig(tie_word_embeddings=False, num_hidden_layers=1))
    config = electric_config()
    with pytest.raises(ValueError, match="must agree"):
        ElectraPretrainingConfig(discriminator_config=config.discriminator_config, objective="electric",
                                 generator_config=ElectraTwoTowerConfig(**config.generator_config.to_dict()
                                                                        | {"untied_tower_embeddings": True}))
