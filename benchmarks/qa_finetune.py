"""Question-answering fine-tuning throughput at length 512: electra-hf's original head against transformers'
ElectraForQuestionAnswering, same data, same run.

    python benchmarks/qa_finetune.py --presets small base --steps 5 --batch_size 32 --predict_examples 256

- electra_hf: ElectraForSpanQuestionAnswering (start, end conditioned on the start, no-answer classifier;
  at prediction the 20 x 20 beam) through ElectraTrainer, dynamic padding to a multiple of 8 and
  length-grouped training batches, prediction batch 32 (what run_qa.py does).
- electra_hf_pad512: the same with every window padded to 512, to show the head's own cost.
- plain_hf: ElectraForQuestionAnswering (independent start/end logits) through transformers' Trainer with its
  defaults and examples/pytorch/question-answering/run_qa.py's padding to max_seq_length, prediction batch 8.

Every implementation fine-tunes the same randomly initialised discriminator on the same windows: random
token ids with SQuAD-like lengths (a 12-token question, contexts of median 140 tokens, at most 512 in all),
a third of them unanswerable. Reported: training steps/s and prediction windows/s as the Trainer measures them.
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
    ElectraForPreTraining,
    ElectraForQuestionAnswering,
    Trainer,
    TrainingArguments,
)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.report import print_ratio_table, write_results  # noqa: E402
from electra_hf import ElectraPretrainingConfig, ElectraTrainer, ElectraTrainingArguments  # noqa: E402
from electra_hf.data import load_tokenizer  # noqa: E402
from electra_hf.tasks.qa_model import ElectraForSpanQuestionAnswering, qa_config  # noqa: E402

IMPLEMENTATIONS = ("electra_hf", "electra_hf_pad512", "plain_hf")


def windows(n: int, max_len: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    question = 12
    contexts = np.clip(rng.lognormal(np.log(140), 0.5, n).astype(int), 20, max_len - question - 3)
    rows = {"input_ids": [], "token_type_ids": [], "start_positions": [], "end_positions": [], "is_impossible": []}
    for length in contexts:
        query, context = rng.integers(1000, 30000, question).tolist(), rng.integers(1000, 30000, length).tolist()
        rows["input_ids"].append([101, *query, 102, *context, 102])
        rows["token_type_ids"].append([0] * (question + 2) + [1] * (length + 1))
        impossible = rng.random() < 1 / 3
        start = 0 if impossible else int(rng.integers(question + 2, question + 2 + length - 5))
        rows["start_positions"].append(start)
        rows["end_positions"].append(0 if impossible else start + int(rng.integers(0, 5)))
        rows["is_impossible"].append(float(impossible))
    return Dataset.from_dict(rows)


def run(impl: str, model_dir: str, train: Dataset, predict: Dataset, args) -> dict:
    tokenizer = load_tokenizer()
    common = dict(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=args.batch_size, max_steps=args.steps,
                  report_to="none", save_strategy="no", disable_tqdm=True, logging_steps=10_000,
                  use_cpu=args.device == "cpu", bf16=args.bf16, dataloader_num_workers=0)
    padded = DataCollatorWithPadding(tokenizer, padding="max_length", max_length=args.max_seq_length)
    if impl.startswith("electra_hf"):
        model = ElectraForSpanQuestionAnswering.from_pretrained(model_dir, config=qa_config(model_dir))
        training = ElectraTrainingArguments(**common, learning_rate=1e-4, layerwise_lr_decay=0.8, warmup_steps=0.1,
                                            per_device_eval_batch_size=32, train_sampling_strategy="group_by_length")
        collator = padded if impl.endswith("pad512") else DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)
        trainer = ElectraTrainer(model=model, args=training, train_dataset=train, data_collator=collator)
        predict = predict.remove_columns(["start_positions", "end_positions", "is_impossible"])
    else:
        model = ElectraForQuestionAnswering.from_pretrained(model_dir)
        trainer = Trainer(model=model, args=TrainingArguments(**common, learning_rate=1e-4),
                          train_dataset=train.remove_columns("is_impossible"), data_collator=padded)
        predict = predict.remove_columns(["start_positions", "end_positions", "is_impossible"])
    trained = trainer.train().metrics
    predicted = trainer.predict(predict).metrics
    return {"impl": impl, "train_steps_per_s": trained["train_steps_per_second"],
            "predict_windows_per_s": predicted["test_samples_per_second"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["small", "base"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--predict_examples", type=int, default=256)
    parser.add_argument("--max_seq_length", type=int, default=512)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    args = parser.parse_args()

    train = windows(args.steps * args.batch_size, args.max_seq_length, 0)
    predict = windows(args.predict_examples, args.max_seq_length, 1)
    results = []
    for preset in args.presets:
        model_dir = tempfile.mkdtemp()
        torch.manual_seed(0)
        ElectraForPreTraining(ElectraPretrainingConfig.from_preset(preset).discriminator_config).save_pretrained(
            model_dir)
        for impl in IMPLEMENTATIONS:
            results.append({"preset": preset, **run(impl, model_dir, train, predict, args)})
            print(results[-1], flush=True)
    print_ratio_table(results, {"train_steps_per_s": "train steps/s", "predict_windows_per_s": "predict windows/s"},
                      baseline="plain_hf", group="preset")
    write_results(args.output, args, results)


if __name__ == "__main__":
    main()
