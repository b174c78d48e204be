"""electra-hf: ELECTRA pre-training and fine-tuning on transformers, exact to the original."""

from .lazy import lazy_exports

__version__ = "0.1.0"

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

__getattr__ = lazy_exports(__name__, _EXPORTS)
