#!/usr/bin/env python
"""Fine-tune ELECTRA for extractive question answering (SQuAD 1.1/2.0, MRQA) with the original's head and
recipe: end logits conditioned on the start (a beam of 20 at inference), the no-answer classifier, sliding
windows of 512 tokens, 2 epochs, layer-wise learning-rate decay, Adam without bias correction.

    python run_qa.py --model_name_or_path google/electra-base-discriminator --dataset_name squad_v2
    python run_qa.py --model_name_or_path runs/electra-small --train_file train-v2.0.json \\
        --validation_file dev-v2.0.json
    python run_qa.py --model_name_or_path DIR --train_file NewsQA.jsonl.gz --validation_file NewsQA-dev.jsonl.gz
    python run_qa.py --model_name_or_path runs/qa/trial_0 --do_predict --test_file questions.json
    python run_qa.py args.json

Without --do_train/--do_eval/--do_predict it trains and evaluates. Evaluation reports the official scores
(SQuAD 1.1 exact_match/f1, SQuAD 2.0 exact/f1/HasAns/NoAns/best thresholds, MRQA exact_match/f1) per trial
and over trials; each trial writes predictions.json, nbest_predictions.json and (SQuAD 2.0) null_odds.json.
Re-running a killed command continues where it stopped.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

from electra_hf.cli import (check_finetuning_inputs, one_line_errors, parse_finetuning_arguments,
                            requested_splits, setup_logging)

logger = logging.getLogger("run_qa")


@dataclass
class HeadArguments:
    joint_prediction: bool = field(default=True, metadata={
        "help": "End logits conditioned on the start (the original); False: independent start/end logits."})
    answerable_classifier: bool = field(default=True, metadata={
        "help": "The no-answer classifier on [CLS] + the start-weighted summary (the original)."})
    answerable_uses_start_logits: bool = field(default=True, metadata={
        "help": "Feed the start-weighted summary to the no-answer classifier (the original)."})
    answerable_weight: float = field(default=0.5, metadata={
        "help": "Weight of the no-answer loss (the original: 0.5)."})
    beam_size: int = field(default=20, metadata={"help": "Starts, and ends per start, kept at inference."})


HEAD_OPTIONS = {"joint_prediction": "qa_joint_prediction", "answerable_classifier": "qa_answerable_classifier",
                "answerable_uses_start_logits": "qa_answerable_uses_start_logits",
                "answerable_weight": "qa_answerable_weight", "beam_size": "qa_beam_size"}


@dataclass
class DataArguments:
    dataset_name: str | None = field(default=None, metadata={
        "help": "A Hub dataset with SQuAD's columns (squad, squad_v2); needs a network."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "Its configuration, if any."})
    train_file: str | None = field(default=None, metadata={"help": "SQuAD .json or MRQA .jsonl(.gz)."})
    validation_file: str | None = field(default=None, metadata={
        "help": "SQuAD .json or MRQA .jsonl(.gz), with answers."})
    test_file: str | None = field(default=None, metadata={
        "help": "Questions to answer (--do_predict); answers unused."})
    version_2_with_negative: bool | None = field(default=None, metadata={
        "help": "Questions may have no answer (SQuAD 2.0). Default: yes if the name has 'v2' or any question of "
                "the training or validation data has no answer."})
    max_seq_length: int = field(default=512, metadata={"help": "Window length in tokens (the original: 512)."})
    doc_stride: int = field(default=128, metadata={"help": "Largest step between windows (the original: 128)."})
    max_query_length: int = field(default=64, metadata={"help": "Questions are cut to this many tokens."})
    n_best_size: int = field(default=20, metadata={"help": "Answers kept per question in nbest_predictions.json."})
    max_answer_length: int = field(default=30, metadata={"help": "Longest answer, in tokens."})
    null_score_threshold: float = field(default=-2.75, metadata={
        "help": "SQuAD 2.0: no answer when the no-answer score exceeds this (the original: -2.75)."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Truncate the validation questions."})
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes for featurization."})


def parse_qa_arguments(argv: list[str]) -> tuple:
    return parse_finetuning_arguments((HeadArguments, DataArguments), {
        "output_dir": "runs/qa", "per_device_eval_batch_size": 32}, argv, description=__doc__)


def load_splits(data_args: DataArguments, training_args) -> dict:
    from electra_hf.tasks.qa_data import load_qa_file, load_qa_hub

    files = {"train": data_args.train_file, "validation": data_args.validation_file, "test": data_args.test_file}
    splits = {split: load_qa_file(path) if path else load_qa_hub(data_args.dataset_name, split,
                                                                   data_args.dataset_config_name)
              for split, path in requested_splits(training_args, files, data_args.dataset_name).items()}
    if data_args.max_eval_samples and "validation" in splits:
        splits["validation"] = splits["validation"].select(
            range(min(data_args.max_eval_samples, len(splits["validation"]))))
    return splits


@one_line_errors
def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    check_finetuning_inputs((HeadArguments, DataArguments), argv)  # before torch loads
    model_args, head_args, data_args, finetuning_args, training_args, explicit = parse_qa_arguments(argv)
    setup_logging(logger, training_args)
    from electra_hf.loading import check_finetuning_sources, check_hub_name, check_max_length, load_model_tokenizer

    model_path = check_finetuning_sources(model_args, data_args, training_args.push_to_hub)
    # the heavy imports after the checks: bad input answers in seconds
    from electra_hf.tasks.qa import QuestionAnsweringTask
    from electra_hf.tasks.qa_data import file_format, has_unanswerable
    from electra_hf.tasks.qa_model import qa_config
    from electra_hf.tasks.runner import run_trials

    tokenizer = load_model_tokenizer(model_path, model_args.tokenizer_name)
    head_options = {HEAD_OPTIONS[name]: getattr(head_args, name) for name in HEAD_OPTIONS if name in explicit}
    config = qa_config(model_path, **head_options)
    check_max_length(config, data_args.max_seq_length)
    if data_args.dataset_name:
        check_hub_name(data_args.dataset_name, "--dataset_name", repo_type="dataset")

    splits = load_splits(data_args, training_args)
    version_2 = data_args.version_2_with_negative
    if version_2 is None:  # from the data; for predictions only, as the model was fine-tuned
        version_2 = "v2" in (data_args.dataset_name or "") or any(
            has_unanswerable(splits[s]) for s in ("train", "validation") if s in splits) or (
            not ({"train", "validation"} & set(splits)) and getattr(config, "qa_version_2_with_negative", False))
    config.qa_version_2_with_negative = version_2  # saved with the model
    kind = "squad_v2" if version_2 else (
        "mrqa" if data_args.validation_file and file_format(data_args.validation_file) == "mrqa" else "squad")
    logger.info("Scoring: %s (questions without an answer %s)", kind, "allowed" if version_2 else "not expected")
    task = QuestionAnsweringTask(
        splits, config, kind, max_seq_length=data_args.max_seq_length, doc_stride=data_args.doc_stride,
        max_query_length=data_args.max_query_length, n_best_size=data_args.n_best_size,
        max_answer_length=data_args.max_answer_length, null_score_threshold=data_args.null_score_threshold,
        num_proc=data_args.preprocessing_num_workers, max_train_samples=finetuning_args.max_train_samples)
    return {"scoring": kind, **run_trials(task, model_path, tokenizer, training_args, explicit, finetuning_args)}


if __name__ == "__main__":
    main()
