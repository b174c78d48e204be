"""electra-hf: ELECTRA pre-training and fine-tuning on transformers, exact to the original."""

from .collators import DataCollatorForElectra
from .config import ElectraPretrainingConfig
from .modeling import ElectraPretrainingModel, ElectraPretrainingOutput
from .trainer import ElectraTrainer, ElectraTrainingArguments
from .two_tower import ElectraTwoTowerConfig, ElectraTwoTowerGenerator

__version__ = "0.1.0"

__all__ = [
    "DataCollatorForElectra",
    "ElectraPretrainingConfig",
    "ElectraPretrainingModel",
    "ElectraPretrainingOutput",
    "ElectraTrainer",
    "ElectraTrainingArguments",
    "ElectraTwoTowerConfig",
    "ElectraTwoTowerGenerator",
]
