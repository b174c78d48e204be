"""The presets, in one table: each model size with its pre-training recipe (the original's configure_pretraining.py
and util/training_utils.py:96-112), plus this package's `demo`. Model settings use the original's hparam names
(ElectraPretrainingConfig.from_preset reads them); training settings are ElectraTrainingArguments defaults under
anything the user passes. run_pretraining.py's --preset choices are this table's keys.

A preset's batch is global, as the original's: the per-device batch is derived for the processes and
accumulation steps of the run (ElectraTrainingArguments.derive_per_device_batch).
"""

from __future__ import annotations

from typing import Any

# The original's model sizes (util/training_utils.py:96-112); heads and FFN follow from the hidden size.
MODEL_SIZES = {
    "small": {"hidden_size": 256, "num_hidden_layers": 12},
    "base": {"hidden_size": 768, "num_hidden_layers": 12},
    "large": {"hidden_size": 1024, "num_hidden_layers": 24},
}

_SMALL = {"model": {"model_size": "small", "embedding_size": 128, "generator_hidden_size": 0.25, "mask_prob": 0.15,
                    "max_seq_length": 128},
          "training": {"learning_rate": 5e-4, "global_batch_size": 128, "max_steps": 1_000_000}}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "small": _SMALL,
    # The released small model: small with a full-size generator.
    "small++": {"model": {**_SMALL["model"], "generator_hidden_size": 1.0}, "training": _SMALL["training"]},
    "base": {
        "model": {"model_size": "base", "embedding_size": 768, "generator_hidden_size": 0.33333, "mask_prob": 0.15,
                  "max_seq_length": 512},
        "training": {"learning_rate": 2e-4, "global_batch_size": 256, "max_steps": 766_000}},
    "large": {
        "model": {"model_size": "large", "embedding_size": 1024, "generator_hidden_size": 0.25, "mask_prob": 0.25,
                  "max_seq_length": 512},
        "training": {"learning_rate": 2e-4, "global_batch_size": 2048, "max_steps": 400_000}},
    # The original's debug transformer (run_pretraining.py:45-49) with the small embedding size.
    "tiny": {
        "model": {"model_size": "small", "embedding_size": 128, "generator_hidden_size": 0.25, "mask_prob": 0.15,
                  "max_seq_length": 128,
                  "model_hparam_overrides": {"num_hidden_layers": 3, "hidden_size": 144, "intermediate_size": 576,
                                             "num_attention_heads": 4}},
        "training": {"learning_rate": 1e-3, "global_batch_size": 16, "max_steps": 300, "warmup_steps": 30,
                     "logging_steps": 25, "eval_steps": 150, "save_steps": 150, "per_device_eval_batch_size": 64}},
    # Not the original's: the default run, sized by measurement to learn visibly in minutes on 2 CPU cores
    # (benchmarks/RESULTS.md). Dropout is off: a model this small underfits in a few epochs, and dropout's random
    # masks are a fifth of a CPU step. Adam's bias correction on: without it the first updates are ~3x larger and a
    # model this small at this learning rate collapses to unigram predictions.
    "demo": {
        "model": {"model_size": "small", "embedding_size": 128, "generator_hidden_size": 0.5, "mask_prob": 0.15,
                  "max_seq_length": 128,
                  "model_hparam_overrides": {"num_hidden_layers": 2, "hidden_size": 128, "intermediate_size": 512,
                                             "num_attention_heads": 2, "hidden_dropout_prob": 0.0,
                                             "attention_probs_dropout_prob": 0.0}},
        "training": {"learning_rate": 2e-3, "global_batch_size": 32, "max_steps": 600, "warmup_steps": 60,
                     "adam_bias_correction": True, "logging_steps": 25, "eval_steps": 200, "save_steps": 200,
                     "per_device_eval_batch_size": 100, "eval_size": 500, "train_tokenizer": True,
                     "vocab_size": 4096}},
}
DEFAULT_PRESET = "demo"
TOY_PRESETS = ("demo", "tiny")  # trained for minutes: their model cards say so
# Electric's step costs about 2.5x ELECTRA's on a CPU (two towers and a cloze head at every position): its demo
# gets the same wall-clock budget in fewer steps.
OBJECTIVE_TRAINING = {("demo", "electric"): {"max_steps": 250, "warmup_steps": 25, "eval_steps": 125,
                                             "save_steps": 125}}
COMMON_TRAINING = {"warmup_steps": 10_000, "logging_steps": 100, "eval_strategy": "steps", "eval_steps": 10_000,
                   "save_strategy": "steps", "save_steps": 1000, "save_total_limit": 5, "report_to": "tensorboard",
                   "per_device_eval_batch_size": 128, "ddp_find_unused_parameters": False}


def check_preset(name: str) -> None:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}.")


def training_defaults(preset: str, objective: str | None = None) -> dict:
    """Defaults for a preset's run: the original's per-size recipe (the demo's: also its data and vocabulary
    settings), adjusted for the objective where it needs it."""
    import torch

    check_preset(preset)
    return {**COMMON_TRAINING, "output_dir": f"runs/electra-{preset}",
            "dataloader_pin_memory": torch.cuda.is_available(),  # pinning without a GPU only warns
            **PRESETS[preset]["training"], **OBJECTIVE_TRAINING.get((preset, objective), {})}
