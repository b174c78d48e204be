"""GLUE fine-tuning throughput: electra-hf's recipe against a plain transformers run, same data, same run.

    python benchmarks/glue_finetune.py --steps 40 --eval_examples 1024

- electra_hf: ElectraForClassification (the original head) through ElectraTrainer (the original optimizer,
  layer-wise decay), dynamic padding to a multiple of 8, length-grouped training batches, evaluation rows
  sorted by length in batches of 128 (what run_glue.py does).
- plain_hf: ElectraForSequenceClassification through transformers' Trainer with its defaults and
  examples/pytorch/text-classification/run_glue.py's padding to max_seq_length, evaluation batch 8.

Both fine-tune the same randomly initialised ELECTRA-Small discriminator on the same rows: random token ids
whose lengths follow GLUE's spread (8 to 128 tokens, most short), batch 32. Reported: training steps/s and
evaluation examples/s as the Trainer measures them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np
import torch
from datasets import Dataset
from transformers import (
    DataCollatorWithPadding,
    ElectraForSequenceClassification,
    Trainer,
    TrainingArguments,
)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.report import print_ratio_table, write_results  # noqa: E402
from electra_hf import (  # noqa: E402
    ElectraPretrainingConfig,
    ElectraPretrainingModel,
    ElectraTrainer,
    ElectraTrainingArguments,
)
from electra_hf.data import load_tokenizer  # noqa: E402
from electra_hf.tasks import ElectraForClassification, sorted_by_length  # noqa: E402


def rows(n: int, max_len: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(28), 0.6, n).astype(int), 8, max_len)  # GLUE-like: median ~28
    ids = [[101] + rng.integers(1000, 30000, length - 2).tolist() + [102] for length in lengths]
    return Dataset.from_dict({"input_ids": ids, "labels": rng.integers(0, 2, n).tolist()})


def run(impl: str, model_dir: str, train: Dataset, evaluation: Dataset, args) -> dict:
    tokenizer = load_tokenizer()
    common = dict(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=32, max_steps=args.steps,
                  report_to="none", save_strategy="no", disable_tqdm=True, logging_steps=10_000,
                  use_cpu=args.device == "cpu", bf16=args.bf16, dataloader_num_workers=0)
    if impl == "electra_hf":
        model = ElectraForClassification.from_pretrained(model_dir, num_labels=2)
        training = ElectraTrainingArguments(**common, learning_rate=1e-4, layerwise_lr_decay=0.8, warmup_steps=0.1,
                                            per_device_eval_batch_size=128,
                                            train_sampling_strategy="group_by_length")
        trainer = ElectraTrainer(model=model, args=training, train_dataset=train,
                                 eval_dataset=sorted_by_length(evaluation),
                                 data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8))
    else:
        model = ElectraForSequenceClassification.from_pretrained(model_dir, num_labels=2)
        training = TrainingArguments(**common, learning_rate=1e-4)
        trainer = Trainer(model=model, args=training, train_dataset=train, eval_dataset=evaluation,
                          data_collator=DataCollatorWithPadding(tokenizer, padding="max_length",
                                                                max_length=args.max_seq_length))
    trained = trainer.train().metrics
    evaluated = trainer.evaluate()
    return {"impl": impl, "train_steps_per_s": trained["train_steps_per_second"],
            "eval_examples_per_s": evaluated["eval_samples_per_second"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--eval_examples", type=int, default=1024)
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    args = parser.parse_args()

    train = rows(args.steps * 32, args.max_seq_length, 0)
    evaluation = rows(args.eval_examples, args.max_seq_length, 1)
    model_dir = tempfile.mkdtemp()
    torch.manual_seed(0)
    ElectraPretrainingModel(ElectraPretrainingConfig.from_preset("small")).discriminator.save_pretrained(model_dir)
    results = [run(impl, model_dir, train, evaluation, args) for impl in ("electra_hf", "plain_hf")]
    print_ratio_table(results, {"train_steps_per_s": "train steps/s", "eval_examples_per_s": "eval examples/s"},
                      baseline="plain_hf")
    write_results(args.output, args, results)


if __name__ == "__main__":
    main()
