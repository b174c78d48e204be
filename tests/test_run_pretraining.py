"""run_pretraining.py end to end on a small corpus: outputs, exact resume, checkpoints, continuing, Hub push."""

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest
import torch
from transformers import AutoTokenizer, ElectraForMaskedLM, ElectraForPreTraining

import run_pretraining
from electra_hf import ElectraPretrainingModel

from .conftest import synthetic_sentences

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    sentences = synthetic_sentences(400)
    (folder / "c.txt").write_text("\n\n".join("\n".join(sentences[i:i + 4]) for i in range(0, 400, 4)))
    return folder


def args_for(corpus, output_dir, **overrides):
    args = {"preset": "tiny", "train_files": str(corpus / "c.txt"), "output_dir": str(output_dir), "max_steps": 6,
            "save_steps": 3, "eval_steps": 3, "logging_steps": 1, "per_device_train_batch_size": 4,
            "per_device_eval_batch_size": 8,
            "eval_size": 16, "config_overrides": json.dumps({"num_hidden_layers": 1}), "report_to": "none",
            "data_cache_dir": str(corpus / "cache"), "disable_tqdm": "true"}
    args.update(overrides)
    argv = []
    for key, value in args.items():
        if value is True:
            argv.append(f"--{key}")
        elif value is not None:
            argv += [f"--{key}", str(value)]
    return argv


def losses(output_dir):
    state = json.loads((output_dir / "trainer_state.json").read_text())
    return [log["loss"] for log in state["log_history"] if "loss" in log]


@pytest.fixture(scope="module")
def finished_run(corpus, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("run") / "out"
    metrics = run_pretraining.main(args_for(corpus, output_dir))
    return output_dir, metrics


def test_a_run_writes_loadable_halves_a_card_and_metrics(finished_run, capsys):
    output_dir, metrics = finished_run
    assert {"eval_masked_lm_accuracy", "eval_disc_auc", "eval_disc_precision"} <= set(metrics)
    for half, cls in (("discriminator", ElectraForPreTraining), ("generator", ElectraForMaskedLM)):
        model, info = cls.from_pretrained(output_dir / half, output_loading_info=True)
        assert all(not v for v in info.values()), info
        tokenizer = AutoTokenizer.from_pretrained(output_dir / half)
        assert tokenizer.mask_token_id == 103 and len(tokenizer) == model.config.vocab_size
        card = (output_dir / half / "README.md").read_text()
        assert "library_name: transformers" in card and "6 steps" in card and "masked_lm_accuracy" in card
    assert (output_dir / "README.md").exists() and (output_dir / "checkpoint-6").is_dir()
    assert len(losses(output_dir)) == 6


def test_the_run_says_what_it_will_do_and_shows_what_it_did(finished_run, corpus, tmp_path, capsys, caplog):
    caplog.set_level("INFO", logger="run_pretraining")
    run_pretraining.main(args_for(corpus, tmp_path / "r", preset="small", max_steps=2, eval_steps=2,
                                  report_to="tensorboard"))
    banner = caplog.text
    for expected in ("Running ELECTRA pre-training", "Corpus", "documents", "training examples, 16 held out",
                     "Tokenizer       = the bundled BERT uncased vocabulary (30,522 tokens)", "Discriminator   = ",
                     "parameters of its own: 1 layers, hidden 64", "4 per device x 1 processes x 1 accumulation = 4",
                     "Steps           = 2 ", "evaluation every 2 steps, checkpoints every 3 steps", "Output",
                     "TensorBoard"):
        assert expected in banner, expected
    out = capsys.readouterr().out
    for expected in ("pre-training finished", "discriminator accuracy", "(always \"original\")",
                     "Held-out examples: [fake|original]", "1. ", "caught", "Curves:"):
        assert expected in out, expected
    with open(tmp_path / "r" / "training_curves.png", "rb") as f:
        assert f.read(4) == b"\x89PNG"
    card = (tmp_path / "r" / "discriminator" / "README.md").read_text()
    for expected in ("pipeline_tag: feature-extraction", "license: apache-2.0", "| discriminator ROC AUC",
                     "`eval_disc_auc`", "trivial baseline", "ElectraForPreTraining.from_pretrained",
                     "on " + str(corpus / "c.txt")):
        assert expected in card, expected
    assert "pipeline_tag: fill-mask" in (tmp_path / "r" / "generator" / "README.md").read_text()
    assert "toy model" not in card  # only the demo and tiny presets are called toys
    assert "toy model" in (finished_run[0] / "README.md").read_text()


def test_rerunning_a_finished_run_trains_nothing(corpus, finished_run, tmp_path, capsys):
    output_dir, metrics = finished_run
    run_dir = tmp_path / "done"
    shutil.copytree(output_dir, run_dir)
    before = sorted(os.listdir(run_dir))
    card = (run_dir / "discriminator" / "README.md").read_text()
    assert run_pretraining.main(args_for(corpus, run_dir)) == pytest.approx(metrics)
    assert "already holds a finished run (6 steps" in capsys.readouterr().out
    assert sorted(os.listdir(run_dir)) == before and (run_dir / "discriminator" / "README.md").read_text() == card
    # killed after its last checkpoint but before the final save: the final model comes from that checkpoint
    (run_dir / "trainer_state.json").unlink()
    shutil.rmtree(run_dir / "discriminator")
    run_pretraining.main(args_for(corpus, run_dir))
    assert sorted(os.listdir(run_dir)) == before and losses(run_dir) == losses(output_dir)
    for name, tensor in ElectraPretrainingModel.from_pretrained(run_dir).state_dict().items():
        torch.testing.assert_close(tensor, ElectraPretrainingModel.from_pretrained(output_dir).state_dict()[name])
    # asking for more steps continues the run
    run_pretraining.main(args_for(corpus, run_dir, max_steps=7))
    assert json.loads((run_dir / "trainer_state.json").read_text())["global_step"] == 7


@pytest.mark.slow
def test_the_same_command_in_two_processes_gives_the_same_run(corpus, tmp_path):
    """--seed fixes the initial weights too (the model is built after the seed is set), not only masks and order;
    a learned vocabulary is learned once (the next run reads it from the data cache)."""
    def run(name, seed):
        argv = args_for(corpus, tmp_path / name, max_steps=3, save_steps=100, eval_size=0, seed=seed,
                        train_tokenizer=True, vocab_size=250, data_cache_dir=str(tmp_path / "cache"))
        subprocess.run([sys.executable, os.path.join(ROOT, "run_pretraining.py"), *argv], check=True, cwd=ROOT,
                       capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
        return losses(tmp_path / name)

    first, second, other_seed = run("a", 7), run("b", 7), run("c", 8)
    assert first == second and len(first) == 3
    assert (tmp_path / "a" / "tokenizer" / "tokenizer.json").read_text() == (
        tmp_path / "b" / "tokenizer" / "tokenizer.json").read_text()
    assert first[0] != other_seed[0]


def test_the_demo_preset_learns_its_vocabulary_unless_a_tokenizer_is_named():
    model_args, data_args, training_args = run_pretraining.parse_arguments([])
    assert (model_args.preset, model_args.train_tokenizer, model_args.vocab_size, data_args.eval_size,
            training_args.adam_bias_correction) == ("demo", True, 4096, 500, True)
    assert not run_pretraining.parse_arguments(["--tokenizer_name", "bert-base-uncased"])[0].train_tokenizer
    assert not run_pretraining.parse_arguments(["--train_tokenizer", "false"])[0].train_tokenizer
    assert run_pretraining.parse_arguments(["--tokenizer_name", "x", "--train_tokenizer"])[0].train_tokenizer
    # Electric's demo: the same wall-clock budget in fewer, dearer steps
    assert run_pretraining.parse_arguments(["--objective", "electric"])[2].max_steps == 250
    # the original's presets keep the original's recipe and the released vocabulary
    model_args, _, training_args = run_pretraining.parse_arguments(["--preset", "small"])
    assert (model_args.train_tokenizer, training_args.adam_bias_correction, training_args.learning_rate) == (
        False, False, 5e-4)


def test_rerunning_resumes_exactly_where_it_stopped(corpus, finished_run, tmp_path):
    output_dir, _ = finished_run
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    shutil.copytree(output_dir / "checkpoint-3", stopped / "checkpoint-3")  # a run stopped after step 3
    run_pretraining.main(args_for(corpus, stopped))
    # masks, samples and dropout come from the RNG the checkpoint restores: the same steps 4-6
    assert losses(stopped) == pytest.approx(losses(output_dir), rel=1e-5)
    for name, tensor in ElectraPretrainingModel.from_pretrained(stopped).state_dict().items():
        torch.testing.assert_close(tensor, ElectraPretrainingModel.from_pretrained(output_dir).state_dict()[name])


def test_an_unfinished_save_is_skipped(corpus, finished_run, tmp_path, caplog):
    output_dir, _ = finished_run
    run_dir = tmp_path / "killed"
    shutil.copytree(output_dir, run_dir)
    partial = run_dir / "checkpoint-9"
    shutil.copytree(run_dir / "checkpoint-6", partial)
    (partial / "trainer_state.json").unlink()  # killed before the save finished
    (partial / "generator" / "model.safetensors").write_bytes(b"trunc")
    run_pretraining.main(args_for(corpus, run_dir, max_steps=7))
    assert "Skipping" in caplog.text and "checkpoint-9" in caplog.text
    assert json.loads((run_dir / "trainer_state.json").read_text())["global_step"] == 7


def test_overwrite_output_dir_starts_afresh(corpus, finished_run, tmp_path):
    output_dir, _ = finished_run
    run_dir = tmp_path / "fresh"
    shutil.copytree(output_dir, run_dir)
    run_pretraining.main(args_for(corpus, run_dir, max_steps=2, overwrite_output_dir=True,
                                  config_overrides=json.dumps({"num_hidden_layers": 2})))
    assert [name for name in os.listdir(run_dir) if name.startswith("checkpoint-")] == ["checkpoint-2"]
    assert ElectraPretrainingModel.from_pretrained(run_dir).config.discriminator_config.num_hidden_layers == 2


def test_a_checkpoint_of_another_model_is_refused(corpus, finished_run, tmp_path):
    output_dir, _ = finished_run
    run_dir = tmp_path / "other"
    shutil.copytree(output_dir, run_dir)
    with pytest.raises(ValueError, match="different model: discriminator num_hidden_layers=1 \\(now 2\\)"):
        run_pretraining.main(args_for(corpus, run_dir, max_steps=8,
                                      config_overrides=json.dumps({"num_hidden_layers": 2})))


def test_continuing_from_a_saved_pair(corpus, finished_run, tmp_path):
    output_dir, _ = finished_run
    run_pretraining.main(args_for(corpus, tmp_path / "continued", max_steps=2, config_overrides=None,
                                  discriminator_name_or_path=str(output_dir / "discriminator"),
                                  generator_name_or_path=str(output_dir / "generator")))
    continued = ElectraPretrainingModel.from_pretrained(tmp_path / "continued")
    assert continued.config.discriminator_config.num_hidden_layers == 1
    assert continued.generator.electra.embeddings is continued.discriminator.electra.embeddings


def test_original_hparams_and_a_json_file(corpus, tmp_path):
    hparams = {"debug": True, "num_train_steps": 3, "train_batch_size": 2, "learning_rate": 2e-4,
               "model_hparam_overrides": {"num_hidden_layers": 1}, "disc_weight": 40.0}
    model_args, _, training_args = run_pretraining.parse_arguments(
        ["--hparams", json.dumps(hparams), "--output_dir", str(tmp_path / "h")])
    assert (model_args.preset, training_args.max_steps, training_args.per_device_train_batch_size,
            training_args.learning_rate) == ("tiny", 3, 2, 2e-4)
    config_file = tmp_path / "args.json"
    config_file.write_text(json.dumps({"preset": "small", "output_dir": str(tmp_path / "j"), "max_steps": 5}))
    model_args, data_args, training_args = run_pretraining.parse_arguments([str(config_file)])
    # the preset's recipe fills what the file leaves out
    assert (training_args.max_steps, training_args.learning_rate, training_args.per_device_train_batch_size,
            training_args.warmup_steps) == (5, 5e-4, 128, 10_000)
    defaults = run_pretraining.parse_arguments([])
    assert (defaults[0].preset, defaults[1].train_files, defaults[2].output_dir) == ("demo", None, "runs/electra-demo")

    run_pretraining.main(args_for(corpus, tmp_path / "h", max_steps=None, per_device_train_batch_size=None,
                                  config_overrides=None, hparams=json.dumps(hparams), eval_size=0))
    config = ElectraPretrainingModel.from_pretrained(tmp_path / "h").config
    assert (config.disc_weight, config.discriminator_config.hidden_size) == (40.0, 144)


def test_training_a_vocabulary(corpus, tmp_path):
    run_pretraining.main(args_for(corpus, tmp_path / "v", max_steps=2, train_tokenizer=True, vocab_size=400))
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "v" / "tokenizer")
    # the corpus has a few dozen words: the vocabulary stops growing below the requested size
    assert 50 < len(tokenizer) <= 400 and tokenizer.mask_token_id is not None
    ids = tokenizer((corpus / "c.txt").read_text()[:2000])["input_ids"]
    assert tokenizer.unk_token_id not in ids
    model = ElectraForPreTraining.from_pretrained(tmp_path / "v" / "discriminator")
    assert model.config.vocab_size == len(tokenizer)


def test_push_to_hub_uploads_both_halves(corpus, tmp_path, monkeypatch):
    calls = []

    class FakeApi:
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, private=None, exist_ok=False):
            calls.append(("create", repo_id))
            return type("Repo", (), {"repo_id": repo_id, "url": f"https://hf.co/{repo_id}"})()

        def upload_folder(self, repo_id, folder_path, commit_message):
            calls.append(("upload", repo_id, sorted(os.listdir(folder_path))))

    monkeypatch.setattr("electra_hf.hub.HfApi", FakeApi)
    monkeypatch.setattr("electra_hf.loading.constants.HF_HUB_OFFLINE", False)  # as if online: the check passes
    monkeypatch.setattr("electra_hf.loading.hub_reachable", lambda: True)
    run_pretraining.main(args_for(corpus, tmp_path / "p", max_steps=1, push_to_hub=True, hub_model_id="me/tiny",
                                  eval_size=0))
    assert ("create", "me/tiny-discriminator") in calls and ("create", "me/tiny-generator") in calls
    uploads = {c[1]: c[2] for c in calls if c[0] == "upload"}
    for files in uploads.values():
        assert {"config.json", "model.safetensors", "README.md", "tokenizer.json"} <= set(files)


def test_a_datasets_dataset_streamed(corpus, tmp_path):
    from datasets import Dataset

    folder = tmp_path / "my_dataset"
    Dataset.from_dict({"content": (corpus / "c.txt").read_text().split("\n\n")}).to_parquet(
        str(folder / "train.parquet"))
    metrics = run_pretraining.main(args_for(corpus, tmp_path / "s", train_files=None, dataset_name=str(folder),
                                            text_column="content", streaming=True, max_steps=3, eval_size=8))
    assert "eval_disc_auc" in metrics
    ElectraForMaskedLM.from_pretrained(tmp_path / "s" / "generator")


def test_bad_input_is_named(corpus, tmp_path):
    with pytest.raises(FileNotFoundError, match="no corpus file"):
        run_pretraining.main(args_for(corpus, tmp_path / "x", train_files=str(tmp_path / "missing.txt")))
    with pytest.raises(ValueError, match="both --discriminator_name_or_path and --generator_name_or_path"):
        run_pretraining.main(args_for(corpus, tmp_path / "y", discriminator_name_or_path=str(tmp_path)))
    with pytest.raises(ValueError, match="--tokenizer_name '.*nothing-here': no such directory"):
        run_pretraining.main(args_for(corpus, tmp_path / "z", tokenizer_name=str(tmp_path / "nothing-here")))
    with pytest.raises(ValueError, match="--push_to_hub needs the Hub"):  # before training, not after it
        run_pretraining.main(args_for(corpus, tmp_path / "w", push_to_hub=True))
    assert not (tmp_path / "w").exists()


@pytest.mark.slow
@pytest.mark.parametrize("processes", [2, 4])
def test_several_processes_through_accelerate_launch(corpus, tmp_path, processes):
    """The global batch (a preset's, here 8) is shared out: 8 / processes sequences per device."""
    argv = args_for(corpus, tmp_path / "ddp", max_steps=4, save_steps=2, eval_steps=2, use_cpu=True, log_level="info",
                    per_device_train_batch_size=None, global_batch_size=8, eval_size=16 if processes == 2 else 0)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
                             str(processes), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                             os.path.join(ROOT, "run_pretraining.py"), *argv],
                            capture_output=True, text=True, env=env, timeout=400, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads((tmp_path / "ddp" / "trainer_state.json").read_text())
    assert state["global_step"] == 4 and state["train_batch_size"] == 8 // processes
    output = result.stdout + result.stderr
    assert "Total train batch size (w. parallel, distributed & accumulation) = 8" in output
    assert f"Batch           = {8 // processes} per device x {processes} processes x 1 accumulation = 8" in output
    ElectraForPreTraining.from_pretrained(tmp_path / "ddp" / "discriminator")


def recorded_run(corpus, output_dir, processes: int, **overrides) -> list[list[dict]]:
    """run_pretraining.py on `processes` processes (accelerate launch, gloo) through tests/recording_script.py:
    per process, the steps it trained and a hash of each sequence it trained on."""
    records = output_dir.parent / f"{output_dir.name}-records"
    records.mkdir()
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    result = subprocess.run([*(launcher if processes > 1 else [sys.executable]),
                             os.path.join(ROOT, "tests", "recording_script.py"), str(records),
                             *args_for(corpus, output_dir, use_cpu=True, **overrides)],
                            capture_output=True, text=True, timeout=400, cwd=ROOT,
                            env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    (output_dir.parent / f"{output_dir.name}.log").write_text(result.stdout + result.stderr)
    return [[json.loads(line) for line in open(records / f"rank{rank}.jsonl")] for rank in range(processes)]


@pytest.mark.slow
def test_a_stream_read_by_two_processes_resumes_where_it_stopped(corpus, tmp_path):
    """--streaming on 2 processes: each reads its own part of the stream (no sequence trained on twice, or by both
    ranks, and together what one process with their global batch reads), and a run resumed from its step-3
    checkpoint trains steps 4-6 on the sequences the uninterrupted run did, with its losses."""
    stream = dict(streaming=True, eval_size=8, eval_steps=100)
    whole = recorded_run(corpus, tmp_path / "whole", 2, per_device_train_batch_size=4, **stream)
    alone = recorded_run(corpus, tmp_path / "alone", 1, per_device_train_batch_size=8, **stream)[0]
    assert [set(whole[0][k]["rows"] + whole[1][k]["rows"]) for k in range(6)] == [set(s["rows"]) for s in alone]
    (tmp_path / "stopped").mkdir()
    shutil.copytree(tmp_path / "whole" / "checkpoint-3", tmp_path / "stopped" / "checkpoint-3")
    resumed = recorded_run(corpus, tmp_path / "stopped", 2, per_device_train_batch_size=4, **stream)
    rows = [row for rank in whole for step in rank for row in step["rows"]]
    assert len(rows) == 6 * 2 * 4 and len(set(rows)) == len(rows)  # 6 steps x 2 ranks x 4 sequences, all different
    for rank in (0, 1):
        assert [step["step"] for step in whole[rank]] == [1, 2, 3, 4, 5, 6]
        assert resumed[rank] == whole[rank][3:]
    assert losses(tmp_path / "stopped") == pytest.approx(losses(tmp_path / "whole"), rel=1e-5)


@pytest.mark.slow
def test_a_checkpoint_of_two_processes_resumes_on_one(corpus, tmp_path):
    """Elastic resume: a 2-process run's step-2 checkpoint continued by 1 process with the same global batch (8)
    trains steps 3-4 on the examples the 2-process run did, and says what is not kept (each process's random
    stream)."""
    batch = dict(per_device_train_batch_size=None, global_batch_size=8, eval_size=0, max_steps=4, save_steps=2)
    two = recorded_run(corpus, tmp_path / "two", 2, **batch)
    (tmp_path / "one").mkdir()
    shutil.copytree(tmp_path / "two" / "checkpoint-2", tmp_path / "one" / "checkpoint-2")
    one = recorded_run(corpus, tmp_path / "one", 1, **batch)[0]
    assert [step["step"] for step in one] == [3, 4]
    assert [set(two[0][k]["rows"] + two[1][k]["rows"]) for k in (2, 3)] == [set(step["rows"]) for step in one]
    log = (tmp_path / "one.log").read_text()
    assert "was written by 2 processes and resumes on 1: the global batch (8) and the order of the examples " \
           "are kept" in " ".join(log.split())


@pytest.mark.slow
def test_two_nodes_on_one_host_train_save_and_resume(corpus, tmp_path):
    """Two "machines" of one process each (accelerate's --num_machines 2 --machine_rank 0/1, gloo over
    127.0.0.1) train 4 steps and checkpoint; the same two commands with --max_steps 6 resume from step 4."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}

    def both_nodes(max_steps):
        argv = args_for(corpus, tmp_path / "out", max_steps=max_steps, save_steps=2, eval_size=0, use_cpu=True,
                        log_level="info")
        nodes = [subprocess.Popen([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_machines",
                                   "2", "--machine_rank", str(rank), "--main_process_ip", "127.0.0.1",
                                   "--main_process_port", str(port), "--num_processes", "2", "--mixed_precision",
                                   "no", "--dynamo_backend", "no", os.path.join(ROOT, "run_pretraining.py"), *argv],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
                 for rank in (0, 1)]
        outputs = [node.communicate(timeout=400)[0] for node in nodes]
        assert [node.returncode for node in nodes] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
        return outputs[0]

    first = both_nodes(4)
    assert "1 processes" not in first and "x 2 processes x" in first  # one global batch over the two machines
    assert json.loads((tmp_path / "out" / "checkpoint-4" / "trainer_state.json").read_text())["global_step"] == 4
    second = both_nodes(6)
    assert "resuming" in second and "checkpoint-4" in second
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    assert state["global_step"] == 6 and len([log for log in state["log_history"] if "loss" in log]) == 6
    ElectraPretrainingModel.from_pretrained(tmp_path / "out")


@pytest.mark.slow
def test_the_readme_demo_command_runs(tmp_path):
    """scripts/demo.sh, the README's main job, shortened: it finds (or makes) .venv and runs the demo preset."""
    out = tmp_path / "demo"
    result = subprocess.run(["bash", os.path.join(ROOT, "scripts", "demo.sh"), "--max_steps", "3", "--eval_steps", "3",
                             "--save_steps", "3", "--eval_size", "40", "--output_dir", str(out), "--report_to", "none",
                             "--data_cache_dir", str(tmp_path / "cache"), "--disable_tqdm", "true"],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "pre-training finished: electra, 3 steps" in result.stdout
    assert len(AutoTokenizer.from_pretrained(out / "tokenizer")) == 4096  # the demo learns its vocabulary


def test_the_banner_says_how_often_in_words():
    from transformers.trainer_utils import IntervalStrategy, SaveStrategy

    assert run_pretraining.every(IntervalStrategy.STEPS, 200.0) == "every 200 steps"
    assert run_pretraining.every(SaveStrategy.NO, 200) == "never"
    assert run_pretraining.every("epoch", 200) == "every epoch"


@pytest.mark.parametrize("damage", ["weights", "optimizer", "scheduler", "rng"])
def test_a_damaged_checkpoint_falls_back_to_the_previous_one(corpus, finished_run, tmp_path, caplog, damage):
    output_dir, _ = finished_run
    run_dir = tmp_path / "damaged"
    run_dir.mkdir()
    for step in (3, 6):
        shutil.copytree(output_dir / f"checkpoint-{step}", run_dir / f"checkpoint-{step}")
    newest = run_dir / "checkpoint-6"
    path = {"weights": newest / "discriminator" / "model.safetensors", "optimizer": newest / "optimizer.pt",
            "scheduler": newest / "scheduler.pt", "rng": newest / "rng_state.pth"}[damage]
    if damage == "rng":
        path.unlink()
    else:
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
    run_pretraining.main(args_for(corpus, run_dir))
    assert f"Skipping {newest}: {path} is" in caplog.text and ("missing" if damage == "rng" else "trunc") in caplog.text
    # resumed from checkpoint-3, so steps 4-6 are the uninterrupted run's
    assert losses(run_dir) == pytest.approx(losses(output_dir), rel=1e-5)


def test_a_damaged_checkpoint_named_to_resume_is_refused(corpus, finished_run, tmp_path):
    output_dir, _ = finished_run
    shutil.copytree(output_dir / "checkpoint-6", tmp_path / "checkpoint-6")
    (tmp_path / "checkpoint-6" / "optimizer.pt").write_bytes(b"PK")
    with pytest.raises(ValueError, match=r"checkpoint-6 cannot be resumed: .*optimizer.pt is truncated"):
        run_pretraining.main(args_for(corpus, tmp_path / "out", resume_from_checkpoint=tmp_path / "checkpoint-6"))


def test_a_presets_batch_is_global(monkeypatch):
    """The original's batch is global: processes x accumulation share it; a per-device batch given wins."""
    from electra_hf.training_args import ElectraTrainingArguments

    monkeypatch.setattr(ElectraTrainingArguments, "world_size", property(lambda self: 4))
    training_args = run_pretraining.parse_arguments(["--preset", "small", "--gradient_accumulation_steps", "2"])[2]
    assert (training_args.global_batch_size, training_args.per_device_train_batch_size) == (128, 16)
    training_args = run_pretraining.parse_arguments(["--preset", "small", "--per_device_train_batch_size", "64"])[2]
    assert (training_args.global_batch_size, training_args.per_device_train_batch_size) == (256, 64)
    with pytest.raises(ValueError, match="global batch of 30 sequences does not divide over 4 processes x 1"):
        run_pretraining.parse_arguments(["--preset", "small", "--global_batch_size", "30"])
    with pytest.raises(ValueError, match="= 32, not --global_batch_size 64: give one of the two"):
        run_pretraining.parse_arguments(["--global_batch_size", "64", "--per_device_train_batch_size", "8"])
