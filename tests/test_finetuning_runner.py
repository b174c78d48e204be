"""The one fine-tuning loop (electra_hf/tasks/runner.py) and the conventions of transformers' examples that the
fine-tuning scripts follow: a Task of one's own, a killed run resumed where it stopped, --overwrite_output_dir,
a finished run not trained again, --push_to_hub's repository name, a Hub name with no network failing at once,
a task of one's own without --task_name, bare boolean flags, defaults in --help."""

import csv
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file

import run_glue
import run_qa
from electra_hf import ElectraTrainer
from electra_hf.cli import FineTuningArguments
from electra_hf.tasks import ClassificationTask, ElectraForClassification, get_task, read_glue_tsv
from electra_hf.tasks.runner import Task, hub_repo_name, run_trials
from electra_hf.training_args import ElectraTrainingArguments

from .glue_fixture import write_glue

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def glue_dir(tmp_path_factory):
    return write_glue(str(tmp_path_factory.mktemp("glue") / "glue_data"), n_train=96, n_eval=32)


def sst2_args(glue_dir, model, output_dir, *extra):
    return ["--model_name_or_path", model, "--task_name", "sst2", "--glue_dir", glue_dir, "--output_dir",
            str(output_dir), "--learning_rate", "2e-3", "--max_steps", "8", "--save_steps", "2",
            "--per_device_train_batch_size", "16", "--max_seq_length", "32", "--report_to", "none",
            "--disable_tqdm", "--use_cpu", "--num_trials", "2", "--keep_all_trials", *extra]


def count_training(monkeypatch, stop_at: tuple[int, int] | None = None) -> list[tuple[int, str | None]]:
    """Record (seed, checkpoint) of each train() call; with `stop_at` (seed, step), the run dies there as a
    killed one would (after the checkpoints saved so far)."""
    calls, original_train, original_step = [], ElectraTrainer.train, ElectraTrainer.training_step

    def train(self, resume_from_checkpoint=None, **kwargs):
        calls.append((self.args.seed, resume_from_checkpoint and os.path.basename(resume_from_checkpoint)))
        return original_train(self, resume_from_checkpoint=resume_from_checkpoint, **kwargs)

    def training_step(self, *args, **kwargs):
        if stop_at and (self.args.seed, self.state.global_step) == stop_at:
            raise KeyboardInterrupt("killed")
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(ElectraTrainer, "train", train)
    monkeypatch.setattr(ElectraTrainer, "training_step", training_step)
    return calls


def weights(trial_dir):
    return load_file(os.path.join(trial_dir, "model.safetensors"))


def test_a_killed_run_resumes_where_it_stopped_and_ends_as_an_uninterrupted_one(glue_dir, discriminator, tmp_path,
                                                                                  monkeypatch):
    whole = run_glue.main(sst2_args(glue_dir, discriminator, tmp_path / "whole"))

    killed = tmp_path / "killed"
    calls = count_training(monkeypatch, stop_at=(43, 5))  # trial 1 (seed 43) dies after its step-4 checkpoint
    with pytest.raises(KeyboardInterrupt):
        run_glue.main(sst2_args(glue_dir, discriminator, killed))
    assert calls == [(42, None), (43, None)]
    assert list(json.loads((killed / "sst2" / "trials.json").read_text())) == ["0"]
    monkeypatch.undo()

    calls = count_training(monkeypatch)
    resumed = run_glue.main(sst2_args(glue_dir, discriminator, killed))
    assert calls == [(43, "checkpoint-4")]  # trial 0 is not trained again; trial 1 continues from its checkpoint
    assert resumed["sst2"]["trials"] == whole["sst2"]["trials"]
    for trial in ("trial_0", "trial_1"):
        a, b = weights(tmp_path / "whole" / "sst2" / trial), weights(killed / "sst2" / trial)
        assert all(torch.equal(a[k], b[k]) for k in a)
        assert not [n for n in os.listdir(killed / "sst2" / trial) if n.startswith("checkpoint-")]

    calls.clear()
    again = run_glue.main(sst2_args(glue_dir, discriminator, killed))  # finished: nothing is trained
    assert calls == [] and again["sst2"]["trials"] == whole["sst2"]["trials"]
    run_glue.main(sst2_args(glue_dir, discriminator, killed, "--overwrite_output_dir"))
    assert calls == [(42, None), (43, None)]  # afresh
    with pytest.raises(ValueError, match=r"trial 0 of a different run: learning_rate 0.002 \(now 0.001\)"):
        run_glue.main(sst2_args(glue_dir, discriminator, killed, "--learning_rate", "1e-3"))


class KeywordTask(Task):
    """A task written outside the package: does the sentence contain "river"?"""

    name, model_class, epochs, headline = "keyword", ElectraForClassification, 6, "accuracy"

    def __init__(self, rows: dict[str, list[str]]):
        self.rows = rows

    def model_kwargs(self):
        return {"num_labels": 2}

    def featurize(self, tokenizer):
        def encode(texts):
            encoded = tokenizer(texts, truncation=True, max_length=16)
            return Dataset.from_dict({**encoded, "labels": [int("river" in t) for t in texts]})

        return {split: encode(texts) for split, texts in self.rows.items()}

    def evaluate(self, trainer, features, trial_dir):
        output = trainer.predict(features["validation"])
        return {"accuracy": 100.0 * float(np.mean(output.predictions.argmax(-1) == output.label_ids))}


def test_a_task_of_ones_own_runs_through_the_same_loop(discriminator, tokenizer, tmp_path):
    rng = np.random.default_rng(0)
    words = ["house", "river", "road", "garden", "letter", "ship"]
    rows = {split: [" ".join(rng.choice(words, 4)) for _ in range(n)] for split, n in (("train", 96), ("validation", 32))}
    args = ElectraTrainingArguments(output_dir=str(tmp_path), do_train=True, learning_rate=3e-3, report_to="none",
                                    per_device_train_batch_size=16, use_cpu=True, disable_tqdm=True,
                                    save_strategy="no")
    results = run_trials(KeywordTask(rows), discriminator, tokenizer, args, {"learning_rate"},
                         FineTuningArguments(num_trials=2))
    assert results["summary"]["accuracy"]["n"] == 2 and results["summary"]["accuracy"]["best"] > 80
    assert json.loads((tmp_path / "results.json").read_text())["chosen_trial"] == results["chosen_trial"]
    # the recipe filled what was not given: the task's epochs, layer-wise decay; the given learning rate kept
    saved = torch.load(os.path.join(results["chosen_dir"], "training_args.bin"), weights_only=False)
    assert (saved.num_train_epochs, saved.layerwise_lr_decay, saved.learning_rate) == (6, 0.8, 3e-3)


def test_push_to_hub_names_the_repository_after_the_model_and_task(glue_dir, discriminator, tmp_path, monkeypatch):
    pushed = []
    monkeypatch.setattr("electra_hf.loading.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setattr("electra_hf.loading.hub_reachable", lambda: True)
    monkeypatch.setattr("electra_hf.tasks.runner.push_folder_to_hub",
                        lambda folder, repo, **kw: pushed.append((os.path.basename(folder), repo)) or f"hub/{repo}")
    results = run_glue.main(sst2_args(glue_dir, discriminator, tmp_path, "--push_to_hub", "--max_steps", "1"))
    chosen = results["sst2"]["chosen_trial"]
    run_name = os.path.basename(os.path.dirname(discriminator))  # the fixture's folder, above discriminator/
    assert pushed == [(f"trial_{chosen}", f"{run_name}-finetuned-sst2")]  # once: the chosen trial, not "trial_0"
    assert hub_repo_name("runs/electra-small/discriminator", "rte") == "electra-small-finetuned-rte"
    pushed.clear()
    run_glue.main(sst2_args(glue_dir, discriminator, tmp_path / "b", "--push_to_hub", "--max_steps", "1",
                            "--hub_model_id", "me/my-sst2"))
    assert [repo for _, repo in pushed] == ["me/my-sst2"]


def test_no_network_fails_at_once_in_one_line(discriminator, tmp_path, monkeypatch):
    monkeypatch.setattr("electra_hf.tasks.runner.run_trials", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ValueError, match="--push_to_hub needs the Hub .* HF_HUB_OFFLINE forbids"):
        run_glue.main(["--model_name_or_path", discriminator, "--task_name", "rte", "--push_to_hub",
                       "--output_dir", str(tmp_path)])
    with pytest.raises(ValueError, match="'google/electra-small-discriminator' is not a local directory, and "
                                         "HF_HUB_OFFLINE is set but the Hub cache does not hold it"):
        run_qa.main(["--model_name_or_path", "google/electra-small-discriminator", "--train_file", "x.json"])
    monkeypatch.setattr("electra_hf.loading.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setattr("electra_hf.loading.hub_reachable", lambda: False)
    with pytest.raises(ValueError, match=r"cannot be reached: pass a local directory instead, or set HF_HUB_OFFLINE"):
        run_glue.main(["--model_name_or_path", "google/electra-small-discriminator", "--task_name", "rte"])
    with pytest.raises(ValueError, match="--dataset_name 'nyu-mll/glue' is not a local directory and the Hub"):
        run_glue.main(["--model_name_or_path", discriminator, "--task_name", "rte", "--output_dir", str(tmp_path)])

    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf"))  # nothing listens there
    started = time.time()
    run = subprocess.run([sys.executable, os.path.join(ROOT, "run_glue.py"), "--model_name_or_path",
                          "google/electra-small-discriminator", "--task_name", "rte"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and time.time() - started < 60
    assert run.stderr.strip().splitlines()[-1].startswith("run_glue.py: error: --model_name_or_path "
                                                          "'google/electra-small-discriminator' is not a local")
    assert "Traceback" not in run.stderr


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return str(path)


def test_train_and_validation_files_without_task_name_make_a_task_of_ones_own(glue_dir, discriminator, tmp_path,
                                                                           monkeypatch):
    seen = {}
    monkeypatch.setattr("electra_hf.tasks.runner.run_trials",
                        lambda task, *a, **k: seen.setdefault("task", task) and {})
    mrpc = {s: read_glue_tsv(get_task("mrpc"), s, glue_dir) for s in ("train", "validation")}
    files = {s: write_csv(tmp_path / f"{s}.csv", ["id", "sentence2", "label", "sentence1"],
                          [(r["idx"], r["text_b"], r["label"], r["text_a"]) for r in rows]) for s, rows in mrpc.items()}
    run_glue.main(["--model_name_or_path", discriminator, "--train_file", files["train"], "--validation_file",
                   files["validation"], "--output_dir", str(tmp_path / "out")])
    task = seen.pop("task")
    assert isinstance(task, ClassificationTask) and task.definition.hub_keys == ("sentence1", "sentence2")
    assert task.splits["train"][0]["text_a"] == mrpc["train"][0]["text_a"] and task.definition.labels == ("0", "1")

    scores = write_csv(tmp_path / "s.csv", ["text", "other", "label"], [("a b", "c", 0.5), ("d", "e", 0.25)])
    run_glue.main(["--model_name_or_path", discriminator, "--train_file", scores, "--validation_file", scores,
                   "--output_dir", str(tmp_path / "out2")])
    task = seen.pop("task")  # no sentence1/sentence2: the first two other columns; float labels: a regression
    assert task.definition.hub_keys == ("text", "other") and task.definition.is_regression

    with pytest.raises(ValueError, match="name a GLUE task .* or give a task of your own"):
        run_glue.main(["--model_name_or_path", discriminator, "--output_dir", str(tmp_path / "out3")])


def test_boolean_flags_work_bare_and_help_shows_defaults_without_loading_models():
    _, _, data_args, *_ = run_qa.parse_qa_arguments(["--model_name_or_path", "m", "--version_2_with_negative",
                                                     "--max_seq_length", "384"])
    assert data_args.version_2_with_negative is True and data_args.max_seq_length == 384
    _, data_args, *_ = run_glue.parse_glue_arguments(["--model_name_or_path", "m", "--double_unordered"])
    assert data_args.double_unordered is True
    _, data_args, *_ = run_glue.parse_glue_arguments(["--model_name_or_path", "m"])
    assert data_args.double_unordered is None  # not given: the task decides
    for script, help_line in (("run_glue", "Truncation length (the original: 128). (default: 128)"),
                              ("run_pretraining", "(default: demo)")):
        code = (f"import sys, {script}\nsys.argv = ['{script}.py', '--help']\ntry:\n    {script}.main()\n"
                "except SystemExit:\n    pass\nprint(sorted(m for m in ('datasets', 'electra_hf.modeling', "
                "'transformers.trainer') if m in sys.modules))")
        run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert help_line in " ".join(run.stdout.split())
        assert run.stdout.strip().splitlines()[-1] == "[]"  # --help loads no data library, no model, no Trainer
