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
format (word, gold tag if any, predicted tag in IOB2) under <output_dir>/trial_<k>/. Re-running a killed command
continues where it stopped.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

from electra_hf.cli import (check_finetuning_inputs, one_line_errors, parse_finetuning_arguments,
                            requested_splits, setup_logging)

logger = logging.getLogger("run_tagging")


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


def load_split(data_args: DataArguments, split: str, path: str | None):
    import datasets

    from electra_hf.tasks.tagging import read_conll

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


@one_line_errors
def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    check_finetuning_inputs((DataArguments,), argv)  # before torch loads
    model_args, data_args, finetuning_args, training_args, explicit = parse_finetuning_arguments(
        (DataArguments,), {"output_dir": "runs/tagging", "per_device_eval_batch_size": 64}, argv,
        description=__doc__)
    setup_logging(logger, training_args)
    from electra_hf.loading import check_finetuning_sources, check_hub_name, check_max_length, load_model_tokenizer

    model_path = check_finetuning_sources(model_args, data_args, training_args.push_to_hub)
    # the heavy imports after the checks: bad input answers in seconds
    from electra_hf.tasks.runner import run_trials
    from electra_hf.tasks.tagging import ElectraForTagging, TaggingTask, label_set, to_bioes

    tokenizer = load_model_tokenizer(model_path, model_args.tokenizer_name)
    config = ElectraForTagging.config_class.from_pretrained(model_path)
    check_max_length(config, data_args.max_seq_length)
    if data_args.dataset_name:
        check_hub_name(data_args.dataset_name, "--dataset_name", repo_type="dataset")

    files = {"train": data_args.train_file, "validation": data_args.validation_file, "test": data_args.test_file}
    splits = {split: load_split(data_args, split, path)
              for split, path in requested_splits(training_args, files, data_args.dataset_name).items()}
    tagged = [splits[s] for s in splits if "tags" in splits[s].column_names]
    if training_args.do_train:
        labels = label_set(*tagged)  # as the original: the tags of every split
    else:
        labels = [label for _, label in sorted(config.id2label.items())]
        unknown = {tag for split in tagged for tags in split["tags"] for tag in to_bioes(tags)} - set(labels)
        if unknown and "validation" in splits:
            raise ValueError(f"tags the model was not trained with: {sorted(unknown)[:10]} (its tags: {labels}).")
    logger.info("%d BIOES tags: %s", len(labels), " ".join(labels))
    task = TaggingTask(splits, labels, max_seq_length=data_args.max_seq_length,
                       max_train_samples=finetuning_args.max_train_samples)
    return run_trials(task, model_path, tokenizer, training_args, explicit, finetuning_args)


if __name__ == "__main__":
    main()
