#!/usr/bin/env python
"""Fine-tune ELECTRA on GLUE (or any sentence / sentence-pair classification or regression task) with the
original recipe: the original head, Adam without bias correction, layer-wise learning-rate decay, the
warm-up × decay schedule, the loss summed over the batch, double_unordered for MRPC and STS-B.

    python run_glue.py --model_name_or_path google/electra-small-discriminator --task_name cola
    python run_glue.py --model_name_or_path runs/electra-small --task_name all --glue_dir glue_data --num_trials 10
    python run_glue.py --model_name_or_path DIR --task_name custom --train_file t.csv --validation_file v.csv \\
        --sentence1_key text --label_key label
    python run_glue.py args.json

Each task reports its dev metrics (×100) per trial and, over trials, their mean, median, std and best; the
chosen trial's test predictions become GLUE-server files in <output_dir>/submission/.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import sys
from dataclasses import dataclass, field

import datasets
from transformers import DataCollatorWithPadding

from electra_hf import ElectraTrainer, ElectraTrainingArguments
from electra_hf.metrics.glue import glue_metrics, predictions_from_logits
from electra_hf.tasks import (
    TRAINABLE_TASKS,
    ElectraForClassification,
    GlueTask,
    double_unordered,
    encode,
    get_task,
    load_files,
    load_task_splits,
    sorted_by_length,
    write_submission,
)
from electra_hf.tasks.cli import check_max_length, discriminator_path, load_model_tokenizer, setup_logging
from electra_hf.tasks.cli import parse_arguments as parse_finetuning_arguments
from electra_hf.tasks.recipe import finetuning_recipe
from electra_hf.tasks.trials import choose_trial, format_summary, summarize_trials

logger = logging.getLogger("run_glue")


@dataclass
class ModelArguments:
    model_name_or_path: str = field(metadata={
        "help": "A discriminator: Hub id, directory, or a pre-training output directory (its discriminator/)."})
    tokenizer_name: str | None = field(default=None, metadata={"help": "Default: the model's own tokenizer."})


@dataclass
class DataArguments:
    task_name: str = field(default="all", metadata={
        "help": "cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli, ax (with an MNLI model), all, or custom."})
    glue_dir: str | None = field(default=None, metadata={
        "help": "The GLUE download (CoLA/, SST-2/, ... or the original's renamed cola/, sst/, ...); default: the Hub."})
    dataset_name: str = field(default="nyu-mll/glue", metadata={"help": "The Hub dataset when --glue_dir is unset."})
    train_file: str | None = field(default=None, metadata={"help": "csv/tsv/json(l) for --task_name custom."})
    validation_file: str | None = field(default=None, metadata={"help": "Its evaluation file."})
    test_file: str | None = field(default=None, metadata={"help": "Its file to predict."})
    sentence1_key: str = field(default="sentence1", metadata={"help": "Column of the first text (custom)."})
    sentence2_key: str | None = field(default=None, metadata={"help": "Column of the second text (custom)."})
    label_key: str = field(default="label", metadata={"help": "Column of the label (custom)."})
    regression: bool = field(default=False, metadata={"help": "The custom task is a regression on [0, 1]."})
    max_seq_length: int = field(default=128, metadata={"help": "Truncation length (the original: 128)."})
    double_unordered: bool | None = field(default=None, metadata={
        "help": "Add swapped copies of the training pairs (default: on for MRPC and STS-B, as the original)."})
    recipe: str = field(default="code", metadata={
        "help": "code: the released code's defaults; paper: the paper's (e.g. lr 3e-4 for small, weight decay 0).",
        "choices": ["code", "paper"]})
    num_trials: int = field(default=1, metadata={"help": "Seeds per task (seed, seed+1, ...)."})
    submission_trial: str = field(default="best", metadata={
        "help": "Which trial's test predictions become the submission.", "choices": ["best", "median", "first"]})
    keep_all_trials: bool = field(default=False, metadata={"help": "Keep every trial's model (default: the chosen)."})
    max_bad_rows: int = field(default=100, metadata={"help": "Malformed rows to skip (and report) per file."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Truncate the training set (debugging)."})


def parse_arguments(argv: list[str]) -> tuple[ModelArguments, DataArguments, ElectraTrainingArguments, set[str]]:
    """The arguments and the names given explicitly (the recipe fills the others per task)."""
    defaults = {"output_dir": "runs/glue", "save_strategy": "no", "eval_strategy": "no", "logging_steps": 50,
                "per_device_eval_batch_size": 128, "train_sampling_strategy": "group_by_length",
                "report_to": "tensorboard"}
    return parse_finetuning_arguments((ModelArguments, DataArguments, ElectraTrainingArguments), defaults, argv,
                                      description=__doc__)


def custom_task(data_args: DataArguments) -> tuple[GlueTask, dict]:
    if not data_args.train_file:
        raise ValueError("--task_name custom needs --train_file (and --validation_file).")
    labels = None
    if not data_args.regression:
        train = datasets.load_dataset("csv" if data_args.train_file.endswith((".csv", ".tsv")) else "json",
                                      data_files=data_args.train_file, split="train",
                                      **({"delimiter": "\t"} if data_args.train_file.endswith(".tsv") else {}))
        if data_args.label_key not in train.column_names:
            raise ValueError(f"{data_args.train_file} has no column {data_args.label_key!r}: pass --label_key.")
        labels = tuple(sorted({str(v) for v in train[data_args.label_key]}))
    task = GlueTask("custom", labels, "", "", None, None, (data_args.sentence1_key, data_args.sentence2_key),
                    ("spearman", "pearson") if data_args.regression else ("accuracy",),
                    {"test": "custom.tsv"} if data_args.test_file else {})
    files = {"train": data_args.train_file, "validation": data_args.validation_file, "test": data_args.test_file}
    splits = {split: load_files(path, data_args.sentence1_key, data_args.sentence2_key,
                                data_args.label_key if split != "test" else None, labels)
              for split, path in files.items() if path}
    return task, splits


def run_task(task: GlueTask, splits: dict, tokenizer, data_args, training_args, explicit: set[str],
             model_path: str) -> tuple[list[dict], list[dict]]:
    """Every trial of one task: train, score the evaluation splits, predict the test splits."""
    max_len = data_args.max_seq_length
    train = splits["train"]
    if data_args.max_train_samples:
        train = train.select(range(min(data_args.max_train_samples, len(train))))
    if task.double_unordered if data_args.double_unordered is None else data_args.double_unordered:
        train = double_unordered(train)
    train = encode(train, tokenizer, max_len)
    evaluation = {split: sorted_by_length(encode(splits[split], tokenizer, max_len))
                  for split in task.eval_splits if split in splits}
    tests = {split: sorted_by_length(encode(splits[split], tokenizer, max_len, labelled=False))
             for split in task.test_splits if split in splits}

    label_kwargs = ({"num_labels": 1, "problem_type": "regression"} if task.is_regression else
                    {"num_labels": len(task.labels), "problem_type": "single_label_classification",
                     "id2label": dict(enumerate(task.labels)), "label2id": {v: i for i, v in enumerate(task.labels)}})
    trials, predictions = [], []
    for trial in range(data_args.num_trials):
        model = ElectraForClassification.from_pretrained(model_path, **label_kwargs)
        recipe = finetuning_recipe(data_args.recipe, model.config.hidden_size, task.epochs)
        trial_dir = os.path.join(training_args.output_dir, task.name, f"trial_{trial}")
        args = dataclasses.replace(training_args, output_dir=trial_dir, seed=training_args.seed + trial,
                                   **{k: v for k, v in recipe.items() if k not in explicit})
        trainer = ElectraTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer,
                                 data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8))
        trainer.train()
        metrics = {}
        for split, dataset in evaluation.items():
            output = trainer.predict(dataset)
            prefix = "mm_" if split == "validation_mismatched" else ""
            scores = glue_metrics(task.metrics, predictions_from_logits(output.predictions, task.is_regression),
                                  output.label_ids)
            metrics.update({prefix + name: value for name, value in scores.items()})
        logger.info("%s trial %d: %s", task.name, trial, json.dumps({k: round(v, 2) for k, v in metrics.items()}))
        trial_predictions = {split: (dataset["idx"], predictions_from_logits(trainer.predict(dataset).predictions,
                                                                             task.is_regression).tolist())
                             for split, dataset in tests.items()}
        trainer.save_model(trial_dir)
        for split, (indices, values) in trial_predictions.items():  # kept with the trial's model
            write_submission(os.path.join(trial_dir, "predictions", task.submission[split]), task, indices, values)
        trials.append(metrics)
        predictions.append(trial_predictions)
    return trials, predictions


def main(argv: list[str] | None = None) -> dict:
    model_args, data_args, training_args, explicit = parse_arguments(sys.argv[1:] if argv is None else argv)
    setup_logging(logger, training_args)
    model_path = discriminator_path(model_args.model_name_or_path)
    tokenizer = load_model_tokenizer(model_path, model_args.tokenizer_name)
    check_max_length(ElectraForClassification.config_class.from_pretrained(model_path), data_args.max_seq_length)

    if data_args.task_name == "custom":
        custom, custom_splits = custom_task(data_args)
        tasks = {"custom": custom}
    else:
        names = TRAINABLE_TASKS if data_args.task_name == "all" else [data_args.task_name]
        tasks = {task.name: task for task in map(get_task, names)}
        if "mnli" in tasks:
            tasks["ax"] = get_task("ax")  # predicted by the MNLI model

    results, summaries, submission_dir = {}, {}, os.path.join(training_args.output_dir, "submission")
    mnli_model = None
    for name, task in tasks.items():
        splits = custom_splits if name == "custom" else load_task_splits(
            task, glue_dir=data_args.glue_dir, dataset_name=data_args.dataset_name, max_bad_rows=data_args.max_bad_rows)
        if name == "ax":
            write_ax(task, splits, tokenizer, data_args, training_args, mnli_model or model_path, submission_dir)
            continue
        trials, predictions = run_task(task, splits, tokenizer, data_args, training_args, explicit, model_path)
        headline = next(iter(trials[0]))
        chosen = choose_trial(trials, headline, data_args.submission_trial)
        summaries[name] = summarize_trials(trials)
        results[name] = {"trials": trials, "summary": summaries[name], "chosen_trial": chosen}
        chosen_dir = os.path.join(training_args.output_dir, name, f"trial_{chosen}")
        for split, (indices, values) in predictions[chosen].items():
            write_submission(os.path.join(submission_dir, task.submission[split]), task, indices, values)
        if name == "mnli":
            mnli_model = chosen_dir
        if not data_args.keep_all_trials:
            for trial in range(len(trials)):
                if trial != chosen:
                    shutil.rmtree(os.path.join(training_args.output_dir, name, f"trial_{trial}"), ignore_errors=True)

    if training_args.should_save:
        with open(os.path.join(training_args.output_dir, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
    if summaries:
        print("\n" + format_summary(summaries))
        print(f"\nResults: {os.path.join(training_args.output_dir, 'results.json')}")
    if os.path.isdir(submission_dir):
        print(f"GLUE-server files: {submission_dir} ({', '.join(sorted(os.listdir(submission_dir)))})")
    return results


def write_ax(task, splits, tokenizer, data_args, training_args, model_path, submission_dir) -> None:
    """AX, the diagnostic set, is predicted by an MNLI model."""
    if "test" not in splits:
        return
    model = ElectraForClassification.from_pretrained(model_path)
    if model.config.num_labels != 3:
        raise ValueError(f"AX needs an MNLI model (3 labels); {model_path} has {model.config.num_labels}.")
    args = dataclasses.replace(training_args, output_dir=os.path.join(training_args.output_dir, "ax"))
    trainer = ElectraTrainer(model=model, args=args, processing_class=tokenizer,
                             data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8))
    dataset = sorted_by_length(encode(splits["test"], tokenizer, data_args.max_seq_length, labelled=False))
    predictions = predictions_from_logits(trainer.predict(dataset).predictions, regression=False)
    write_submission(os.path.join(submission_dir, task.submission["test"]), task, dataset["idx"], predictions)


if __name__ == "__main__":
    main()
