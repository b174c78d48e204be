"""ElectraTrainingArguments and ElectraTrainer: the transformers Trainer with the original's optimizer,
schedule, layer-wise learning rates and pre-training metrics (model/optimization.py, run_pretraining.py:111-162)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field

import torch
from torch.utils.data import SequentialSampler
from transformers import Trainer, TrainerState, TrainingArguments
from transformers.trainer_utils import has_length

from .config import ElectraPretrainingConfig
from .dropout import use_packed_dropout
from .metrics.pretraining import PretrainingMetrics
from .modeling import ElectraPretrainingModel
from .optimization import AdamWeightDecay, electra_parameter_groups, get_electra_schedule

logger = logging.getLogger(__name__)


@dataclass
class ElectraTrainingArguments(TrainingArguments):
    """`TrainingArguments` with the original pre-training defaults and its optimizer options."""

    learning_rate: float = field(default=5e-4, metadata={"help": "Peak learning rate (original small: 5e-4; "
                                                                  "base/large: 2e-4)."})
    weight_decay: float = field(default=0.01, metadata={"help": "Decoupled weight decay, scaled by the learning "
                                                                "rate; not applied to LayerNorm or biases."})
    adam_epsilon: float = field(default=1e-6, metadata={"help": "Adam epsilon, added outside the square root."})
    warmup_steps: float = field(default=10000, metadata={"help": "Warm-up steps (a value < 1 is a fraction of the "
                                                                 "training steps, e.g. 0.1 for fine-tuning)."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Global-norm clipping over all parameters."})
    original_optimizer: bool = field(default=True, metadata={
        "help": "Use the original AdamWeightDecayOptimizer (no bias correction unless --adam_bias_correction); "
                "False uses the Trainer's --optim."})
    adam_bias_correction: bool = field(default=False, metadata={
        "help": "Apply Adam's bias correction (the original does not)."})
    original_lr_schedule: bool = field(default=True, metadata={
        "help": "Use the original schedule lr*min(1,t/W)*(1-t/T)^power; False uses --lr_scheduler_type."})
    lr_decay_power: float = field(default=1.0, metadata={"help": "Power of the polynomial decay (1.0 = linear)."})
    layerwise_lr_decay: float = field(default=0.0, metadata={
        "help": "Layer-wise learning-rate decay factor (the original fine-tunes with 0.8, 0.9 for large); "
                "0 turns it off, as in pre-training."})
    layerwise_lr_depth_rule: str = field(default="original", metadata={
        "help": "'original': the released code's depths (top layer gets decay^2); 'paper': the intended ones.",
        "choices": ["original", "paper"]})
    overwrite_output_dir: bool = field(default=False, metadata={
        "help": "Start afresh in --output_dir instead of resuming from its last checkpoint."})
    packed_dropout: bool = field(default=True, metadata={
        "help": "On a CPU, draw dropout masks four per 64-bit random number (an ELECTRA-Small step about a sixth "
                "shorter; the drop rate is rounded to a multiple of 1/65536); False uses torch's dropout. No effect "
                "on other devices."})

    def __post_init__(self):
        super().__post_init__()
        if self.layerwise_lr_depth_rule not in ("original", "paper"):
            raise ValueError(f"layerwise_lr_depth_rule={self.layerwise_lr_depth_rule!r}: use 'original' or 'paper'.")
        if self.layerwise_lr_decay < 0:
            raise ValueError(f"layerwise_lr_decay={self.layerwise_lr_decay} must be >= 0 (0 turns it off).")


# The original's recipe per preset (configure_pretraining.py; its batch sizes are global, here per device) and a CPU
# demo for tiny, applied as defaults under anything the user passes.
PRESET_TRAINING = {
    "small": {"learning_rate": 5e-4, "per_device_train_batch_size": 128, "max_steps": 1_000_000},
    "small++": {"learning_rate": 5e-4, "per_device_train_batch_size": 128, "max_steps": 1_000_000},
    "base": {"learning_rate": 2e-4, "per_device_train_batch_size": 256, "max_steps": 766_000},
    "large": {"learning_rate": 2e-4, "per_device_train_batch_size": 2048, "max_steps": 400_000},
    "tiny": {"learning_rate": 1e-3, "per_device_train_batch_size": 16, "max_steps": 300, "warmup_steps": 30,
             "logging_steps": 25, "eval_steps": 150, "save_steps": 150, "per_device_eval_batch_size": 64},
    # The default run (measured in benchmarks/RESULTS.md). Adam's bias correction on: without it the first
    # updates are ~3x larger and a model this small at this learning rate collapses to unigram predictions.
    "demo": {"learning_rate": 2e-3, "per_device_train_batch_size": 32, "max_steps": 600, "warmup_steps": 60,
             "adam_bias_correction": True, "logging_steps": 25, "eval_steps": 200, "save_steps": 200,
             "per_device_eval_batch_size": 100, "eval_size": 500, "train_tokenizer": True, "vocab_size": 4096},
}
# Electric's step costs about 2.5x ELECTRA's on a CPU (two towers and a cloze head at every position): its demo
# gets the same wall-clock budget in fewer steps.
OBJECTIVE_TRAINING = {("demo", "electric"): {"max_steps": 250, "warmup_steps": 25, "eval_steps": 125,
                                             "save_steps": 125}}
DEFAULT_PRESET = "demo"
TOY_PRESETS = ("demo", "tiny")  # trained for minutes: their model cards say so
COMMON_TRAINING = {"warmup_steps": 10_000, "logging_steps": 100, "eval_strategy": "steps", "eval_steps": 10_000,
                   "save_strategy": "steps", "save_steps": 1000, "save_total_limit": 5, "report_to": "tensorboard",
                   "per_device_eval_batch_size": 128, "ddp_find_unused_parameters": False}


def training_defaults(preset: str, objective: str | None = None) -> dict:
    """Defaults for a preset's run: the original's per-size recipe (the demo's: also its data and vocabulary
    settings), adjusted for the objective where it needs it."""
    if preset not in PRESET_TRAINING:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESET_TRAINING)}.")
    return {**COMMON_TRAINING, "output_dir": f"runs/electra-{preset}",
            "dataloader_pin_memory": torch.cuda.is_available(),  # pinning without a GPU only warns
            **PRESET_TRAINING[preset], **OBJECTIVE_TRAINING.get((preset, objective), {})}


def _transformer_layers(model: torch.nn.Module) -> int | None:
    config = getattr(model, "config", None)
    config = getattr(config, "discriminator_config", config)
    return getattr(config, "num_hidden_layers", None)


def _has_weights(directory: str) -> bool:
    return any(os.path.exists(os.path.join(directory, name))
               for name in ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"))


def is_complete_checkpoint(directory: str) -> bool:
    try:  # the Trainer writes trainer_state.json last: without it the save did not finish
        with open(os.path.join(directory, "trainer_state.json")) as f:
            json.load(f)
    except (OSError, ValueError):
        return False
    if is_pair_checkpoint(directory):
        return all(_has_weights(os.path.join(directory, half)) for half in ("discriminator", "generator")
                   if os.path.isdir(os.path.join(directory, half)))
    return _has_weights(directory)


def last_complete_checkpoint(output_dir: str) -> str | None:
    """The newest `checkpoint-N` in `output_dir` whose save finished; an unfinished one (a run killed while
    saving) is skipped with a warning, so resuming falls back to the previous checkpoint."""
    if not os.path.isdir(output_dir):
        return None
    steps = {int(m.group(1)): name for name in os.listdir(output_dir)
             if (m := re.fullmatch(r"checkpoint-(\d+)", name)) and os.path.isdir(os.path.join(output_dir, name))}
    for step in sorted(steps, reverse=True):
        path = os.path.join(output_dir, steps[step])
        if is_complete_checkpoint(path):
            return path
        logger.warning("Skipping %s: its save did not finish (was the run killed?).", path)
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


def remove_checkpoints(output_dir: str) -> None:
    """Delete `checkpoint-N` folders, so that a run started afresh is not resumed from an older run later."""
    if not os.path.isdir(output_dir):
        return
    for name in os.listdir(output_dir):
        if re.fullmatch(r"checkpoint-\d+", name):
            logger.info("Removing %s (--overwrite_output_dir)", os.path.join(output_dir, name))
            shutil.rmtree(os.path.join(output_dir, name))


MODE_FIELDS = ("objective", "generator_type", "tie_generator", "untied_generator_embeddings")
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
        tokenizer = self.processing_class or getattr(self.data_collator, "tokenizer", None)
        if isinstance(model, ElectraPretrainingModel) and tokenizer is not None:
            model.config.check_tokenizer(tokenizer)

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
                                                     self.args.lr_decay_power)
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
