"""benchmarks/downstream.py's plumbing, in seconds: the task it builds, every arm pre-trained, fine-tuned and
reported. Its accuracies are not checked here (a few steps teach nothing); benchmarks/RESULTS.md has the run."""

import csv
import json
import os
import re

import pytest

from benchmarks import downstream
from electra_hf.data.corpus import BUNDLED_CORPUS_DIR


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_novels_task_keeps_its_passages_out_of_pre_training(tmp_path):
    files = downstream.build_novel_task(BUNDLED_CORPUS_DIR, str(tmp_path))
    train, validation = rows(files["train"]), rows(files["validation"])
    assert len(train) > 1000 and len(validation) > 500
    assert {r["label"] for r in validation} == {os.path.splitext(f)[0] for f in os.listdir(BUNDLED_CORPUS_DIR)}
    corpus = " ".join(open(os.path.join(files["pretrain_dir"], f), encoding="utf-8").read()
                      for f in os.listdir(files["pretrain_dir"]))
    corpus = " ".join(corpus.split())
    for row in validation[::50] + train[::100]:  # no passage (its names aside) is in the pre-training text
        longest_plain_run = max(re.split(r"\bX\b", row["text"]), key=len).strip(" ,.;")
        assert longest_plain_run and longest_plain_run not in corpus
    assert not {r["text"] for r in train} & {r["text"] for r in validation}
    names = {"Elizabeth", "Darcy", "Emma", "Woodhouse", "Bath"}
    assert not any(set(re.findall(r"[A-Za-z]+", r["text"])) & names for r in train + validation)


def test_capitalised_words_are_names_not_sentence_starts():
    texts = ["The lady saw Darcy.", "Then Darcy left. The end.", "Darcy smiled; the lady did not."]
    assert downstream.capitalised_words(texts, min_count=2) == {"Darcy"}


def seconds_long(tmp_path, *argv):
    """downstream.main on a tiny encoder, a few examples and one epoch: seconds, not minutes."""
    tiny = json.dumps({"num_hidden_layers": 1, "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 1,
                       "embedding_size": 32})
    return downstream.main([*argv, "--max_train_examples", "48", "--max_validation_examples", "24",
                            "--finetune_epochs", "1", "--pretrain_eval_size", "16", "--config_overrides", tiny,
                            "--output_dir", str(tmp_path / "out")])


@pytest.mark.slow
def test_every_arm_runs_and_is_reported(tmp_path):
    report = seconds_long(tmp_path, "--budget_minutes", "0.02", "--calibration_steps", "2", "--seeds", "2",
                          "--json", str(tmp_path / "r.json"))
    assert list(report["arms"]) == ["electra", "mlm", "random"]
    for arm, row in report["arms"].items():
        assert len(row["accuracies"]) == 2 and all(0 <= a <= 100 for a in row["accuracies"])
        assert row["mean"] == pytest.approx(sum(row["accuracies"]) / 2)
    electra, mlm = report["arms"]["electra"], report["arms"]["mlm"]
    # equal budgets: steps follow each arm's measured cost
    for row in (electra, mlm):
        assert row["steps"] == max(1, int(report["budget_seconds_per_arm"] / row["seconds_per_step"]))
    assert "eval_disc_auc" in electra["pretraining_metrics"] and "eval_disc_auc" not in mlm["pretraining_metrics"]
    assert json.loads((tmp_path / "r.json").read_text())["table"] == report["table"]
    assert "| majority class |" in report["table"]
    # the arms share one vocabulary, learned on the pre-training corpus
    tokenizers = [json.loads((tmp_path / "out" / "pretraining" / arm / "tokenizer.json").read_text())["model"]["vocab"]
                  for arm in ("random",)] + [
        json.loads((tmp_path / "out" / "pretraining" / arm / half / "tokenizer.json").read_text())["model"]["vocab"]
        for arm, half in (("electra", "discriminator"), ("mlm", "generator"))]
    assert tokenizers[0] == tokenizers[1] == tokenizers[2]


@pytest.mark.slow
def test_set_steps_replace_the_calibrated_budget(tmp_path):
    """--pretrain_steps N: each pre-training arm trains N steps, with no calibration runs."""
    report = seconds_long(tmp_path, "--arms", "electra", "--pretrain_steps", "3", "--seeds", "1")
    row = report["arms"]["electra"]
    assert list(report["arms"]) == ["electra"] and row["steps"] == 3 and row["seconds_per_step"] is None
    state = json.loads((tmp_path / "out" / "pretraining" / "electra" / "trainer_state.json").read_text())
    assert state["global_step"] == 3 and report["pretrain_steps"] == 3
