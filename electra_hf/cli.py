"""What every entry point shares (run_pretraining.py, run_glue.py, run_qa.py, run_tagging.py, electra_hf.score):
arguments as transformers' examples parse them, with the names the user gave, and the fine-tuning scripts'
common ones; logging as they set it up; and bad input ending in one line, not a traceback. Light to import:
--help answers before torch loads."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from dataclasses import dataclass, field

from transformers import HfArgumentParser
from transformers.hf_argparser import string_to_bool

# What fine-tuning changes from ElectraTrainingArguments' (pre-training) defaults; each script adds its own.
FINETUNING_DEFAULTS = {"eval_strategy": "no", "save_strategy": "steps", "save_steps": 500, "save_total_limit": 1,
                       "logging_steps": 50, "train_sampling_strategy": "group_by_length", "report_to": "tensorboard"}


@dataclass
class ModelArguments:
    model_name_or_path: str = field(metadata={
        "help": "A discriminator (Hub id, directory, or a pre-training output directory: its discriminator/), or "
                "a model fine-tuned by this script (its head is loaded with it)."})
    tokenizer_name: str | None = field(default=None, metadata={"help": "Default: the model's own tokenizer."})


@dataclass
class FineTuningArguments:
    recipe: str = field(default="code", metadata={
        "help": "code: the released code's defaults; paper: the paper's (e.g. lr 3e-4 for small, weight decay 0).",
        "choices": ["code", "paper"]})
    num_trials: int = field(default=1, metadata={"help": "Fine-tuning seeds (seed, seed+1, ...)."})
    chosen_trial: str = field(default="best", metadata={
        "help": "Which trial is kept (and, for GLUE, becomes the submission).", "choices": ["best", "median", "first"]})
    keep_all_trials: bool = field(default=False, metadata={"help": "Keep every trial's model, not only the chosen."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Truncate the training set (debugging)."})
    restart_collapsed: int = field(default=0, metadata={
        "help": "Re-run a trial that collapsed (dev predictions nearly one class, or a score within noise of the "
                "majority class's) with the next unused seed, up to this many times in all. Collapsed trials are "
                "flagged either way; the summary reports every trial, and the others alone."})


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, and each argument's default in --help."""


def argument_parser(dataclass_types: tuple, description: str | None = None) -> HfArgumentParser:
    parser = HfArgumentParser(dataclass_types, description=description, formatter_class=HelpFormatter)
    for action in parser._actions:
        # HfArgumentParser takes a bare `--flag` only for booleans whose default is not None; the ones that
        # default to None ("decide from the data") work bare too
        if action.type is string_to_bool and action.nargs is None:
            action.nargs, action.const = "?", True
    return parser


def check_before_loading(dataclass_types: tuple, argv: list[str], check) -> None:
    """`check(*arguments)` on a script's own dataclasses (not its TrainingArguments) parsed from `argv` or its
    JSON file, before torch and TrainingArguments load: they cost most of the 4-6 CPU-seconds a bad path would
    otherwise take to report. The TrainingArguments' flags are left to the full parse, as are --help and a missing
    required argument; a mistyped one here gets argparse's error with a short usage line."""
    if "-h" in argv or "--help" in argv:
        return
    parser = argument_parser(dataclass_types)
    parser.usage = "%(prog)s [options] (--help lists them)"
    required = [action.dest for action in parser._actions if action.required]
    for action in parser._actions:
        action.required = False
    if len(argv) == 1 and argv[0].endswith(".json"):
        given = read_json_arguments(argv[0])
        check_json_types(parser, given, argv[0])
        parsed = parser.parse_dict({**dict.fromkeys(required), **given}, allow_extra_keys=True)
    else:
        parsed = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)[:-1]
    if all(getattr(arguments, name, "") is not None for arguments in parsed for name in required):
        check(*parsed)  # else the full parse names the missing argument


def check_finetuning_inputs(dataclass_types: tuple, argv: list[str]) -> None:
    """A fine-tuning script's model and input files (the last of its `dataclass_types` names them), checked by
    `loading.check_finetuning_sources` before torch loads (`check_before_loading`)."""
    from .loading import check_finetuning_sources

    check_before_loading((ModelArguments, *dataclass_types, FineTuningArguments), argv,
                         lambda model_args, *rest: check_finetuning_sources(model_args, rest[-2]))


def parse_finetuning_arguments(dataclass_types: tuple, defaults: dict, argv: list[str],
                               description: str | None = None) -> tuple:
    """`parse_arguments` for a fine-tuning script: its dataclasses after ModelArguments and before
    FineTuningArguments and ElectraTrainingArguments (which it adds), over FINETUNING_DEFAULTS and `defaults`;
    without any of --do_train/--do_eval/--do_predict it trains and evaluates."""
    from .training_args import ElectraTrainingArguments

    *parsed, explicit = parse_arguments((ModelArguments, *dataclass_types, FineTuningArguments,
                                         ElectraTrainingArguments), {**FINETUNING_DEFAULTS, **defaults}, argv,
                                        description)
    train_and_evaluate_by_default(parsed[-1], explicit)
    return (*parsed, explicit)


def parse_arguments(dataclass_types: tuple, defaults: dict, argv: list[str], description: str | None = None
                    ) -> tuple:
    """The dataclasses parsed from `argv` (or from one JSON file, the only argument) over `defaults`, followed
    by the set of argument names given explicitly (in any spelling argparse accepts: `--no_x`, `--x-y`, a
    prefix)."""
    parser = argument_parser(dataclass_types, description)
    if len(argv) == 1 and argv[0].endswith(".json"):
        given = read_json_arguments(argv[0])
        check_json_types(parser, given, argv[0])
        try:
            return (*parser.parse_dict({**defaults, **given}), set(given))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{argv[0]}: {err}") from None
    parser.set_defaults(**defaults)
    parsed = parser.parse_args_into_dataclasses(args=argv)
    detector = argument_parser(dataclass_types)  # nothing has a default here: what it returns was given
    for action in detector._actions:
        action.default = argparse.SUPPRESS
    given, _ = detector.parse_known_args(argv)
    return (*parsed, set(vars(given)))


# The argument types a JSON value is checked against: what the value must be, and the test
JSON_TYPES = {
    string_to_bool: ("a boolean", lambda v: isinstance(v, bool) or str(v).lower() in ("true", "false", "yes", "no",
                                                                                       "1", "0")),
    int: ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    float: ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
}


def check_json_types(parser: argparse.ArgumentParser, given: dict, path: str) -> None:
    """What argparse checks on a command line, for a JSON argument file (HfArgumentParser.parse_dict takes any
    value): booleans and numbers of their type, and one of the choices. (String arguments also take JSON objects
    and lists: report_to, deepspeed, fsdp_config, ...)"""
    actions = {action.dest: action for action in parser._actions}
    for name, value in given.items():
        action = actions.get(name)
        if action is None or value is None:
            continue  # an unknown name: parse_dict names it
        for item in value if isinstance(value, list) and action.nargs in ("+", "*") else [value]:
            kind, fits = JSON_TYPES.get(action.type, (None, None))
            if fits is not None and not fits(item):
                raise ValueError(f"{path}: {name} is {item!r}, it must be {kind}.")
            if action.choices is not None and item not in action.choices:
                raise ValueError(f"{path}: {name} is {item!r}; choose one of {list(action.choices)}.")


def read_json_arguments(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            given = json.load(f)
    except OSError as err:
        raise ValueError(f"cannot read the argument file {path}: {err.strerror}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"the argument file {path} is not valid JSON: {err}.") from None
    if not isinstance(given, dict):
        raise ValueError(f"the argument file {path} holds a JSON {type(given).__name__}; it must be an object "
                         '({"argument_name": value, ...}).')
    return given


def setup_logging(logger: logging.Logger, training_args) -> None:
    """INFO on the main process, `--log_level` for transformers and datasets."""
    import datasets
    import transformers

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=[logging.StreamHandler()])
    logger.setLevel(logging.INFO if training_args.should_log else logging.WARNING)
    transformers.utils.logging.set_verbosity(training_args.get_process_log_level())
    datasets.utils.logging.set_verbosity(training_args.get_process_log_level())
    datasets.utils.logging.disable_propagation()  # it has a handler of its own: each of its lines once


# Bad input as the package reports it: its own validation raises ValueError (CheckpointError is one) or an
# OSError naming the file; a library's error we anticipate is re-raised as one of these where it happens.
USER_ERRORS = (ValueError, OSError)


def program_name() -> str:
    """As the user typed it: `run_glue.py`, or `electra_hf.score` for `python -m electra_hf.score`."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.origin and os.path.abspath(sys.argv[0]) == os.path.abspath(spec.origin):
        return spec.name
    return os.path.basename(sys.argv[0])


def one_line_errors(main):
    """Run as a command, `main` ends on bad input with `<prog>: error: ...` and exit status 2, as argparse does,
    instead of a traceback (`--debug` or ELECTRA_HF_DEBUG=1 shows it); called as a function it raises as usual."""

    @functools.wraps(main)
    def command(argv: list[str] | None = None):
        if argv is not None:
            return main(argv)
        debug = "--debug" in sys.argv[1:] or os.environ.get("ELECTRA_HF_DEBUG", "") not in ("", "0")
        sys.argv = [arg for arg in sys.argv if arg != "--debug"]
        try:
            result = main(None)
        except USER_ERRORS as err:
            if debug:
                raise
            message = " ".join(str(err).split()) or type(err).__name__
            if isinstance(err, OSError) and err.filename and str(err.filename) not in message:
                message = f"{err.filename}: {message}"
            sys.stderr.write(f"{program_name()}: error: {message}\n")
            raise SystemExit(2) from None
        end_process_group()
        return result

    return command


def end_process_group() -> None:
    """Shut torch.distributed down when a command has finished, as torch asks: left to the interpreter's teardown,
    gloo's threads can abort a finished process (SIGABRT, "terminate called without an active exception"), which
    the launcher reports as a failed run."""
    dist = sys.modules.get("torch.distributed")  # never imported by the commands that do not train
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


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
