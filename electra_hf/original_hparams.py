"""The original's `--hparams` (configure_pretraining.py) translated: which preset they start from, the model hparams
ElectraPretrainingConfig takes (in the original's names: model_size, model_hparam_overrides, embedding_size,
electra_objective, uniform_generator, ...), and the training ones, renamed for ElectraTrainingArguments."""

from __future__ import annotations

import json
import os
from typing import Any

from .presets import MODEL_SIZES

# Original hparams that configure training, not the model: they belong to ElectraTrainingArguments.
ORIGINAL_TRAINING_HPARAMS = {
    "learning_rate": "learning_rate",
    "lr_decay_power": "lr_decay_power",
    "weight_decay_rate": "weight_decay",
    "num_warmup_steps": "warmup_steps",
    "num_train_steps": "max_steps",
    "train_batch_size": "global_batch_size",
    "eval_batch_size": "per_device_eval_batch_size",
    "save_checkpoints_steps": "save_steps",
    "keep_checkpoint_max": "save_total_limit",
    "num_eval_steps": None,
    "iterations_per_loop": None,
    "use_tpu": None,
    "num_tpu_cores": None,
    "tpu_job_name": None,
    "tpu_name": None,
    "tpu_zone": None,
    "gcp_project": None,
    "do_train": "do_train",
    "do_eval": "do_eval",
    "model_name": None,
    "data_dir": None,
    "pretrain_tfrecords": None,
    "vocab_file": None,
    "model_dir": "output_dir",
    "results_txt": None,
    "results_pkl": None,
    "do_lower_case": None,
}

def read_original_hparams(hparams: dict | str) -> dict:
    """The original's `--hparams`: a dict, a JSON string or the path of a .json file."""
    if isinstance(hparams, dict):
        return dict(hparams)
    if hparams.endswith(".json") and os.path.exists(hparams):
        with open(hparams) as f:
            return json.load(f)
    try:
        return json.loads(hparams)
    except json.JSONDecodeError as err:
        raise ValueError(f"--hparams is neither a .json file nor JSON: {hparams!r} ({err}).") from None


def original_preset(hparams: dict) -> str:
    """The preset an original hparams dict asks for: its model_size, or tiny in debug mode."""
    return "tiny" if hparams.get("debug") else hparams.get("model_size", "small")


def original_objective(hparams: dict) -> str | None:
    """The objective the original's hparams choose, None when they name neither flag (configure_pretraining.py:
    electra_objective defaults to True, electric_objective to False; Electric wins when both are set)."""
    if "electra_objective" not in hparams and "electric_objective" not in hparams:
        return None
    if hparams.get("electric_objective"):
        return "electric"
    return "electra" if hparams.get("electra_objective", True) else "mlm"


def split_original_hparams(hparams: dict | str) -> tuple[str, dict, dict]:
    """(the preset, the model hparams, the training hparams in ElectraTrainingArguments names); training hparams
    without a counterpart (TPU settings, paths) are dropped."""
    hparams = read_original_hparams(hparams)
    preset = original_preset(hparams)
    hparams.pop("debug", None)
    hparams.pop("model_size", None)
    training = {}
    for key in list(hparams):
        if key in ORIGINAL_TRAINING_HPARAMS:
            value = hparams.pop(key)
            if ORIGINAL_TRAINING_HPARAMS[key] is not None:
                training[ORIGINAL_TRAINING_HPARAMS[key]] = value
    return preset, hparams, training


def original_model_hparams(hparams: dict[str, Any]) -> tuple[dict, dict]:
    """(the discriminator's ElectraConfig fields, the remaining ElectraPretrainingConfig fields) from model hparams
    in the original's names: the model size and its overrides as util/training_utils.py:96-112 applies them, the
    objective flags and the generator flags as this package's fields."""
    hparams = dict(hparams)
    objective = original_objective(hparams)
    hparams.pop("electra_objective", None)
    hparams.pop("electric_objective", None)
    if objective is not None:
        hparams["objective"] = objective
    uniform, two_tower = hparams.pop("uniform_generator", False), hparams.pop("two_tower_generator", None)
    if uniform and two_tower:
        raise ValueError("uniform_generator and two_tower_generator are both true: choose one generator.")
    if uniform or two_tower is not None:
        hparams["generator_type"] = "uniform" if uniform else "two_tower" if two_tower else "masked_lm"
    if "untied_generator" in hparams:
        hparams["tie_generator"] = not hparams.pop("untied_generator") and hparams.get("objective") != "mlm"
    size = hparams.pop("model_size")
    if size not in MODEL_SIZES:
        raise ValueError(f"model_size={size!r}: the original knows 'small', 'base' and 'large'.")
    # util/training_utils.py:96-112: overrides, then heads and FFN from the hidden size, then overrides again.
    model = dict(MODEL_SIZES[size])
    model["vocab_size"] = hparams.pop("vocab_size", 30522)
    overrides = hparams.pop("model_hparam_overrides", {})
    model.update(overrides)
    model["num_attention_heads"] = max(1, model["hidden_size"] // 64)
    model["intermediate_size"] = 4 * model["hidden_size"]
    model.update(overrides)
    embedding_size = hparams.pop("embedding_size", None)
    model["embedding_size"] = model["hidden_size"] if embedding_size is None else embedding_size
    return model, hparams
