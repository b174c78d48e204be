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
    by the set of argument names given explicitly."""
    parser = HfArgumentParser(dataclass_types, description=description,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    if len(argv) == 1 and argv[0].endswith(".json"):
        with open(argv[0]) as f:
            given = json.load(f)
        return (*parser.parse_dict({**defaults, **given}), set(given))
    parser.set_defaults(**defaults)
    explicit = {arg[2:].split("=")[0] for arg in argv if arg.startswith("--")}
    return (*parser.parse_args_into_dataclasses(args=argv), explicit)


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
