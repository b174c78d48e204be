#!/usr/bin/env python
"""Fine-tune ELECTRA on GLUE (or any sentence / sentence-pair classification or regression task) with the
original recipe: the original head, Adam without bias correction, layer-wise learning-rate decay, the
warm-up × decay schedule, the loss summed over the batch, double_unordered for MRPC and STS-B.

    python run_glue.py --model_name_or_path google/electra-small-discriminator --task_name cola
    python run_glue.py --model_name_or_path runs/electra-small --task_name all --glue_dir glue_data --num_trials 10
    python run_glue.py --model_name_or_path DIR --train_file train.csv --validation_file dev.csv
    python run_glue.py args.json

Without --task_name, --train_file/--validation_file make a task of your own (csv, tsv, json or jsonl): its text
columns are sentence1/sentence2 when it has both, else the first one or two columns other than the label
(--sentence1_key/--sentence2_key/--label_key name them), a float label column makes it a regression.
Each task reports its dev metrics (×100) per trial and, over trials, their mean, median, std and best; the
chosen trial's test predictions become GLUE-server files in <output_dir>/submission/. Re-running a killed
command continues where it stopped (finished trials are kept, the unfinished one resumes from its checkpoint).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import sys
from dataclasses import dataclass, field

from electra_hf.cli import check_finetuning_inputs, one_line_errors, parse_finetuning_arguments, setup_logging

logger = logging.getLogger("run_glue")


@dataclass
class DataArguments:
    task_name: str | None = field(default=None, metadata={
        "help": "cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli, ax (with an MNLI model), or all; without it, "
                "--train_file/--validation_file make a task of your own."})
    glue_dir: str | None = field(default=None, metadata={
        "help": "The GLUE download (CoLA/, SST-2/, ... or the original's renamed cola/, sst/, ...); default: the "
                "Hub's --dataset_name (needs a network)."})
    dataset_name: str = field(default="nyu-mll/glue", metadata={"help": "The Hub dataset when --glue_dir is unset."})
    train_file: str | None = field(default=None, metadata={"help": "A task of your own: csv/tsv/json(l)."})
    validation_file: str | None = field(default=None, metadata={"help": "Its evaluation file."})
    test_file: str | None = field(default=None, metadata={"help": "Its file to predict."})
    sentence1_key: str | None = field(default=None, metadata={"help": "Column of the first text (default: inferred)."})
    sentence2_key: str | None = field(default=None, metadata={"help": "Column of the second text (default: inferred)."})
    label_key: str = field(default="label", metadata={"help": "Column of the label."})
    regression: bool | None = field(default=None, metadata={
        "help": "The task is a regression on [0, 1] (default: when the label column holds floats)."})
    max_seq_length: int = field(default=128, metadata={"help": "Truncation length (the original: 128)."})
    double_unordered: bool | None = field(default=None, metadata={
        "help": "Add swapped copies of the training pairs (default: on for MRPC and STS-B, as the original)."})
    max_bad_rows: int = field(default=100, metadata={"help": "Malformed GLUE rows to skip (and report) per file."})


def parse_glue_arguments(argv: list[str]) -> tuple:
    """The arguments and the names given explicitly (the recipe fills the others per task)."""
    return parse_finetuning_arguments((DataArguments,), {"output_dir": "runs/glue", "per_device_eval_batch_size": 128},
                                      argv, description=__doc__)


@one_line_errors
def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    check_finetuning_inputs((DataArguments,), argv)  # before torch loads
    model_args, data_args, finetuning_args, training_args, explicit = parse_glue_arguments(argv)
    setup_logging(logger, training_args)
    from electra_hf.loading import check_finetuning_sources, check_hub_name, check_max_length, load_model_tokenizer
    from electra_hf.output_lock import output_dir_lock

    model_path = check_finetuning_sources(model_args, data_args, training_args.push_to_hub)
    # the heavy imports after the checks: --help and bad input answer in seconds
    from electra_hf.tasks import ElectraForClassification

    tokenizer = load_model_tokenizer(model_path, model_args.tokenizer_name)
    check_max_length(ElectraForClassification.config_class.from_pretrained(model_path), data_args.max_seq_length)
    task_name = data_args.task_name or ("custom" if data_args.train_file or data_args.validation_file else None)
    if task_name is None:
        raise ValueError("name a GLUE task (--task_name cola, ..., or all) or give a task of your own "
                         "(--train_file and --validation_file).")
    if task_name != "custom" and not data_args.glue_dir:
        check_hub_name(data_args.dataset_name, "--dataset_name", repo_type="dataset")

    with output_dir_lock(training_args.output_dir, owner=training_args.should_save):
        return run_tasks(task_name, model_path, tokenizer, data_args, finetuning_args, training_args, explicit)


def run_tasks(task_name: str, model_path: str, tokenizer, data_args: DataArguments, finetuning_args,
              training_args, explicit: set[str]) -> dict:
    """Each task's trials (AX predicted by the MNLI model), the GLUE-server files, results.json."""
    from electra_hf.tasks import TRAINABLE_TASKS, ClassificationTask, custom_task, get_task, load_task_splits
    from electra_hf.tasks.classification import predict_diagnostic
    from electra_hf.tasks.runner import format_summary, run_trials

    submission_dir = os.path.join(training_args.output_dir, "submission")
    if training_args.overwrite_output_dir and training_args.should_save:
        shutil.rmtree(submission_dir, ignore_errors=True)
    if task_name in ("custom", "all"):
        names = ["custom"] if task_name == "custom" else [*TRAINABLE_TASKS, "ax"]
    else:
        name = get_task(task_name).name
        names = [name, "ax"] if name == "mnli" else [name]  # AX is predicted by the MNLI model
    several = len([n for n in names if n != "ax"]) > 1  # with --hub_model_id: one repository per task
    results, summaries, mnli_model = {}, {}, None
    for name in names:
        if name == "custom":
            definition, splits = custom_task(data_args.train_file, data_args.validation_file, data_args.test_file,
                                             data_args.sentence1_key, data_args.sentence2_key, data_args.label_key,
                                             data_args.regression)
        else:
            definition = get_task(name)
            splits = load_task_splits(definition, glue_dir=data_args.glue_dir, dataset_name=data_args.dataset_name,
                                      max_bad_rows=data_args.max_bad_rows)
        if name == "ax":  # the diagnostic set has no training data
            predict_diagnostic(definition, splits, mnli_model or model_path, tokenizer, training_args,
                               data_args.max_seq_length, submission_dir)
            continue
        task = ClassificationTask(definition, splits, max_seq_length=data_args.max_seq_length,
                                  double_unordered=data_args.double_unordered,
                                  max_train_samples=finetuning_args.max_train_samples, submission_dir=submission_dir)
        task_args = dataclasses.replace(training_args, output_dir=os.path.join(training_args.output_dir, name),
                                        hub_model_id=training_args.hub_model_id and (
                                            f"{training_args.hub_model_id}-{name}" if several
                                            else training_args.hub_model_id))
        result = run_trials(task, model_path, tokenizer, task_args, explicit, finetuning_args)
        if "summary" in result:
            summaries[name] = result["summary"]
            results[name] = {k: result[k] for k in ("trials", "summary", "chosen_trial", "chosen_dir", "hub_url",
                                                    "collapsed", "summary_without_collapsed") if k in result}
            if name == "mnli":
                mnli_model = result["chosen_dir"]

    if training_args.should_save:
        os.makedirs(training_args.output_dir, exist_ok=True)
        with open(os.path.join(training_args.output_dir, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
    if len(summaries) > 1:
        print("\n" + format_summary(summaries))
        print(f"\nResults: {os.path.join(training_args.output_dir, 'results.json')}")
    if os.path.isdir(submission_dir):
        print(f"GLUE-server files: {submission_dir} ({', '.join(sorted(os.listdir(submission_dir)))})")
    return results


if __name__ == "__main__":
    main()
