"""A few ElectraTrainer steps under `accelerate launch --num_processes 2 --cpu` (gloo); used by test_trainer.py."""

import json
import os
import sys

import torch
from datasets import Dataset

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from electra_hf import (  # noqa: E402
    DataCollatorForElectra,
    ElectraPretrainingConfig,
    ElectraPretrainingModel,
    ElectraTrainer,
    ElectraTrainingArguments,
)
from electra_hf.cli import end_process_group  # noqa: E402
from electra_hf.data import load_tokenizer  # noqa: E402
from tests.conftest import synthetic_sentences  # noqa: E402


def main(output_dir: str) -> None:
    tokenizer = load_tokenizer()
    config = ElectraPretrainingConfig.from_preset("tiny", num_hidden_layers=1)
    dataset = Dataset.from_dict({"text": synthetic_sentences(64)}).map(
        lambda b: tokenizer(b["text"]), batched=True, remove_columns=["text"])
    args = ElectraTrainingArguments(output_dir=os.path.join(output_dir, "out"), per_device_train_batch_size=4,
                                    max_steps=4, warmup_steps=2, logging_steps=2, report_to="none",
                                    save_strategy="no", disable_tqdm=True, use_cpu=True, seed=0)
    trainer = ElectraTrainer(model=ElectraPretrainingModel(config), args=args, train_dataset=dataset,
                             data_collator=DataCollatorForElectra.from_config(tokenizer, config),
                             processing_class=tokenizer)
    trainer.train()
    checksum = torch.stack([p.detach().double().sum() for p in trainer.model.parameters()]).sum().reshape(1)
    checksums = trainer.accelerator.gather(checksum)
    if trainer.is_world_process_zero():
        report = {"world_size": trainer.accelerator.num_processes, "global_step": trainer.state.global_step,
                  "weights_equal_across_ranks": bool(torch.allclose(checksums, checksums[0], rtol=0, atol=0)),
                  "last_log": [log for log in trainer.state.log_history if "loss" in log][-1]}
        with open(os.path.join(output_dir, "report.json"), "w") as f:
            json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1])
    end_process_group()  # as the commands do; left to teardown, it aborted a finished run once in a full suite
