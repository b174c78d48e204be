"""The original fine-tuning recipe (configure_finetuning.py) and the paper's (its Table 7, as recalled: not yet
checked against the paper), as ElectraTrainingArguments values per model size and task."""

from __future__ import annotations

# learning rate, layer-wise decay and weight decay by model size
RECIPES = {
    "code": {"small": (1e-4, 0.8, 0.01), "base": (1e-4, 0.8, 0.01), "large": (5e-5, 0.9, 0.01)},
    "paper": {"small": (3e-4, 0.8, 0.0), "base": (1e-4, 0.8, 0.0), "large": (5e-5, 0.9, 0.0)},
}


def model_size(hidden_size: int) -> str:
    """small (hidden 256), base (768) or large (1024); other widths take the nearest recipe."""
    return "small" if hidden_size < 512 else "base" if hidden_size < 1024 else "large"


def finetuning_recipe(recipe: str, hidden_size: int, epochs: int) -> dict:
    """ElectraTrainingArguments values: the size's learning rate and layer-wise decay, 10% warm-up, batch 32,
    the task's epochs (10 for RTE and STS-B, 2 for SQuAD, 3 otherwise)."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe={recipe!r}: use 'code' (the released code's defaults) or 'paper'.")
    learning_rate, layer_decay, weight_decay = RECIPES[recipe][model_size(hidden_size)]
    return {"learning_rate": learning_rate, "layerwise_lr_decay": layer_decay, "weight_decay": weight_decay,
            "warmup_steps": 0.1, "per_device_train_batch_size": 32, "num_train_epochs": epochs}
