"""ElectraPretrainingConfig against the original (configure_pretraining.py, util/training_utils.py:96-112: presets,
generator rule, derived values, bad input)."""

import json

import pytest
from transformers import ElectraConfig

from electra_hf import ElectraPretrainingConfig
from electra_hf.masking import max_predictions_for


def sizes(cfg: ElectraConfig):
    return (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.intermediate_size,
            cfg.embedding_size)


@pytest.mark.parametrize("preset, disc, gen, max_seq, mask_prob, max_preds", [
    # configure_pretraining.py's per-size values: (hidden, layers, heads, FFN, embedding)
    ("small", (256, 12, 4, 1024, 128), (64, 12, 1, 256, 128), 128, 0.15, 19),
    ("small++", (256, 12, 4, 1024, 128), (256, 12, 4, 1024, 128), 128, 0.15, 19),
    ("base", (768, 12, 12, 3072, 768), (256, 12, 4, 1024, 768), 512, 0.15, 79),
    ("large", (1024, 24, 16, 4096, 1024), (256, 24, 4, 1024, 1024), 512, 0.25, 130),
    # the original's debug transformer (run_pretraining.py:45-49)
    ("tiny", (144, 3, 4, 576, 128), (36, 3, 1, 144, 128), 128, 0.15, 19),
])
def test_presets_match_the_paper(preset, disc, gen, max_seq, mask_prob, max_preds):
    config = ElectraPretrainingConfig.from_preset(preset)
    assert sizes(config.discriminator_config) == disc
    assert sizes(config.generator_config) == gen
    assert (config.max_seq_length, config.mask_prob, config.max_predictions_per_seq) == (max_seq, mask_prob,
                                                                                       max_preds)
    assert (config.gen_weight, config.disc_weight, config.temperature, config.disallow_correct) == (1.0, 50.0, 1.0,
                                                                                                   False)
    assert (config.mask_replace_prob, config.random_replace_prob) == (0.85, 0.0)
    for cfg in (config.discriminator_config, config.generator_config):
        assert (cfg.hidden_act, cfg.layer_norm_eps, cfg.hidden_dropout_prob, cfg.attention_probs_dropout_prob,
                cfg.max_position_embeddings, cfg.type_vocab_size, cfg.vocab_size) == ("gelu", 1e-12, 0.1, 0.1, 512,
                                                                                       2, 30522)


@pytest.mark.parametrize("mask_prob, length, expected", [(0.15, 128, 19), (0.15, 512, 79), (0.25, 512, 130),
                                                         (0.25, 128, 32)])
def test_max_predictions_per_seq_rule(mask_prob, length, expected):
    assert max_predictions_for(mask_prob, length) == expected
    assert ElectraPretrainingConfig.from_preset("small", mask_prob=mask_prob,
                                                max_seq_length=length).max_predictions_per_seq == expected


def test_generator_rule_shrinks_hidden_heads_ffn_not_layers():
    config = ElectraPretrainingConfig.from_preset("base", generator_hidden_size=0.5, generator_layers=0.5)
    assert sizes(config.generator_config) == (384, 6, 6, 1536, 768)
    assert config.generator_config.hidden_dropout_prob == config.discriminator_config.hidden_dropout_prob


def test_model_hparam_overrides_applied_twice_like_the_original():
    # util/training_utils.py:96-112: heads/FFN derive from an overridden hidden size unless overridden too
    derived = ElectraPretrainingConfig.from_preset("small", model_hparam_overrides={"hidden_size": 512})
    assert sizes(derived.discriminator_config)[:4] == (512, 12, 8, 2048)
    explicit = ElectraPretrainingConfig.from_preset("small", model_hparam_overrides={"hidden_size": 512,
                                                                                     "num_attention_heads": 4})
    assert explicit.discriminator_config.num_attention_heads == 4
    # ElectraConfig field names work directly too
    assert ElectraPretrainingConfig.from_preset("small", num_hidden_layers=4).discriminator_config.num_hidden_layers == 4


def test_original_hparams_json_is_accepted(tmp_path):
    hparams = {"model_size": "base", "learning_rate": 2e-4, "num_train_steps": 766000, "train_batch_size": 256,
               "generator_hidden_size": 0.33333, "max_seq_length": 512, "embedding_size": 768, "use_tpu": False}
    path = tmp_path / "hparams.json"
    path.write_text(json.dumps(hparams))
    config, training = ElectraPretrainingConfig.from_original_hparams(str(path))
    assert sizes(config.generator_config) == (256, 12, 4, 1024, 768)
    assert training == {"learning_rate": 2e-4, "max_steps": 766000, "global_batch_size": 256}
    debug, _ = ElectraPretrainingConfig.from_original_hparams('{"debug": true}')
    assert sizes(debug.discriminator_config) == (144, 3, 4, 576, 128)
    mlm, _ = ElectraPretrainingConfig.from_original_hparams({"electra_objective": False})
    assert mlm.objective == "mlm" and sizes(mlm.generator_config) == sizes(mlm.discriminator_config)


def test_round_trip_through_save_pretrained(tmp_path):
    config = ElectraPretrainingConfig.from_preset("small", disc_weight=30.0, disallow_correct=True)
    config.save_pretrained(tmp_path)
    loaded = ElectraPretrainingConfig.from_pretrained(tmp_path)
    assert isinstance(loaded.generator_config, ElectraConfig)
    assert sizes(loaded.generator_config) == sizes(config.generator_config)
    assert (loaded.disc_weight, loaded.disallow_correct, loaded.max_predictions_per_seq) == (30.0, True, 19)


@pytest.mark.parametrize("overrides, message", [
    ({"generator_hidden_size": 1.5}, "larger than the discriminator"),
    ({"mask_prob": 0.0}, "mask_prob=0.0"),
    ({"mask_prob": 1.2}, "mask_prob=1.2"),
    ({"max_seq_length": 1024}, "max_position_embeddings=512"),
    ({"mask_replace_prob": 0.9, "random_replace_prob": 0.2}, "sum to at most 1"),
    ({"objective": "bert"}, "objective='bert'"),
    ({"temperature": 0.0}, "temperature=0.0"),
    ({"learning_rate": 1e-4}, "ElectraTrainingArguments"),
    ({"objective": "electric", "generator_type": "masked_lm"}, "'electric' with generator_type='masked_lm' is not a generator mode.*"
     "two_tower: generator_type='two_tower'"),
    ({"generator_type": "tiny_lm"}, "generator_type='tiny_lm'"),
    ({"objective": "mlm", "tie_generator": True}, "tie_generator=True is not a generator mode.*modes of 'mlm' are "
     "mlm: generator_type='masked_lm'.$"),
    ({"tie_generator": True, "untied_generator_embeddings": True},
     "tie_generator=True, untied_generator_embeddings=True is not a generator mode"),
    ({"generator_type": "uniform", "untied_generator_embeddings": True}, "'uniform', untied_generator_embeddings=True is not a generator mode"),
    ({"model_hparam_overrides": {"hidden_size": 250}}, "not a multiple of num_attention_heads"),
])
def test_bad_configs_fail_with_a_message(overrides, message):
    with pytest.raises(ValueError, match=message):
        ElectraPretrainingConfig.from_preset("small", **overrides)


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        ElectraPretrainingConfig.from_preset("huge")


def test_tokenizer_must_fit_the_vocabulary(tokenizer):
    ElectraPretrainingConfig.from_preset("tiny").check_tokenizer(tokenizer)
    with pytest.raises(ValueError, match="vocab_size=30522"):
        ElectraPretrainingConfig.from_preset("tiny", vocab_size=1000).check_tokenizer(tokenizer)


def test_a_tokenizer_without_mask_cls_sep_is_refused(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    with pytest.raises(ValueError, match=r"has no \[CLS\], \[SEP\] or \[MASK\] token"):
        ElectraPretrainingConfig.from_preset("tiny", vocab_size=2).check_tokenizer(tokenizer)
