"""run_qa.py end to end on the learnable fixture: SQuAD 2.0 json and MRQA jsonl, training, evaluation with the
official scores, predictions for questions without answers, trials, arguments and bad input."""

import json
import os

import pytest

import run_qa

from .qa_fixture import make_questions, write_mrqa, write_squad

FAST = ["--max_seq_length", "64", "--max_query_length", "16", "--doc_stride", "32", "--learning_rate", "1e-3",
        "--num_train_epochs", "3", "--per_device_train_batch_size", "16", "--report_to", "none",
        "--disable_tqdm", "true", "--use_cpu", "true", "--dataloader_num_workers", "0"]


@pytest.fixture(scope="module")
def squad_run(tmp_path_factory, discriminator):
    folder = tmp_path_factory.mktemp("squad")
    dev, test = make_questions(60, seed=1, unanswerable=0.3), make_questions(20, seed=2)
    files = {"train": write_squad(str(folder / "train.json"), make_questions(300, seed=0, unanswerable=0.3)),
             "dev": write_squad(str(folder / "dev.json"), dev),
             "test": write_squad(str(folder / "test.json"), [{**q, "answer": None} for q in test])}
    output = str(folder / "out")
    results = run_qa.main(["--model_name_or_path", discriminator, "--train_file", files["train"], "--validation_file",
                           files["dev"], "--output_dir", output, *FAST])
    return results, files, output, dev, test


def test_squad_v2_learns_and_beats_the_trivial_baseline(squad_run):
    results, _, output, dev, _ = squad_run
    assert results["scoring"] == "squad_v2"  # detected: some questions have no answer
    metrics = results["trials"][0]
    no_answer_baseline = 100 * sum(q["answer"] is None for q in dev) / len(dev)  # "" for every question
    assert metrics["exact"] > no_answer_baseline + 30 and metrics["HasAns_f1"] > 60 and metrics["NoAns_exact"] > 50
    trial = os.path.join(output, "trial_0")
    predictions = json.load(open(os.path.join(trial, "validation", "predictions.json")))
    null_odds = json.load(open(os.path.join(trial, "validation", "null_odds.json")))
    nbest = json.load(open(os.path.join(trial, "validation", "nbest_predictions.json")))
    assert set(predictions) == set(null_odds) == set(nbest) == {q["id"] for q in dev}
    assert all((predictions[q] == "") == (null_odds[q] > -2.75) for q in predictions)
    assert os.path.exists(os.path.join(trial, "model.safetensors"))
    assert json.load(open(os.path.join(output, "results.json")))["chosen_trial"] == 0


def test_predict_with_the_fine_tuned_model(squad_run, tmp_path):
    _, files, output, _, test = squad_run
    results = run_qa.main(["--model_name_or_path", os.path.join(output, "trial_0"), "--do_predict", "--test_file",
                           files["test"], "--output_dir", str(tmp_path), *FAST])  # SQuAD 2.0, as trained
    predictions = json.load(open(tmp_path / "trial_0" / "test" / "predictions.json"))
    assert os.path.exists(tmp_path / "trial_0" / "test" / "null_odds.json")
    assert len(predictions) == 20 and "trials" not in results  # nothing to score
    right = sum(predictions[q["id"]] == q["answer"]["text"] for q in test)  # the file itself has no answers
    assert right >= 15  # the trained head was loaded, not a fresh one
    assert not os.path.exists(tmp_path / "trial_0" / "model.safetensors")  # no training, no new model


def test_mrqa_jsonl_and_trials(tmp_path, discriminator):
    train = write_mrqa(str(tmp_path / "train.jsonl"), make_questions(300, seed=5))
    dev = write_mrqa(str(tmp_path / "dev.jsonl"), make_questions(40, seed=6))
    config = tmp_path / "args.json"  # one JSON file as the only argument
    args = dict(zip(FAST[::2], FAST[1::2]))
    config.write_text(json.dumps({"model_name_or_path": discriminator, "train_file": train, "validation_file": dev,
                                  "output_dir": str(tmp_path / "out"), "num_trials": 2, "joint_prediction": False,
                                  **{k[2:]: json.loads(v) if v[0].isdigit() or v in ("true", "false") else v
                                     for k, v in args.items()}}))
    results = run_qa.main([str(config)])
    assert results["scoring"] == "mrqa" and len(results["trials"]) == 2
    assert results["summary"]["exact_match"]["best"] > 50  # references are upper case: normalisation matters
    chosen = results["chosen_trial"]
    assert set(os.listdir(tmp_path / "out")) == {f"trial_{chosen}", "results.json", "trials.json"}  # the other removed
    assert json.load(open(tmp_path / "out" / f"trial_{chosen}" / "config.json"))["qa_joint_prediction"] is False


def test_explicit_arguments_in_any_spelling_win_over_the_recipe():
    _, head_args, _, _, training_args, explicit = run_qa.parse_qa_arguments(
        ["--model_name_or_path", "m", "--no_joint_prediction", "--learning-rate", "3e-4", "--answerable_w", "0.1"])
    assert {"joint_prediction", "learning_rate", "answerable_weight"} <= explicit and "num_train_epochs" not in explicit
    assert head_args.joint_prediction is False and training_args.learning_rate == 3e-4
    assert training_args.do_train and training_args.do_eval  # neither given: train and evaluate


def test_bad_arguments_fail_clearly(discriminator, tmp_path):
    with pytest.raises(ValueError, match="--do_predict needs --test_file"):
        run_qa.main(["--model_name_or_path", discriminator, "--do_predict", "--output_dir", str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="--train_file x.json: no such file"):
        run_qa.main(["--model_name_or_path", discriminator, "--train_file", "x.json", "--output_dir", str(tmp_path)])
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="max_position_embeddings"):
        run_qa.main(["--model_name_or_path", discriminator, "--train_file", str(tmp_path / "x.json"),
                     "--max_seq_length", "4096", "--output_dir", str(tmp_path)])
    with pytest.raises(ValueError, match="could not load 'no-such/squad'"):
        run_qa.main(["--model_name_or_path", discriminator, "--dataset_name", "no-such/squad",
                     "--output_dir", str(tmp_path)])
