#!/usr/bin/env python
"""Fine-tune ELECTRA for sequence tagging (CoNLL-2000 chunking as the original, or any IOB/BIOES task) with the
original recipe: BIOES labels, the first sub-token of each word labelled, one linear layer, the loss summed
over words, length 256, 3 epochs, layer-wise learning-rate decay.

    python run_tagging.py --model_name_or_path google/electra-small-discriminator \\
        --train_file chunk/train.txt --validation_file chunk/dev.txt
    python run_tagging.py --model_name_or_path DIR --dataset_name conll2000 --tags_column chunk_tags
    python run_tagging.py --model_name_or_path runs/tagging/trial_0 --do_predict --test_file words.txt
    python run_tagging.py args.json

Reports span-level precision/recall/F1 (×100) per trial and over trials; writes the predictions back in CoNLL
format (word, gold tag if any, predicted tag in IOB2) under <output_dir>/trial_<k>/.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from dataclasses import dataclass, field

import datasets
from datasets import Dataset
from transformers import DataCollatorForTokenClassification

from electra_hf import ElectraTrainer, ElectraTrainingArguments
from electra_hf.tasks.cli import (
    check_max_length,
    discriminator_path,
    load_model_tokenizer,
    parse_arguments,
    requested_splits,
    setup_logging,
    train_and_evaluate_by_default,
)
from electra_hf.tasks.recipe import finetuning_recipe
from electra_hf.tasks.tagging import (
    ElectraForTagging,
    featurize_tagging,
    label_set,
    read_conll,
    span_f1,
    span_labels,
    tags_from_spans,
    to_bioes,
    word_predictions,
)
from electra_hf.tasks.trials import conclude_trials

logger = logging.getLogger("run_tagging")
TAGGING_EPOCHS = 3


@dataclass
class ModelArguments:
    model_name_or_path: str = field(metadata={
        "help": "A discriminator (Hub id, directory, pre-training output directory) or a model tuned by this script."})
    tokenizer_name: str | None = field(default=None, metadata={"help": "Default: the model's own tokenizer."})


@dataclass
class DataArguments:
    train_file: str | None = field(default=None, metadata={"help": "CoNLL: word first, tag last, blank lines."})
    validation_file: str | None = field(default=None, metadata={"help": "CoNLL, with tags (scored)."})
    test_file: str | None = field(default=None, metadata={"help": "CoNLL, words only or with tags (predicted)."})
    dataset_name: str | None = field(default=None, metadata={"help": "A Hub dataset with word and tag columns."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "Its configuration, if any."})
    tokens_column: str = field(default="tokens", metadata={"help": "The Hub dataset's word column."})
    tags_column: str = field(default="tags", metadata={"help": "Its tag column (e.g. chunk_tags for conll2000)."})
    max_seq_length: int = field(default=256, metadata={"help": "The original's length for chunking: 256."})
    recipe: str = field(default="code", metadata={"help": "code or paper (see run_glue.py).",
                                                  "choices": ["code", "paper"]})
    num_trials: int = field(default=1, metadata={"help": "Fine-tuning seeds (seed, seed+1, ...)."})
    keep_all_trials: bool = field(default=False, metadata={"help": "Keep every trial's model (default: the best)."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Truncate the training sentences."})


def load_split(data_args: DataArguments, split: str, path: str | None) -> Dataset:
    if path:
        return read_conll(path)
    try:
        raw = datasets.load_dataset(data_args.dataset_name, data_args.dataset_config_name, split=split)
    except (ConnectionError, FileNotFoundError, ValueError) as err:
        raise ValueError(f"could not load {data_args.dataset_name!r} ({split}): {str(err).splitlines()[0]} "
                         "(offline? pass --train_file/--validation_file instead).") from err
    missing = {data_args.tokens_column, data_args.tags_column} - set(raw.column_names)
    if missing:
        raise ValueError(f"{data_args.dataset_name} has no column(s) {sorted(missing)}: pass --tokens_column/"
                         f"--tags_column (it has {raw.column_names}).")
    feature = raw.features[data_args.tags_column]
    names = getattr(getattr(feature, "feature", None), "names", None)  # a sequence of class labels
    return raw.map(lambda row: {"tokens": row[data_args.tokens_column],
                                "tags": [names[t] for t in row[data_args.tags_column]] if names
                                else [str(t) for t in row[data_args.tags_column]]},
                   remove_columns=raw.column_names)


def write_conll(path: str, split: Dataset, predicted: list[list[str | None]]) -> int:
    """Word, gold tag (when the split has them), predicted tag in IOB2; returns the words not scored (cut off
    by max_seq_length), written as O."""
    unscored = 0
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row, tags in zip(split, predicted):
            unscored += sum(tag is None for tag in tags)
            spans = span_labels([tag or "O" for tag in tags])
            iob2 = [t.replace("S-", "B-").replace("E-", "I-") for t in tags_from_spans(spans, len(tags))]
            for i, word in enumerate(row["tokens"]):
                gold = [row["tags"][i]] if row.get("tags") else []
                f.write(" ".join([word, *gold, iob2[i]]) + "\n")
            f.write("\n")
    return unscored


def main(argv: list[str] | None = None) -> dict:
    defaults = {"output_dir": "runs/tagging", "save_strategy": "no", "eval_strategy": "no", "logging_steps": 50,
                "per_device_eval_batch_size": 64, "train_sampling_strategy": "group_by_length",
                "report_to": "tensorboard"}
    model_args, data_args, training_args, explicit = parse_arguments(
        (ModelArguments, DataArguments, ElectraTrainingArguments), defaults, sys.argv[1:] if argv is None else argv,
        description=__doc__)
    train_and_evaluate_by_default(training_args, explicit)
    setup_logging(logger, training_args)
    model_path = discriminator_path(model_args.model_name_or_path)
    tokenizer = load_model_tokenizer(model_path, model_args.tokenizer_name)
    check_max_length(ElectraForTagging.config_class.from_pretrained(model_path), data_args.max_seq_length)

    files = {"train": data_args.train_file, "validation": data_args.validation_file, "test": data_args.test_file}
    splits = {split: load_split(data_args, split, path)
              for split, path in requested_splits(training_args, files, data_args.dataset_name).items()}
    if data_args.max_train_samples and "train" in splits:
        splits["train"] = splits["train"].select(range(min(data_args.max_train_samples, len(splits["train"]))))

    tagged = [splits[s] for s in splits if "tags" in splits[s].column_names]
    if training_args.do_train:
        labels = label_set(*tagged)  # as the original: the tags of every split
    else:
        labels = [label for _, label in sorted(
            ElectraForTagging.config_class.from_pretrained(model_path).id2label.items())]
        unknown = {tag for split in tagged for tags in split["tags"] for tag in to_bioes(tags)} - set(labels)
        if unknown and "validation" in splits:
            raise ValueError(f"tags the model was not trained with: {sorted(unknown)[:10]} (its tags: {labels}).")
    label_ids = {label: i for i, label in enumerate(labels)}
    logger.info("%d BIOES tags: %s", len(labels), " ".join(labels))

    def features(split: str) -> Dataset:
        return splits[split].map(featurize_tagging, batched=True, remove_columns=splits[split].column_names,
                                 fn_kwargs={"tokenizer": tokenizer, "max_seq_length": data_args.max_seq_length,
                                            "label_ids": None if split == "test" else label_ids},
                                 desc=f"Tokenizing {split}")

    encoded = {split: features(split) for split in splits}
    label_kwargs = {"num_labels": len(labels), "id2label": dict(enumerate(labels)), "label2id": label_ids}
    num_trials = data_args.num_trials if training_args.do_train else 1
    trials, trial_dirs = [], []
    for trial in range(num_trials):
        model = ElectraForTagging.from_pretrained(model_path, **label_kwargs)
        recipe = finetuning_recipe(data_args.recipe, model.config.hidden_size, TAGGING_EPOCHS)
        trial_dir = os.path.join(training_args.output_dir, f"trial_{trial}")
        args = dataclasses.replace(training_args, output_dir=trial_dir, seed=training_args.seed + trial,
                                   **{k: v for k, v in recipe.items() if k not in explicit})
        trainer = ElectraTrainer(model=model, args=args, train_dataset=encoded.get("train"), processing_class=tokenizer,
                                 data_collator=DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8))
        if training_args.do_train:
            trainer.train()
            trainer.save_model(trial_dir)
        metrics = {}
        for split in ("validation", "test"):
            if split not in encoded:
                continue
            logits = trainer.predict(encoded[split].remove_columns(
                [c for c in ("labels",) if c in encoded[split].column_names])).predictions
            predicted = word_predictions(logits, encoded[split]["word_positions"], labels)
            if split == "validation":
                gold = [[tag for tag, p in zip(to_bioes(tags), pred) if p is not None]
                        for tags, pred in zip(splits[split]["tags"], predicted)]
                metrics = span_f1(gold, [[p for p in pred if p is not None] for pred in predicted])
                logger.info("trial %d: %s", trial, json.dumps({k: round(v, 2) for k, v in metrics.items()}))
            if trainer.args.should_save:
                unscored = write_conll(os.path.join(trial_dir, f"{split}_predictions.txt"), splits[split], predicted)
                if unscored:
                    logger.warning("%s: %d words after max_seq_length=%d were not tagged (written as O).", split,
                                   unscored, data_args.max_seq_length)
        trials.append(metrics)
        trial_dirs.append(trial_dir)
    return conclude_trials("tagging", trials, trial_dirs, training_args.output_dir,
                           remove_others=training_args.do_train and not data_args.keep_all_trials,
                           save=training_args.should_save)


if __name__ == "__main__":
    main()
