"""ElectraTrainingArguments and ElectraTrainer: the transformers Trainer with the original's optimizer,
schedule, layer-wise learning rates and pre-training metrics (model/optimization.py, run_pretraining.py:111-162)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import zipfile

import torch
from torch.utils.data import SequentialSampler
from transformers import Trainer, TrainerState, TrainingArguments
from transformers.trainer import TRAINING_ARGS_NAME
from transformers.trainer_utils import has_length

from .config import ElectraPretrainingConfig
from .dropout import use_packed_dropout
from .generator_modes import MODE_FIELDS
from .metrics.pretraining import PretrainingMetrics
from .modeling import ElectraPretrainingModel
from .onednn_linear import use_onednn_linear
from .optimization import AdamWeightDecay, electra_parameter_groups, get_electra_schedule

logger = logging.getLogger(__name__)


def _transformer_layers(model: torch.nn.Module) -> int | None:
    config = getattr(model, "config", None)
    config = getattr(config, "discriminator_config", config)
    return getattr(config, "num_hidden_layers", None)


def _safetensors_damage(path: str) -> str | None:
    """Whether a safetensors file is as long as its header says (a truncated copy or save is not)."""
    size = os.path.getsize(path)
    try:
        with open(path, "rb") as f:
            header_size = int.from_bytes(f.read(8), "little")
            if not 0 < header_size <= size - 8:
                return f"{path} is truncated (no complete header)"
            header = json.loads(f.read(header_size))
    except (OSError, ValueError):
        return f"{path} is damaged (its header is not readable)"
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    return None if size == 8 + header_size + end else f"{path} is truncated ({size} of {8 + header_size + end} bytes)"


def _torch_file_damage(path: str) -> str | None:
    """Whether a torch.save file (a zip archive) is whole: its directory readable, every member inside the file."""
    try:
        with zipfile.ZipFile(path) as archive:
            size = os.path.getsize(path)
            if any(info.header_offset + info.compress_size > size for info in archive.infolist()):
                return f"{path} is truncated"
    except (OSError, zipfile.BadZipFile):
        return f"{path} is truncated or damaged"
    return None


def _weights_damage(directory: str) -> str | None:
    for name, check in (("model.safetensors", _safetensors_damage), ("pytorch_model.bin", _torch_file_damage)):
        if os.path.exists(os.path.join(directory, name)):
            return check(os.path.join(directory, name))
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
        try:
            with open(index) as f:
                shards = sorted(set(json.load(f)["weight_map"].values()))
        except (OSError, ValueError, KeyError):
            return f"{index} is damaged"
        for shard in shards:
            path = os.path.join(directory, shard)
            damage = _safetensors_damage(path) if os.path.exists(path) else f"{path} is missing"
            if damage:
                return damage
        return None
    return f"{directory} has no model weights"


def checkpoint_damage(directory: str, training_state: bool = True) -> str | None:
    """What makes a saved model (or, with `training_state`, a checkpoint to resume) unusable: an unfinished save
    (the Trainer writes trainer_state.json last), truncated or missing weights, optimizer, scheduler or RNG
    state. None when it is whole."""
    try:
        with open(os.path.join(directory, "trainer_state.json")) as f:
            json.load(f)
    except (OSError, ValueError):
        return f"{directory}: its save did not finish (no complete trainer_state.json; was the run killed?)"
    halves = [os.path.join(directory, half) for half in ("discriminator", "generator")
              if os.path.isdir(os.path.join(directory, half))] if is_pair_checkpoint(directory) else [directory]
    for folder in halves:
        if damage := _weights_damage(folder):
            return damage
    deepspeed = any(name.startswith("global_step") for name in os.listdir(directory))
    if not training_state or deepspeed:  # DeepSpeed keeps the optimizer in its own files
        return None
    rng = [name for name in os.listdir(directory) if re.fullmatch(r"rng_state(_\d+)?\.pth", name)]
    for name in ("optimizer.pt", "scheduler.pt", *(rng or ["rng_state.pth"])):
        path = os.path.join(directory, name)
        damage = _torch_file_damage(path) if os.path.exists(path) else f"{path} is missing"
        if damage:
            return damage
    return None


def is_complete_checkpoint(directory: str, training_state: bool = False) -> bool:
    return checkpoint_damage(directory, training_state) is None


def check_resumable(checkpoint: str | None) -> None:
    """A checkpoint the user names with --resume_from_checkpoint must be whole (no silent fallback there)."""
    if checkpoint is None:
        return
    if not os.path.isdir(checkpoint):
        raise FileNotFoundError(f"--resume_from_checkpoint {checkpoint}: no such directory.")
    if damage := checkpoint_damage(checkpoint):
        raise ValueError(f"--resume_from_checkpoint {checkpoint} cannot be resumed: {damage}. Name an earlier "
                         "checkpoint, or leave the flag out to resume the output directory's last whole one.")


def last_complete_checkpoint(output_dir: str) -> str | None:
    """The newest `checkpoint-N` in `output_dir` that is whole (`checkpoint_damage`); an unfinished or damaged
    one (a run killed while saving, a truncated copy) is skipped with a warning naming what is wrong, so resuming
    falls back to the previous checkpoint."""
    if not os.path.isdir(output_dir):
        return None
    steps = {int(m.group(1)): name for name in os.listdir(output_dir)
             if (m := re.fullmatch(r"checkpoint-(\d+)", name)) and os.path.isdir(os.path.join(output_dir, name))}
    for step in sorted(steps, reverse=True):
        path = os.path.join(output_dir, steps[step])
        damage = checkpoint_damage(path)
        if damage is None:
            return path
        logger.warning("Skipping %s: %s.", path, damage)
    return None


def finished_training(checkpoint: str | None, args: TrainingArguments) -> TrainerState | None:
    """The checkpoint's state when it already holds all the training `args` ask for (`max_steps`, or the epochs
    it was started with), else None: resuming it would only train steps at learning rate 0."""
    if checkpoint is None:
        return None
    state = TrainerState.load_from_json(os.path.join(checkpoint, "trainer_state.json"))
    target = args.max_steps if args.max_steps > 0 else state.max_steps
    if args.max_steps <= 0 and state.num_train_epochs != args.num_train_epochs:
        return None
    return state if state.global_step >= target > 0 else None


def saved_processes(checkpoint: str) -> int:
    """How many processes wrote a checkpoint (one RNG state each: rng_state_<rank>.pth, or rng_state.pth alone)."""
    return max(1, sum(bool(re.fullmatch(r"rng_state_\d+\.pth", name)) for name in os.listdir(checkpoint)))


def saved_accumulation(checkpoint: str, default: int) -> int:
    """The gradient accumulation a checkpoint was trained with (its training_args.bin; `default` without one)."""
    path = os.path.join(checkpoint, TRAINING_ARGS_NAME)
    if not os.path.isfile(path):
        return default
    return torch.load(path, weights_only=False).gradient_accumulation_steps  # the run's own pickle, as Trainer's


def resume_on_other_processes(checkpoint: str, args: TrainingArguments) -> str | None:
    """What changes when a checkpoint written by N processes resumes on M (None when M = N): with the same global
    batch the examples come in the same order (each global batch is the same examples, shared out differently),
    but each process's random stream (masks, samples, dropout) is not the saved one; with another global batch the
    order and the recipe change too."""
    saved = saved_processes(checkpoint)
    if saved == args.world_size:
        return None
    state = TrainerState.load_from_json(os.path.join(checkpoint, "trainer_state.json"))
    before = state.train_batch_size * saved * saved_accumulation(checkpoint, args.gradient_accumulation_steps)
    now = args.per_device_train_batch_size * args.world_size * args.gradient_accumulation_steps
    what = (f"the global batch ({now}) and the order of the examples are kept; each process's random stream "
            "(masks, samples, dropout) is new, so the steps from here differ from an uninterrupted run's"
            if before == now else
            f"the global batch changes from {before} to {now}, so the examples come in another order and the "
            f"recipe changes (pass --global_batch_size {before} to keep it)")
    return f"{checkpoint} was written by {saved} process{'es' if saved > 1 else ''} and resumes on " \
           f"{args.world_size}: {what}."


def remove_checkpoints(output_dir: str, reason: str = "--overwrite_output_dir") -> None:
    """Delete `checkpoint-N` folders, so that a run started afresh is not resumed from an older run later."""
    if not os.path.isdir(output_dir):
        return
    for name in os.listdir(output_dir):
        if re.fullmatch(r"checkpoint-\d+", name):
            logger.info("Removing %s (%s)", os.path.join(output_dir, name), reason)
            shutil.rmtree(os.path.join(output_dir, name))


ARCHITECTURE_FIELDS = ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                       "intermediate_size", "max_position_embeddings")


def check_checkpoint_matches(checkpoint: str, config: ElectraPretrainingConfig) -> None:
    """Fail with the differing value when a checkpoint was written for another model."""
    try:
        saved = ElectraPretrainingConfig.from_pretrained(checkpoint)
    except (OSError, ValueError) as err:
        raise ValueError(f"{checkpoint} holds no ELECTRA pair config ({err}); resume from a checkpoint written by "
                         "electra-hf, or start afresh with --overwrite_output_dir.") from err
    problems = [f"{name} {getattr(saved, name)!r} (now {getattr(config, name)!r})" for name in MODE_FIELDS
                if getattr(saved, name) != getattr(config, name)]
    for name in ("discriminator_config", "generator_config"):
        if getattr(saved, name) is None or getattr(config, name) is None:
            continue
        for field_name in ARCHITECTURE_FIELDS:
            old, new = getattr(getattr(saved, name), field_name), getattr(getattr(config, name), field_name)
            if old != new:
                problems.append(f"{name.split('_')[0]} {field_name}={old} (now {new})")
    if problems:
        raise ValueError(f"{checkpoint} was written for a different model: {'; '.join(problems)}. Use another "
                         "--output_dir, pass the same model settings, or start afresh with --overwrite_output_dir.")


def is_pair_checkpoint(directory: str) -> bool:
    """Whether `directory` holds a pair written by `ElectraPretrainingModel.save_pretrained`."""
    return any(os.path.isdir(os.path.join(directory, half)) for half in ("discriminator", "generator")) and not any(
        os.path.exists(os.path.join(directory, name)) for name in ("model.safetensors", "pytorch_model.bin"))


class ElectraTrainer(Trainer):
    """A Trainer that optimizes as the original and logs the original's pre-training metrics.

    Works with any model for the optimizer and schedule (fine-tuning too); with an `ElectraPretrainingModel`
    it also logs generator/discriminator metrics at every logging and evaluation step, and saves and
    resumes checkpoints in the pair layout (`discriminator/`, `generator/`).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pretraining_metrics = {"train": PretrainingMetrics(), "eval": PretrainingMetrics()}
        model = self.accelerator.unwrap_model(self.model)
        if getattr(self.args, "packed_dropout", False):
            use_packed_dropout(model)
        if getattr(self.args, "onednn_linear", False):
            use_onednn_linear(model)
        tokenizer = self.processing_class or getattr(self.data_collator, "tokenizer", None)
        checked = getattr(self.data_collator, "checked_config", None) is getattr(model, "config", None)
        if isinstance(model, ElectraPretrainingModel) and tokenizer is not None and not checked:
            model.config.check_tokenizer(tokenizer)  # DataCollatorForElectra.from_config has done it already

    def _get_eval_sampler(self, eval_dataset):
        # transformers v5 groups evaluation batches by length (shuffled) when training does; predictions must
        # stay in the dataset's order to be matched with its rows (test ids, QA windows).
        if eval_dataset is None or not has_length(eval_dataset) or self.args.world_size > 1:
            return None
        return SequentialSampler(eval_dataset)

    def create_optimizer(self, model=None):
        if not self.args.original_optimizer:
            return super().create_optimizer(model)
        if self.optimizer is None:
            opt_model = self.model if model is None else model
            args = self.args
            groups = electra_parameter_groups(
                opt_model.named_parameters(), args.learning_rate, args.weight_decay,
                layerwise_lr_decay=args.layerwise_lr_decay, num_layers=_transformer_layers(opt_model),
                depth_rule=args.layerwise_lr_depth_rule)
            self.optimizer = AdamWeightDecay(groups, lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2),
                                             eps=args.adam_epsilon, bias_correction=args.adam_bias_correction)
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if not self.args.original_lr_schedule:
            return super().create_scheduler(num_training_steps, optimizer)
        if self.lr_scheduler is None:
            warmup = self.args.warmup_steps
            # A fraction is kept as a float, as the original's warmup_proportion * num_train_steps.
            warmup = warmup * num_training_steps if warmup < 1 else warmup
            self.lr_scheduler = get_electra_schedule(optimizer or self.optimizer, warmup, num_training_steps,
                                                     self.args.lr_decay_power, self.args.lr_of_next_step)
            self._created_lr_scheduler = True
        return self.lr_scheduler

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not isinstance(self.accelerator.unwrap_model(model), ElectraPretrainingModel):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        outputs = model(**inputs)
        self._pretraining_metrics["train" if model.training else "eval"].update(outputs, inputs.get("attention_mask"))
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        if not isinstance(self.accelerator.unwrap_model(model), ElectraPretrainingModel):
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():
            loss = self.compute_loss(model, inputs)
        return loss.detach(), None, None

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix="eval"):
        metrics = self._pretraining_metrics["eval"]
        metrics.reset()
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys,
                                         metric_key_prefix)
        output.metrics.update({f"{metric_key_prefix}_{k}": v for k, v in self._reduced(metrics).items()})
        metrics.reset()
        return output

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # a training log: add the metrics accumulated since the last one
            logs.update(self._reduced(self._pretraining_metrics["train"]))
            self._pretraining_metrics["train"].reset()
        super().log(logs, start_time)

    def _reduced(self, metrics: PretrainingMetrics) -> dict[str, float]:
        return metrics.compute(reduce=lambda t: self.accelerator.reduce(t, reduction="sum"))

    def _save(self, output_dir: str | None = None, state_dict=None):
        super()._save(output_dir, state_dict)
        model = self.accelerator.unwrap_model(self.model)
        if isinstance(model, ElectraPretrainingModel) and self.processing_class is not None and self.args.should_save:
            output_dir = output_dir or self.args.output_dir
            for name in model.halves():  # each half loads on its own with its tokenizer
                self.processing_class.save_pretrained(os.path.join(output_dir, name))

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        target = self.accelerator.unwrap_model(model if model is not None else self.model)
        if isinstance(target, ElectraPretrainingModel) and is_pair_checkpoint(resume_from_checkpoint):
            target.load_pair_weights(resume_from_checkpoint)
        else:
            super()._load_from_checkpoint(resume_from_checkpoint, model)

    def _load_best_model(self):
        target = self.accelerator.unwrap_model(self.model)
        if isinstance(target, ElectraPretrainingModel) and is_pair_checkpoint(self.state.best_model_checkpoint):
            target.load_pair_weights(self.state.best_model_checkpoint)
        else:
            super()._load_best_model()
