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
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from dataclasses import dataclass, field

from datasets import Dataset
from transformers import DataCollatorWithPadding

from electra_hf import ElectraTrainer, ElectraTrainingArguments
from electra_hf.metrics.qa import mrqa_metrics, squad_v1_metrics, squad_v2_metrics
from electra_hf.tasks.cli import (
    check_max_length,
    discriminator_path,
    load_model_tokenizer,
    parse_arguments,
    requested_splits,
    setup_logging,
    train_and_evaluate_by_default,
)
from electra_hf.tasks.qa_data import (
    check_training_examples,
    file_format,
    has_unanswerable,
    load_qa_file,
    load_qa_hub,
    prepare_features,
)
from electra_hf.tasks.qa_model import ElectraForSpanQuestionAnswering, qa_config
from electra_hf.tasks.qa_predictions import OUTPUT_NAMES, QAPredictions, predict_answers
from electra_hf.tasks.recipe import finetuning_recipe
from electra_hf.tasks.trials import conclude_trials

logger = logging.getLogger("run_qa")
QA_EPOCHS = 2  # the original's epochs for any task named *squad* or *qa* (configure_finetuning.py)


@dataclass
class ModelArguments:
    model_name_or_path: str = field(metadata={
        "help": "A discriminator (Hub id, directory, or a pre-training output directory), or a model fine-tuned "
                "by this script (its head is loaded with it)."})
    tokenizer_name: str | None = field(default=None, metadata={"help": "Default: the model's own tokenizer."})
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
    recipe: str = field(default="code", metadata={
        "help": "code: the released code's defaults; paper: the paper's.", "choices": ["code", "paper"]})
    num_trials: int = field(default=1, metadata={"help": "Fine-tuning seeds (seed, seed+1, ...)."})
    keep_all_trials: bool = field(default=False, metadata={"help": "Keep every trial's model (default: the best)."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Truncate the training questions."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Truncate the validation questions."})
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes for featurization."})


def parse_qa_arguments(argv: list[str]) -> tuple[ModelArguments, DataArguments, ElectraTrainingArguments, set[str]]:
    defaults = {"output_dir": "runs/qa", "save_strategy": "no", "eval_strategy": "no", "logging_steps": 50,
                "per_device_eval_batch_size": 32, "train_sampling_strategy": "group_by_length",
                "report_to": "tensorboard"}
    model_args, data_args, training_args, explicit = parse_arguments(
        (ModelArguments, DataArguments, ElectraTrainingArguments), defaults, argv, description=__doc__)
    train_and_evaluate_by_default(training_args, explicit)
    return model_args, data_args, training_args, explicit


def load_splits(data_args: DataArguments, training_args) -> dict[str, Dataset]:
    files = {"train": data_args.train_file, "validation": data_args.validation_file, "test": data_args.test_file}
    splits = {split: load_qa_file(path) if path else load_qa_hub(data_args.dataset_name, split,
                                                                   data_args.dataset_config_name)
              for split, path in requested_splits(training_args, files, data_args.dataset_name).items()}
    if data_args.max_train_samples and "train" in splits:
        splits["train"] = splits["train"].select(range(min(data_args.max_train_samples, len(splits["train"]))))
    if data_args.max_eval_samples and "validation" in splits:
        splits["validation"] = splits["validation"].select(
            range(min(data_args.max_eval_samples, len(splits["validation"]))))
    return splits


def score(kind: str, examples: Dataset, predictions: QAPredictions, threshold: float) -> dict[str, float]:
    references = dict(zip(examples["id"], examples["references"]))
    if kind == "squad_v2":
        return squad_v2_metrics(references, predictions.best_non_null, predictions.null_odds, threshold)
    return (mrqa_metrics if kind == "mrqa" else squad_v1_metrics)(references, predictions.answers)


def answer(trainer, examples: Dataset, features: Dataset, data_args, version_2: bool) -> QAPredictions:
    outputs = dict(zip(OUTPUT_NAMES, trainer.predict(features).predictions))
    return predict_answers(examples, features, outputs, version_2_with_negative=version_2,
                           answerable_classifier=trainer.model.config.qa_answerable_classifier,
                           n_best_size=data_args.n_best_size, max_answer_length=data_args.max_answer_length,
                           null_threshold=data_args.null_score_threshold)


def main(argv: list[str] | None = None) -> dict:
    model_args, data_args, training_args, explicit = parse_qa_arguments(sys.argv[1:] if argv is None else argv)
    setup_logging(logger, training_args)
    model_path = discriminator_path(model_args.model_name_or_path)
    tokenizer = load_model_tokenizer(model_path, model_args.tokenizer_name)
    head_options = {HEAD_OPTIONS[name]: getattr(model_args, name) for name in HEAD_OPTIONS if name in explicit}
    config = qa_config(model_path, **head_options)
    check_max_length(config, data_args.max_seq_length)

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

    window = {"tokenizer": tokenizer, "max_seq_length": data_args.max_seq_length, "doc_stride": data_args.doc_stride,
              "max_query_length": data_args.max_query_length, "num_proc": data_args.preprocessing_num_workers}
    train = None
    if "train" in splits:
        train = prepare_features(check_training_examples(splits["train"], version_2), training=True, **window)
    evaluation = {split: prepare_features(splits[split], training=False, **window)
                  for split in ("validation", "test") if split in splits}

    num_trials = data_args.num_trials if training_args.do_train else 1
    trials, trial_dirs = [], []
    for trial in range(num_trials):
        model = ElectraForSpanQuestionAnswering.from_pretrained(model_path, config=config)
        recipe = finetuning_recipe(data_args.recipe, model.config.hidden_size, QA_EPOCHS)
        trial_dir = os.path.join(training_args.output_dir, f"trial_{trial}")
        args = dataclasses.replace(training_args, output_dir=trial_dir, seed=training_args.seed + trial,
                                   **{k: v for k, v in recipe.items() if k not in explicit})
        trainer = ElectraTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer,
                                 data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8))
        if training_args.do_train:
            trainer.train()
            trainer.save_model(trial_dir)
        metrics = {}
        for split, features in evaluation.items():
            predictions = answer(trainer, splits[split], features, data_args, version_2)
            if trainer.args.should_save:
                paths = predictions.save(os.path.join(trial_dir, split))
                logger.info("%s answers: %s", split, ", ".join(paths))
            if split == "validation":
                metrics = score(kind, splits[split], predictions, data_args.null_score_threshold)
                logger.info("trial %d: %s", trial, json.dumps({k: round(v, 2) for k, v in metrics.items()}))
        trials.append(metrics)
        trial_dirs.append(trial_dir)

    results = conclude_trials(kind, trials, trial_dirs, training_args.output_dir,
                              remove_others=training_args.do_train and not data_args.keep_all_trials,
                              save=training_args.should_save)
    return {"scoring": kind, **results}


if __name__ == "__main__":
    main()
