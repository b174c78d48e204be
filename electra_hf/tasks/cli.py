"""What the fine-tuning scripts share: arguments with the names the user gave (the task's recipe fills the
rest), logging as transformers' examples set it up, and the discriminator + tokenizer to start from."""

from __future__ import annotations

import argparse
import json
import logging
import os

import datasets
import transformers
from transformers import HfArgumentParser

from ..data import load_tokenizer


def parse_arguments(dataclass_types: tuple, defaults: dict, argv: list[str], description: str | None = None
                    ) -> tuple:
    """The dataclasses parsed from `argv` (or from one JSON file, the only argument) over `defaults`, followed
    by the set of argument names given explicitly (in any spelling argparse accepts: `--no_x`, `--x-y`, a
    prefix)."""
    parser = HfArgumentParser(dataclass_types, description=description,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    if len(argv) == 1 and argv[0].endswith(".json"):
        with open(argv[0]) as f:
            given = json.load(f)
        return (*parser.parse_dict({**defaults, **given}), set(given))
    parser.set_defaults(**defaults)
    parsed = parser.parse_args_into_dataclasses(args=argv)
    detector = HfArgumentParser(dataclass_types)  # nothing has a default here: what it returns was given
    for action in detector._actions:
        action.default = argparse.SUPPRESS
    given, _ = detector.parse_known_args(argv)
    return (*parsed, set(vars(given)))


def check_max_length(config, max_seq_length: int) -> None:
    """A clear error, not an index error deep inside the embeddings, for sequences longer than the model's."""
    if max_seq_length > config.max_position_embeddings:
        raise ValueError(f"--max_seq_length {max_seq_length} is longer than the model's max_position_embeddings "
                         f"({config.max_position_embeddings}).")


def setup_logging(logger: logging.Logger, training_args) -> None:
    """INFO on the main process, `--log_level` for transformers and datasets."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=[logging.StreamHandler()])
    logger.setLevel(logging.INFO if training_args.should_log else logging.WARNING)
    transformers.utils.logging.set_verbosity(training_args.get_process_log_level())
    datasets.utils.logging.set_verbosity(training_args.get_process_log_level())


def discriminator_path(path: str) -> str:
    """A pre-training output directory holds the discriminator in a sub-folder."""
    return os.path.join(path, "discriminator") if os.path.isdir(os.path.join(path, "discriminator")) else path


def load_model_tokenizer(model_path: str, tokenizer_name: str | None = None):
    """The tokenizer to fine-tune `model_path` with (its own unless named), checked against its vocabulary."""
    tokenizer = load_tokenizer(tokenizer_name or model_path)
    vocab_size = transformers.AutoConfig.from_pretrained(model_path).vocab_size
    if len(tokenizer) != vocab_size:
        raise ValueError(f"the tokenizer has {len(tokenizer)} tokens but {model_path} has vocab_size {vocab_size}: "
                         "pass the model's own tokenizer (--tokenizer_name).")
    return tokenizer


def train_and_evaluate_by_default(training_args, explicit: set[str]) -> None:
    """Without any of --do_train/--do_eval/--do_predict, train and evaluate (the original's defaults)."""
    if not explicit & {"do_train", "do_eval", "do_predict"}:
        training_args.do_train = training_args.do_eval = True


SPLIT_FLAGS = {"train": ("--do_train", "--train_file"), "validation": ("--do_eval", "--validation_file"),
               "test": ("--do_predict", "--test_file")}


def requested_splits(training_args, files: dict[str, str | None], hub_dataset: str | None) -> dict[str, str | None]:
    """The splits that --do_train/--do_eval/--do_predict ask for, each with its file (None: from the Hub
    dataset, which has no test split with answers/tags to use); a clear error when one has no source."""
    wanted = {"train": training_args.do_train, "validation": training_args.do_eval, "test": training_args.do_predict}
    splits = {}
    for split, needed in wanted.items():
        if not needed:
            continue
        if not files.get(split) and (not hub_dataset or split == "test"):
            do, flag = SPLIT_FLAGS[split]
            raise ValueError(f"{do} needs {flag}" + (" or --dataset_name." if split != "test" else "."))
        splits[split] = files.get(split)
    return splits
