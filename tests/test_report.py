"""The end-of-run report: trivial baselines, the rendering of replaced-token detection, the training curves."""

import math

import pytest
import torch
from datasets import Dataset

from electra_hf import ElectraPretrainingConfig, ElectraPretrainingModel
from electra_hf import report


@pytest.fixture()
def config(tokenizer):
    return ElectraPretrainingConfig.from_preset("tiny", tokenizer=tokenizer, num_hidden_layers=1)


def test_baselines_follow_the_maskable_unigram_distribution(tokenizer, config):
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    # maskable tokens: 2000 x3, 2001 x1 (p = 3/4, 1/4); [CLS]/[SEP] never count
    examples = Dataset.from_dict({"input_ids": [[cls, 2000, 2000, sep], [cls, 2000, 2001, sep]]})
    metrics = {"eval_masked_lm_accuracy": 0.4, "eval_sampled_masked_lm_accuracy": 0.2, "eval_masked_lm_loss": 2.0,
               "eval_disc_accuracy": 0.9, "eval_disc_auc": 0.7, "eval_replaced_fraction": 0.125, "eval_loss": 3.0}
    baselines = report.trivial_baselines(examples, config, metrics)
    assert baselines["eval_masked_lm_accuracy"] == pytest.approx(0.75)
    assert baselines["eval_sampled_masked_lm_accuracy"] == pytest.approx(0.75 ** 2 + 0.25 ** 2)
    assert baselines["eval_masked_lm_loss"] == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert baselines["eval_disc_accuracy"] == pytest.approx(0.875)  # always "original"
    assert baselines["eval_disc_auc"] == 0.5 and "eval_loss" not in baselines
    table = report.format_metrics(metrics, baselines)
    assert "discriminator accuracy" in table and "0.8750  (always \"original\")" in table


def result(tokenizer, words, replaced=(), flagged=(), fakes=None):
    ids = tokenizer.convert_tokens_to_ids(["[CLS]", *words, "[SEP]"])
    fake = list(ids)
    for i, word in (fakes or {}).items():
        fake[i + 1] = tokenizer.convert_tokens_to_ids(word)
    n = len(ids)
    return {"original": ids, "fake": fake, "masked": [i - 1 in replaced for i in range(n)],
            "replaced": [i - 1 in replaced for i in range(n)], "flagged": [i - 1 in flagged for i in range(n)],
            "predicted": fake, "discriminator": True}


def test_rendering_marks_replacements_and_verdicts(tokenizer):
    words = ["she", "was", "very", "happy", "to", "see", "play", "##ing"]
    r = result(tokenizer, words, replaced={1, 3}, flagged={1, 6}, fakes={1: "is", 3: "sad"})
    text, summary = report.render_example(r, tokenizer)
    # caught replacement, missed replacement, false alarm on a word piece joined to its word
    assert text == "she [is|was]* very [sad|happy] to see play*ing"
    assert summary == "(2 masked, 2 replaced: 1 caught, 1 missed, 1 false alarms)"
    coloured, _ = report.render_example(r, tokenizer, colour=True)
    assert "\033[1;32m[is|was]*\033[0m" in coloured and "\033[1;31m[sad|happy]\033[0m" in coloured


def test_rendering_the_masked_lm_baseline_shows_predictions(tokenizer):
    r = result(tokenizer, ["she", "was", "happy"])
    r["masked"][2], r["discriminator"] = True, False
    r["predicted"] = list(r["original"])
    r["predicted"][2] = tokenizer.convert_tokens_to_ids("is")
    text, summary = report.render_example(r, tokenizer)
    assert text == "she [is|was] happy" and summary == "(1 masked, 0 predicted right)"


def test_detection_on_real_examples_is_consistent(tokenizer, config):
    torch.manual_seed(0)
    model = ElectraPretrainingModel(config)
    ids = tokenizer("the old man saw a letter near the river in the morning and then went home")["input_ids"]
    features = [{"input_ids": ids, "token_type_ids": [0] * len(ids)}] * 2
    results = report.replaced_token_detection(model, tokenizer, features, seed=3)
    assert model.training  # restored
    for r in results:
        assert r["original"] == ids
        for orig, fake, masked, replaced in zip(r["original"], r["fake"], r["masked"], r["replaced"]):
            assert replaced == (fake != orig) and (masked or not replaced)
        assert any(r["masked"]) and r["discriminator"]
    assert results == report.replaced_token_detection(model, tokenizer, features, seed=3)  # reproducible


def test_curves_are_a_png(tmp_path):
    history = [{"step": s, "loss": 30 / s, "masked_lm_accuracy": 0.01 * s, "disc_auc": 0.5 + 0.01 * s}
               for s in range(1, 11)] + [{"step": 10, "eval_loss": 2.0, "eval_disc_auc": 0.6}]
    path = report.plot_curves(history, str(tmp_path / "curves.png"), {"eval_disc_auc": 0.5})
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert report.plot_curves([], str(tmp_path / "none.png")) is None
