"""ElectraTrainer: the original optimizer and schedule inside the Trainer, metrics, checkpoints, DDP."""

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
from datasets import Dataset
from transformers import (
    ElectraConfig,
    ElectraForMaskedLM,
    ElectraForPreTraining,
    ElectraForSequenceClassification,
    TrainerCallback,
    TrainerState,
    TrainingArguments,
)

from electra_hf import (
    DataCollatorForElectra,
    ElectraPretrainingModel,
    ElectraTrainer,
    ElectraTrainingArguments,
)
from electra_hf.cli import one_line_errors
from electra_hf.dropout import PACKED_DROPOUT_ATTENTION, PackedDropout
from electra_hf.onednn_linear import AVAILABLE as ONEDNN_AVAILABLE
from electra_hf.onednn_linear import OneDNNLinear
from electra_hf.optimization import AdamWeightDecay
from electra_hf.trainer import resume_on_other_processes

from .conftest import synthetic_sentences

METRICS = {"masked_lm_accuracy", "masked_lm_loss", "sampled_masked_lm_accuracy", "disc_loss", "disc_accuracy",
           "disc_precision", "disc_recall", "disc_auc"}


def tokenized(tokenizer, sentences):
    return Dataset.from_dict({"text": sentences}).map(lambda b: tokenizer(b["text"]), batched=True,
                                                      remove_columns=["text"])


def make_trainer(tmp_path, tokenizer, config, sentences, **overrides):
    args = dict(output_dir=str(tmp_path / "out"), per_device_train_batch_size=16, per_device_eval_batch_size=16,
                max_steps=40, warmup_steps=5, learning_rate=2e-3, logging_steps=5, report_to="none",
                save_strategy="no", eval_strategy="no", disable_tqdm=True, use_cpu=True, seed=0,
                dataloader_num_workers=0)
    args.update(overrides)
    return ElectraTrainer(
        model=ElectraPretrainingModel(config), args=ElectraTrainingArguments(**args),
        train_dataset=tokenized(tokenizer, sentences), eval_dataset=tokenized(tokenizer, synthetic_sentences(32, 1)),
        data_collator=DataCollatorForElectra.from_config(tokenizer, config), processing_class=tokenizer)


def test_training_lowers_the_loss_and_logs_the_original_metrics(tmp_path, tokenizer, tiny_config):
    trainer = make_trainer(tmp_path, tokenizer, tiny_config, synthetic_sentences(320), eval_strategy="steps",
                           eval_steps=15, max_steps=30, per_device_train_batch_size=8, learning_rate=1e-3)
    trainer.train()
    train_logs = [log for log in trainer.state.log_history if "loss" in log]
    assert METRICS | {"learning_rate", "grad_norm"} <= set(train_logs[0])
    losses = [log["loss"] for log in train_logs]
    assert sum(losses[-2:]) / 2 < 0.8 * sum(losses[:2]) / 2
    assert train_logs[-1]["masked_lm_accuracy"] > train_logs[0]["masked_lm_accuracy"]
    eval_logs = [log for log in trainer.state.log_history if "eval_loss" in log]
    assert len(eval_logs) == 2 and {f"eval_{m}" for m in METRICS} <= set(eval_logs[-1])
    assert 0.0 <= eval_logs[-1]["eval_disc_auc"] <= 1.0


def test_optimizer_and_schedule_are_the_originals(tmp_path, tokenizer, tiny_config, sentences):
    trainer = make_trainer(tmp_path, tokenizer, tiny_config, sentences, max_steps=8, warmup_steps=4,
                           learning_rate=1e-3, logging_steps=1)
    trainer.train()
    optimizer = trainer.optimizer.optimizer  # inside accelerate's wrapper
    assert isinstance(optimizer, AdamWeightDecay) and not optimizer.bias_correction
    assert optimizer.defaults["eps"] == 1e-6
    # the Trainer logs the rate used by each update k: 1e-3 * min(1, k/4) * (1 - k/8)
    rates = [log["learning_rate"] for log in trainer.state.log_history if "loss" in log]
    assert rates == pytest.approx([1e-3 * min(1, k / 4) * (1 - k / 8) for k in range(8)])
    decays = {g["weight_decay"] for g in trainer.optimizer.param_groups}
    assert decays == {0.0, 0.01}


def test_layerwise_decay_for_fine_tuning(tmp_path):
    model = ElectraForSequenceClassification(ElectraConfig(num_hidden_layers=2, hidden_size=64,
                                                           num_attention_heads=1, intermediate_size=128))
    args = ElectraTrainingArguments(output_dir=str(tmp_path), learning_rate=1e-4, layerwise_lr_decay=0.8,
                                    report_to="none", use_cpu=True)
    optimizer = ElectraTrainer(model=model, args=args).create_optimizer()
    lrs = sorted({round(g["lr"] / 1e-4, 6) for g in optimizer.param_groups})
    assert lrs == sorted({round(0.8 ** k, 6) for k in (4, 3, 2, 0)})  # embeddings, layer 0, layer 1, head


def test_predictions_keep_the_dataset_order_when_training_groups_by_length(tmp_path, tokenizer):
    # transformers v5 would reuse the training's length grouping (shuffled) for evaluation batches
    model = ElectraForSequenceClassification(ElectraConfig(num_hidden_layers=1, hidden_size=32,
                                                           num_attention_heads=1, intermediate_size=64)).eval()
    rows = tokenized(tokenizer, [" ".join(["word"] * n) for n in (3, 40, 7, 25, 1, 33, 12, 5)])
    args = ElectraTrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=2, report_to="none",
                                    use_cpu=True, train_sampling_strategy="group_by_length")
    trainer = ElectraTrainer(model=model, args=args, processing_class=tokenizer)
    predicted = trainer.predict(rows).predictions
    with torch.no_grad():
        expected = torch.stack([model(input_ids=torch.tensor([ids])).logits[0] for ids in rows["input_ids"]])
    assert torch.allclose(torch.from_numpy(predicted), expected, atol=1e-5)


def test_checkpoints_save_the_pair_and_resume(tmp_path, tokenizer, tiny_config, sentences):
    trainer = make_trainer(tmp_path, tokenizer, tiny_config, sentences, max_steps=6, save_strategy="steps",
                           save_steps=3, logging_steps=1)
    trainer.train()
    checkpoint = tmp_path / "out" / "checkpoint-3"
    files = set(os.listdir(checkpoint))
    assert {"config.json", "discriminator", "generator", "optimizer.pt", "scheduler.pt", "trainer_state.json",
            "rng_state.pth", "tokenizer.json"} <= files
    assert "model.safetensors" not in files
    for half in ("discriminator", "generator"):
        assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"} <= set(
            os.listdir(checkpoint / half))

    class FirstStep(TrainerCallback):  # what the resumed run starts its first update from
        def on_step_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
            if not hasattr(self, "weights"):
                self.weights = {k: v.clone() for k, v in model.state_dict().items()}
                self.exp_avg = [s["exp_avg"].clone() for s in optimizer.state.values()]

    first_step = FirstStep()
    resumed = make_trainer(tmp_path, tokenizer, tiny_config, sentences, max_steps=6, save_strategy="steps",
                           save_steps=3, logging_steps=1)
    resumed.add_callback(first_step)
    resumed.train(resume_from_checkpoint=str(checkpoint))
    assert resumed.state.global_step == 6
    saved = ElectraPretrainingModel.from_pretrained(checkpoint).state_dict()
    for name, value in saved.items():
        assert torch.equal(first_step.weights[name], value), name
    saved_optimizer = torch.load(checkpoint / "optimizer.pt")["state"]
    assert len(first_step.exp_avg) == len(saved_optimizer) > 0
    assert all(torch.equal(a, s["exp_avg"]) for a, s in zip(first_step.exp_avg, saved_optimizer.values()))
    # the schedule continues where it stopped: updates 3-5 (after the 3 restored logs) use the same rates
    rates = lambda t: [log["learning_rate"] for log in t.state.log_history if "loss" in log]  # noqa: E731
    assert len(rates(resumed)) == 6 and rates(resumed) == pytest.approx(rates(trainer))


def test_tokenizer_mismatch_fails_at_construction(tmp_path, tokenizer):
    from electra_hf import ElectraPretrainingConfig
    config = ElectraPretrainingConfig.from_preset("tiny", vocab_size=1000, num_hidden_layers=1)
    with pytest.raises(ValueError, match="vocab_size=30522"):
        ElectraTrainer(model=ElectraPretrainingModel(config),
                       args=ElectraTrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True),
                       processing_class=tokenizer)



def test_the_tokenizer_is_checked_once(tmp_path, tokenizer, monkeypatch):
    from electra_hf import DataCollatorForElectra, ElectraPretrainingConfig
    calls = []
    original = ElectraPretrainingConfig.check_tokenizer
    monkeypatch.setattr(ElectraPretrainingConfig, "check_tokenizer", lambda self, tok: calls.append(1) or original(
        self, tok))
    model = ElectraPretrainingModel(ElectraPretrainingConfig.from_preset("tiny", num_hidden_layers=1))
    collator = DataCollatorForElectra.from_config(tokenizer, model.config, mask=False)
    ElectraTrainer(model=model, args=ElectraTrainingArguments(output_dir=str(tmp_path), report_to="none",
                                                              use_cpu=True),
                   data_collator=collator, processing_class=tokenizer)
    assert calls == [1]  # by from_config; the Trainer sees the collator was built for this model


@pytest.mark.slow
def test_two_process_run_through_accelerate_launch(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "ddp_script.py")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
         "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", script, str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["world_size"] == 2 and report["global_step"] == 4
    assert report["weights_equal_across_ranks"]
    assert METRICS <= set(report["last_log"])


def test_one_global_clip_over_both_networks(tmp_path, tokenizer, tiny_config, sentences):
    class ClippedNorm(TrainerCallback):
        norms = []

        def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
            grads = [p.grad for p in model.parameters() if p.grad is not None]
            self.norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())

    trainer = make_trainer(tmp_path, tokenizer, tiny_config, sentences, max_steps=3, logging_steps=1)
    trainer.add_callback(ClippedNorm())
    trainer.train()
    pre_clip = [log["grad_norm"] for log in trainer.state.log_history if "loss" in log]
    assert all(norm > 1 for norm in pre_clip)  # an untrained ELECTRA's gradients are large (loss weight 50)
    # after clipping, the norm over all parameters of both networks together is exactly max_grad_norm
    assert ClippedNorm.norms == pytest.approx([1.0] * 3, rel=1e-4)


@pytest.mark.parametrize("on", [True, False])
def test_trainer_applies_the_cpu_switches_unless_told_not_to(tmp_path, tokenizer, tiny_config, on):
    model = ElectraPretrainingModel(tiny_config)
    args = ElectraTrainingArguments(output_dir=str(tmp_path), packed_dropout=on, onednn_linear=on, report_to="none",
                                    use_cpu=True)
    ElectraTrainer(model=model, args=args, data_collator=DataCollatorForElectra.from_config(tokenizer, tiny_config))
    assert any(isinstance(m, PackedDropout) for m in model.modules()) == on
    assert (model.discriminator.config._attn_implementation == PACKED_DROPOUT_ATTENTION) == on
    assert any(isinstance(m, OneDNNLinear) for m in model.modules()) == (on and ONEDNN_AVAILABLE)


def test_a_finished_command_shuts_its_process_group_down(tmp_path, monkeypatch):
    """The commands' wrapper destroys the process group a run started (left to the interpreter's teardown, gloo's
    threads aborted a finished 2-process run once in a full suite)."""
    @one_line_errors
    def command(argv):
        dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
        return "trained"

    monkeypatch.setattr(sys, "argv", ["run_pretraining.py"])
    assert command() == "trained"
    assert not dist.is_initialized()


@pytest.mark.slow
@pytest.mark.parametrize("sharing", ["es", "gdes"])
def test_fsdp_keeps_sharing_and_tying_and_saves_stock_halves(tmp_path, sharing):
    """2 processes of torch FSDP (tests/fsdp_script.py; accelerate's FSDP needs a GPU): after two steps the shared
    embeddings and the tied output layer are still one, and the gathered state saves as halves the stock classes
    load with those values (GDES: the discriminator's tables merged, its deltas kept for a resume)."""
    out = tmp_path / "pair"
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                             os.path.join(os.path.dirname(__file__), "fsdp_script.py"), str(out), sharing],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((out / "report.json").read_text()) == {"shared": sharing == "es", "tied": True}
    state = torch.load(out / "state.pt")
    disc = ElectraForPreTraining.from_pretrained(out / "discriminator")
    gen = ElectraForMaskedLM.from_pretrained(out / "generator")
    table = "electra.embeddings.word_embeddings.weight"
    expected = state[f"generator.{table}"] + (
        state["discriminator.electra.embeddings.word_embeddings.parametrizations.weight.original"] if sharing == "gdes"
        else 0)
    assert torch.equal(disc.state_dict()[table], expected)
    if sharing == "es":
        assert torch.equal(state[f"discriminator.{table}"], state[f"generator.{table}"])  # one table, both halves
    assert torch.equal(gen.state_dict()[table], state[f"generator.{table}"])
    layer = "electra.encoder.layer.1.output.dense.weight"
    assert torch.equal(disc.state_dict()[layer], state[f"discriminator.{layer}"])
    pair = ElectraPretrainingModel.from_pretrained(out)
    assert pair.config.embedding_sharing == sharing


@pytest.mark.parametrize("saved, now, kept", [((2, 64, 1), (1, 64, 2), True), ((2, 64, 1), (1, 64, 1), False)],
                         ids=["same global batch", "half the global batch"])
def test_resuming_on_other_processes_compares_global_batches(tmp_path, saved, now, kept):
    """The saved run's global batch is its processes x per-device batch x its own accumulation (its
    training_args.bin), not the resumed run's accumulation."""
    processes, per_device, accumulation = saved
    for rank in range(processes):
        (tmp_path / f"rng_state_{rank}.pth").touch()
    TrainerState(train_batch_size=per_device).save_to_json(str(tmp_path / "trainer_state.json"))
    torch.save(TrainingArguments(output_dir=str(tmp_path), gradient_accumulation_steps=accumulation,
                                 report_to="none"), tmp_path / "training_args.bin")
    args = SimpleNamespace(world_size=now[0], per_device_train_batch_size=now[1], gradient_accumulation_steps=now[2])
    message = resume_on_other_processes(str(tmp_path), args)
    expected = "the global batch (128) and the order of the examples are kept" if kept else \
        "the global batch changes from 128 to 64"
    assert f"was written by 2 processes and resumes on 1: {expected}" in message
