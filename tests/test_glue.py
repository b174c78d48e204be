"""GLUE against the original (finetune/classification/*): readers, featurization, head, loss, metrics, submission files,
seeds, end to end."""

import json
import math
import os

import numpy as np
import pytest
import torch
from transformers import ElectraConfig, ElectraForPreTraining

import run_glue
from electra_hf import ElectraTrainer
from electra_hf.metrics.glue import glue_metrics
from electra_hf.tasks import (
    GLUE_TASKS,
    ElectraForClassification,
    double_unordered,
    featurize,
    get_task,
    load_task_splits,
    read_glue_tsv,
    truncate_pair,
)
from electra_hf.tasks.collapse import collapse_reason
from electra_hf.tasks.recipe import finetuning_recipe
from electra_hf.tasks.runner import choose_trial, summarize_trials

from .glue_fixture import write_glue

CLS, SEP = 101, 102


@pytest.fixture(scope="module")
def glue_dir(tmp_path_factory):
    return write_glue(str(tmp_path_factory.mktemp("glue") / "glue_data"), n_train=160, n_eval=48)


def test_readers_follow_each_tasks_columns(glue_dir):
    cola = read_glue_tsv(get_task("cola"), "train", glue_dir)  # no header: every line is a row
    assert len(cola) == 160 and cola[0]["text_b"] is None and cola[0]["label"] in (0, 1)
    first = open(os.path.join(glue_dir, "CoLA", "train.tsv")).readline().rstrip("\n").split("\t")
    assert (cola[0]["text_a"], cola[0]["label"]) == (first[3], int(first[1]))
    mrpc = read_glue_tsv(get_task("mrpc"), "validation", glue_dir)
    row = open(os.path.join(glue_dir, "MRPC", "dev.tsv")).read().split("\n")[1].split("\t")
    assert (mrpc[0]["text_a"], mrpc[0]["text_b"], mrpc[0]["label"]) == (row[3], row[4], int(row[0]))
    sts = read_glue_tsv(get_task("stsb"), "train", glue_dir)
    assert max(sts["label"]) <= 1.0 and any(0 < y < 1 for y in sts["label"])  # scores divided by 5
    mnli = load_task_splits(get_task("mnli"), glue_dir=glue_dir)
    assert set(mnli) == {"train", "validation_matched", "validation_mismatched", "test_matched", "test_mismatched"}
    assert set(mnli["validation_matched"]["label"]) <= {0, 1, 2}  # gold_label, the last column
    assert mnli["test_matched"][3]["idx"] == 3 and mnli["test_matched"][0]["label"] == -1
    ax = load_task_splits(get_task("ax"), glue_dir=glue_dir)
    assert list(ax) == ["test"] and len(ax["test"]) == 8
    qqp = read_glue_tsv(get_task("qqp"), "test", glue_dir)
    assert qqp[2]["idx"] == 2 and qqp[2]["text_b"]
    assert get_task("sst").name == "sst2" and get_task("STS-B").name == "stsb"


def test_the_originals_renamed_layout(tmp_path, glue_dir):
    os.rename(os.path.join(glue_dir, "SST-2"), os.path.join(glue_dir, "sst"))
    try:
        assert len(read_glue_tsv(get_task("sst2"), "train", glue_dir)) == 160
    finally:
        os.rename(os.path.join(glue_dir, "sst"), os.path.join(glue_dir, "SST-2"))


def test_malformed_rows_are_counted_and_named(tmp_path, caplog):
    folder = tmp_path / "RTE"
    folder.mkdir()
    rows = ["index\tsentence1\tsentence2\tlabel"] + [f"{i}\ta\tb\tentailment" for i in range(5)]
    rows += ["5\tonly two", "6\ta\tb\tmaybe"]
    (folder / "train.tsv").write_text("\n".join(rows) + "\n")
    data = read_glue_tsv(get_task("rte"), "train", str(tmp_path))
    assert len(data) == 5
    assert "skipped 2 malformed rows" in caplog.text and "line 7" in caplog.text and "'maybe'" in caplog.text
    with pytest.raises(ValueError, match="train.tsv: 2 malformed rows .*line 7"):
        read_glue_tsv(get_task("rte"), "train", str(tmp_path), max_bad_rows=1)
    (folder / "dev.tsv").write_text("")
    with pytest.raises(ValueError, match="dev.tsv is empty"):
        read_glue_tsv(get_task("rte"), "validation", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no validation file for qnli"):
        read_glue_tsv(get_task("qnli"), "validation", str(tmp_path))
    with pytest.raises(ValueError, match="unknown GLUE task 'colaa'"):
        get_task("colaa")


def test_pair_truncation_is_berts():
    assert truncate_pair([1, 2, 3, 4, 5], [6, 7], 5) == ([1, 2, 3], [6, 7])  # the longer loses its end
    assert truncate_pair([1, 2, 3], [4, 5, 6], 4) == ([1, 2], [4, 5])  # ties: the second first
    assert truncate_pair([1, 2], [3, 4, 5], 3) == ([1, 2], [3])  # 2+3: b pops, then the 2-2 tie pops b


def test_featurize_layout(tokenizer):
    out = featurize(["the house", "a b c d e f g h"], ["the river", None], tokenizer, 8)
    house, river = tokenizer.convert_tokens_to_ids(["house", "river"])
    the = tokenizer.convert_tokens_to_ids("the")
    assert out["input_ids"][0] == [CLS, the, house, SEP, the, river, SEP]
    assert out["token_type_ids"][0] == [0, 0, 0, 0, 1, 1, 1]
    assert len(out["input_ids"][1]) == 8 and out["input_ids"][1][-1] == SEP and set(out["token_type_ids"][1]) == {0}


def test_double_unordered(glue_dir):
    mrpc = read_glue_tsv(get_task("mrpc"), "train", glue_dir)
    doubled = double_unordered(mrpc)
    assert len(doubled) == 320
    assert (doubled[160]["text_a"], doubled[160]["text_b"]) == (mrpc[0]["text_b"], mrpc[0]["text_a"])
    assert doubled[160]["label"] == mrpc[0]["label"]
    assert GLUE_TASKS["mrpc"].double_unordered and GLUE_TASKS["stsb"].double_unordered
    assert not any(GLUE_TASKS[t].double_unordered for t in ("cola", "sst2", "qqp", "mnli", "qnli", "rte", "wnli"))


def test_the_head_is_dropout_and_one_glorot_layer(discriminator):
    model, info = ElectraForClassification.from_pretrained(discriminator, num_labels=3, output_loading_info=True)
    assert info["missing_keys"] == {"classifier.weight", "classifier.bias"}
    assert {name for name, _ in model.named_children()} == {"electra", "dropout", "classifier"}
    assert model.dropout.p == 0.1 and model.classifier.weight.shape == (3, 64)
    bound = math.sqrt(6 / (64 + 3))
    assert model.classifier.weight.abs().max() <= bound and model.classifier.weight.abs().max() > 0.8 * bound
    assert (model.classifier.bias == 0).all()
    reference = ElectraForPreTraining.from_pretrained(discriminator)
    assert torch.equal(model.electra.encoder.layer[0].output.dense.weight,
                       reference.electra.encoder.layer[0].output.dense.weight)


def test_losses_are_summed_over_the_batch(discriminator):
    model = ElectraForClassification.from_pretrained(discriminator, num_labels=2).eval()
    ids = torch.tensor([[CLS, 2000, 2001, SEP], [CLS, 2002, SEP, 0]])
    mask = (ids != 0).long()
    labels = torch.tensor([1, 0])
    out = model(ids, attention_mask=mask, labels=labels)
    per_example = torch.nn.functional.cross_entropy(out.logits, labels, reduction="none")
    assert out.loss.item() == pytest.approx(per_example.sum().item(), rel=1e-6)
    regression = ElectraForClassification.from_pretrained(discriminator, num_labels=1,
                                                          problem_type="regression").eval()
    out = regression(ids, attention_mask=mask, labels=torch.tensor([0.2, 0.8]))
    assert out.logits.shape == (2,)
    assert out.loss.item() == pytest.approx(((out.logits - torch.tensor([0.2, 0.8])) ** 2).sum().item(), rel=1e-6)


def test_metrics_by_hand():
    labels, predictions = np.array([1, 1, 1, 0, 0, 0, 1, 0]), np.array([1, 1, 0, 0, 0, 1, 1, 0])
    tp, tn, fp, fn = 3, 3, 1, 1
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    m = glue_metrics(("mcc", "accuracy", "f1"), predictions, labels)
    assert m == pytest.approx({"mcc": 100 * mcc, "accuracy": 75.0, "f1": 100 * 2 * 3 / (2 * 3 + 1 + 1)})
    y, p = np.array([0.0, 0.2, 0.4, 1.0]), np.array([0.1, 0.1, 0.5, 0.9])
    r = np.sum((y - y.mean()) * (p - p.mean())) / np.sqrt(np.sum((y - y.mean()) ** 2) * np.sum((p - p.mean()) ** 2))
    m = glue_metrics(("pearson", "spearman"), p, y)
    # spearman: ranks of y (1,2,3,4) and p (1.5,1.5,3,4)
    rank_p, rank_y = np.array([1.5, 1.5, 3, 4]), np.arange(1, 5)
    rho = np.corrcoef(rank_p, rank_y)[0, 1]
    assert m == pytest.approx({"pearson": 100 * r, "spearman": 100 * rho, "mse": np.mean((y - p) ** 2)})


def test_recipes():
    assert finetuning_recipe("code", 256, 3) == {"learning_rate": 1e-4, "layerwise_lr_decay": 0.8,
                                                 "weight_decay": 0.01, "warmup_steps": 0.1,
                                                 "per_device_train_batch_size": 32, "num_train_epochs": 3}
    assert finetuning_recipe("paper", 256, 10)["learning_rate"] == 3e-4
    assert finetuning_recipe("paper", 256, 10)["weight_decay"] == 0.0
    assert finetuning_recipe("code", 1024, 3)["layerwise_lr_decay"] == 0.9
    assert finetuning_recipe("code", 1024, 3)["learning_rate"] == 5e-5
    assert (GLUE_TASKS["rte"].epochs, GLUE_TASKS["stsb"].epochs, GLUE_TASKS["cola"].epochs) == (10, 10, 3)


def test_trial_summaries():
    trials = [{"accuracy": 80.0, "mse": 0.3}, {"accuracy": 84.0, "mse": 0.1}, {"accuracy": 82.0, "mse": 0.2}]
    s = summarize_trials(trials)
    assert s["accuracy"] == pytest.approx({"mean": 82.0, "median": 82.0, "std": 2.0, "best": 84.0, "worst": 80.0,
                                           "n": 3})
    assert (s["mse"]["best"], s["mse"]["worst"]) == (0.1, 0.3)
    assert (choose_trial(trials, "accuracy"), choose_trial(trials, "accuracy", "median"),
            choose_trial(trials, "mse"), choose_trial(trials, "accuracy", "first")) == (1, 2, 1, 0)


def glue_args(glue_dir, discriminator, output_dir, task, **extra):
    args = {"model_name_or_path": discriminator, "task_name": task, "glue_dir": glue_dir, "output_dir": str(output_dir),
            "learning_rate": 2e-3, "num_train_epochs": 8, "per_device_train_batch_size": 16, "report_to": "none",
            "disable_tqdm": "true", "use_cpu": "true", "max_seq_length": 32, "warmup_steps": 0.1}
    args.update(extra)
    return [part for key, value in args.items() if value is not None for part in (f"--{key}", str(value))]


@pytest.mark.parametrize("task, metric, chance", [("sst2", "accuracy", 50.0), ("mrpc", "accuracy", 50.0),
                                                  ("stsb", "spearman", 0.0)])
def test_end_to_end_beats_chance(glue_dir, discriminator, tmp_path, task, metric, chance):
    results = run_glue.main(glue_args(glue_dir, discriminator, tmp_path, task))
    assert results[task]["trials"][0][metric] > chance + 25
    name = GLUE_TASKS[task].submission["test"]
    lines = (tmp_path / "submission" / name).read_text().splitlines()
    assert lines[0] == "index\tprediction" and len(lines) == 9
    index, prediction = lines[1].split("\t")
    assert index == "0"
    if task == "stsb":
        assert 0.0 <= float(prediction) <= 5.0
    else:
        assert prediction in GLUE_TASKS[task].labels
    loaded = ElectraForClassification.from_pretrained(tmp_path / task / "trial_0")  # saved with its head
    assert loaded.config.problem_type == ("regression" if task == "stsb" else "single_label_classification")


def test_mnli_with_seeds_and_the_diagnostic_set(glue_dir, discriminator, tmp_path):
    results = run_glue.main(glue_args(glue_dir, discriminator, tmp_path, "mnli", num_trials=2, num_train_epochs=2,
                                      max_train_samples=64))
    summary = results["mnli"]["summary"]
    assert set(summary) == {"accuracy", "mm_accuracy"} and summary["accuracy"]["n"] == 2
    assert sorted(os.listdir(tmp_path / "submission")) == ["AX.tsv", "MNLI-m.tsv", "MNLI-mm.tsv"]
    assert (tmp_path / "submission" / "AX.tsv").read_text().splitlines()[1].split("\t")[1] in (
        "contradiction", "entailment", "neutral")
    chosen = results["mnli"]["chosen_trial"]
    assert [n for n in os.listdir(tmp_path / "mnli") if n.startswith("trial_")] == [f"trial_{chosen}"]  # pruned
    assert sorted(os.listdir(tmp_path / "mnli" / f"trial_{chosen}" / "predictions")) == ["MNLI-m.tsv", "MNLI-mm.tsv"]
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["mnli"]["chosen_trial"] == chosen


def test_the_recipe_and_layerwise_groups_reach_the_trainer(glue_dir, discriminator, tmp_path, monkeypatch):
    seen = {}
    original_train = ElectraTrainer.train

    def spy(self, *args, **kwargs):
        seen["args"] = self.args
        seen["lrs"] = sorted({round(g["lr"] / self.args.learning_rate, 6)
                              for g in self.create_optimizer().param_groups})
        return original_train(self, *args, **kwargs)

    monkeypatch.setattr(ElectraTrainer, "train", spy)
    run_glue.main(["--model_name_or_path", discriminator, "--task_name", "rte", "--glue_dir", glue_dir,
                   "--output_dir", str(tmp_path), "--report_to", "none", "--use_cpu", "true", "--max_steps", "1"])
    args = seen["args"]
    assert (args.learning_rate, args.layerwise_lr_decay, args.num_train_epochs, args.weight_decay,
            args.per_device_train_batch_size, args.warmup_steps) == (1e-4, 0.8, 10, 0.01, 32, 0.1)
    assert not args.adam_bias_correction and args.adam_epsilon == 1e-6
    # 2 layers: embeddings 0.8^4, layer 0 0.8^3, layer 1 (top) 0.8^2, head 1
    assert seen["lrs"] == sorted(round(0.8 ** k, 6) for k in (4, 3, 2, 0))


def test_bad_input(glue_dir, discriminator, tmp_path, tokenizer):
    with pytest.raises(ValueError, match="unknown GLUE task 'nope'"):
        run_glue.main(glue_args(glue_dir, discriminator, tmp_path, "nope"))
    other = tmp_path / "other_vocab"
    ElectraForPreTraining(ElectraConfig(vocab_size=500, embedding_size=16, hidden_size=16, num_hidden_layers=1,
                                        num_attention_heads=1, intermediate_size=32)).save_pretrained(other)
    with pytest.raises(ValueError, match="has vocab_size 500"):
        run_glue.main(glue_args(glue_dir, str(other), tmp_path, "rte", tokenizer_name=discriminator))


def test_hub_labels_are_mapped_by_name(monkeypatch):
    from datasets import ClassLabel, Dataset, Features, Value

    def fake_load_dataset(name, config, split, cache_dir=None):
        assert (name, config) == ("nyu-mll/glue", "mnli")
        features = Features({"premise": Value("string"), "hypothesis": Value("string"), "idx": Value("int32"),
                             "label": ClassLabel(names=["entailment", "neutral", "contradiction"])})
        return Dataset.from_dict({"premise": ["p"] * 3, "hypothesis": ["h"] * 3, "idx": [0, 1, 2],
                                  "label": [0, 1, 2]}, features=features)

    monkeypatch.setattr("electra_hf.tasks.glue.datasets.load_dataset", fake_load_dataset)
    from electra_hf.tasks import load_glue_hub

    rows = load_glue_hub(get_task("mnli"), "validation_matched")
    # the task's order is the original's: contradiction, entailment, neutral
    assert rows["label"] == [1, 2, 0] and rows[0]["text_a"] == "p" and rows[0]["text_b"] == "h"


@pytest.mark.parametrize("name", [n for n in GLUE_TASKS if n != "ax"])
def test_every_readers_first_rows(glue_dir, name):
    task = get_task(name)
    for split in ("train", *task.eval_splits, *task.test_splits):
        data = read_glue_tsv(task, split, glue_dir)
        folder = task.glue_dir
        path = os.path.join(glue_dir, folder, split.replace("validation", "dev") + ".tsv")
        lines = [line.split("\t") for line in open(path).read().splitlines()]
        columns = task.test if split.startswith("test") else task.train
        first = lines[1 if columns.header else 0]
        assert data[0]["text_a"] == first[columns.a]
        assert data[0]["text_b"] == (first[columns.b] if columns.b is not None else None)
        assert len(data) == len(lines) - columns.header
        if columns.label is not None:
            raw = first[columns.label]
            expected = float(raw) / 5 if task.is_regression else task.labels.index(raw)
            assert data[0]["label"] == pytest.approx(expected)


def test_all_tasks_write_every_submission_file(glue_dir, discriminator, tmp_path):
    run_glue.main(glue_args(glue_dir, discriminator, tmp_path, "all", max_steps=1, num_train_epochs=1))
    assert sorted(os.listdir(tmp_path / "submission")) == sorted(
        ["CoLA.tsv", "SST-2.tsv", "MRPC.tsv", "STS-B.tsv", "QQP.tsv", "MNLI-m.tsv", "MNLI-mm.tsv", "QNLI.tsv",
         "RTE.tsv", "WNLI.tsv", "AX.tsv"])
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results) == {"cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli"}
    assert "mcc" in results["cola"]["summary"] and "f1" in results["qqp"]["summary"]


def test_a_custom_task_from_csv_files(glue_dir, discriminator, tmp_path):
    import csv

    sst = {split: read_glue_tsv(get_task("sst2"), split, glue_dir) for split in ("train", "validation")}
    for split, data in sst.items():
        with open(tmp_path / f"{split}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["review", "stars"])
            writer.writerows((row["text_a"], ["low", "high"][row["label"]]) for row in data)
    with open(tmp_path / "test.csv", "w", newline="") as f:
        csv.writer(f).writerows([["review"], ["the good house"], ["a bad road"]])
    results = run_glue.main(glue_args(None, discriminator, tmp_path / "out", "custom",
                                      train_file=tmp_path / "train.csv", validation_file=tmp_path / "validation.csv",
                                      test_file=tmp_path / "test.csv", sentence1_key="review", label_key="stars"))
    assert results["custom"]["trials"][0]["accuracy"] > 75
    lines = (tmp_path / "out" / "submission" / "custom.tsv").read_text().splitlines()
    assert lines[1:] == ["0\thigh", "1\tlow"]


def test_a_collapsed_trial_is_flagged_and_restarted(glue_dir, discriminator, tmp_path, capsys):
    """A learning rate far too high drives every trial to one class: each is flagged, one restart is made with the
    next seed, the summary reports both ways; a healthy run is not flagged."""
    healthy = run_glue.main(glue_args(glue_dir, discriminator, tmp_path / "ok", "sst2"))["sst2"]
    assert "collapsed" not in healthy and healthy["trials"][0]["accuracy"] > 75
    results = run_glue.main(glue_args(glue_dir, discriminator, tmp_path / "bad", "sst2", learning_rate=3.0,
                                      num_train_epochs=2, restart_collapsed=1))["sst2"]
    assert len(results["trials"]) == 2 and set(results["collapsed"]) == {"0", "1"}
    assert "of its dev predictions are class" in results["collapsed"]["0"]
    assert results["summary"]["accuracy"]["n"] == 2 and results["summary_without_collapsed"] == {}
    assert "2 of 2 trials collapsed" in capsys.readouterr().out
    recorded = json.loads((tmp_path / "bad" / "sst2" / "trials.json").read_text())
    assert [recorded[t]["settings"]["seed"] for t in ("0", "1")] == [42, 43] and recorded["1"]["collapsed"]


def test_collapse_rules():
    labels = np.array([0, 1] * 50)
    assert "100% of its dev predictions are class 1" in collapse_reason(np.ones(100), labels, "accuracy", 50.0, False)
    mixed = (np.arange(100) % 3 == 0).astype(int)  # a third ones: not one class, but 55% is within 2 SE of 50%
    assert "within noise" in collapse_reason(mixed, labels, "accuracy", 55.0, False)
    assert collapse_reason(labels, labels, "accuracy", 100.0, False) is None
    skewed = np.array([0] * 97 + [1] * 3)  # the labels are one class: predicting it is no collapse by itself
    assert collapse_reason(np.zeros(100), skewed, "accuracy", 97.0, False).startswith("its accuracy 97.00 is within")
    scores = np.linspace(0, 1, 100)
    assert "constant" in collapse_reason(np.full(100, 0.4), scores, "spearman", float("nan"), True)
    assert collapse_reason(scores + 0.01, scores, "spearman", 100.0, True) is None
    assert "within noise" in collapse_reason(np.random.default_rng(0).random(100), scores, "spearman", 5.0, True)
