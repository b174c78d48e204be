"""electra-hf: ELECTRA pre-training and fine-tuning on transformers, exact to the original."""

import importlib

__version__ = "0.1.0"

# Imported on first use, so that a command's --help or a bad flag answers before torch and transformers load.
_EXPORTS = {
    "DataCollatorForElectra": "collators",
    "ElectraPretrainingConfig": "config",
    "ElectraPretrainingModel": "modeling",
    "ElectraPretrainingOutput": "modeling",
    "ElectraTrainer": "trainer",
    "ElectraTrainingArguments": "training_args",
    "ElectraTwoTowerConfig": "two_tower",
    "ElectraTwoTowerGenerator": "two_tower",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'electra_hf' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
