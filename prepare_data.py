#!/usr/bin/env python
"""Prepare pre-training examples once (the original's build_pretraining_dataset.py as a step of its own): read the
corpus, learn or load the tokenizer, build the examples with --preprocessing_num_workers processes, and save them
in shards, so that pre-training runs on any number of processes and nodes read them without building anything.

    python prepare_data.py --train_files data/*.txt --preset base --output_dir data/base-512 \\
        --preprocessing_num_workers 16
    accelerate launch run_pretraining.py --preset base --prepared_data data/base-512 --output_dir runs/base

It takes run_pretraining.py's corpus and tokenizer arguments and those that set the example length (the preset,
--hparams, --config_overrides, --max_seq_length; for the demo, also its learned vocabulary); the examples are those
run_pretraining.py would build with the same arguments and --seed. Memory stays bounded: documents and examples are
Arrow files on disk, processed in batches.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from dataclasses import dataclass, field

import run_pretraining
from electra_hf import cli

logger = logging.getLogger("prepare_data")


@dataclass
class PrepareArguments:
    output_dir: str = field(metadata={"help": "Where the examples, their tokenizer and electra_prepared.json go."})
    num_shards: int | None = field(default=None, metadata={
        "help": "Arrow shards to write (default: one per 500 MB); a multiple of the processes reading them helps."})
    seed: int = field(default=42, metadata={"help": "The example builder's seed (run_pretraining.py's --seed)."})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Replace a finished preparation."})


def parse_arguments(argv: list[str]):
    """The corpus, tokenizer and model arguments of run_pretraining.py (the model's give the example length) and
    PrepareArguments."""
    from electra_hf.presets import training_defaults

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--preset", default=run_pretraining.DEFAULT_PRESET)
    preset = pre.parse_known_args(argv)[0].preset
    known = {f for cls in (run_pretraining.ModelArguments, run_pretraining.DataArguments, PrepareArguments)
             for f in cls.__dataclass_fields__}
    defaults = {k: v for k, v in training_defaults(preset).items() if k in known and k not in ("output_dir", "seed")}
    model_args, data_args, prepare_args, explicit = cli.parse_arguments(
        (run_pretraining.ModelArguments, run_pretraining.DataArguments, PrepareArguments), defaults, argv,
        description=__doc__)
    if "train_tokenizer" not in explicit and model_args.tokenizer_name:
        model_args.train_tokenizer = False
    if data_args.streaming or data_args.prepared_data:
        raise ValueError("prepare_data.py reads the whole corpus: drop --streaming and --prepared_data.")
    return model_args, data_args, prepare_args


@cli.one_line_errors
def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    cli.check_before_loading((run_pretraining.ModelArguments, run_pretraining.DataArguments), argv,
                             run_pretraining.check_sources)
    model_args, data_args, args = parse_arguments(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    from electra_hf.data import ExampleBuilder, blank_lines_end_documents, build_examples, load_documents
    from electra_hf.data.prepared import INFO_FILE, save_prepared

    if os.path.exists(os.path.join(args.output_dir, INFO_FILE)) and not args.overwrite_output_dir:
        raise ValueError(f"{args.output_dir} already holds prepared examples: pass --overwrite_output_dir to "
                         "replace them.")
    os.makedirs(args.output_dir, exist_ok=True)
    corpus = run_pretraining.corpus_spec(data_args)
    docs = load_documents(corpus, cache_dir=data_args.data_cache_dir)
    cache_dir = data_args.data_cache_dir or os.path.join(args.output_dir, "cache")
    tokenizer, _ = run_pretraining.load_or_train_tokenizer(model_args, docs, data_args.text_column, args.output_dir,
                                                           reuse=False, cache_dir=cache_dir)
    # the length run_pretraining.py's model would have: the preset's or --hparams', then the overrides
    max_seq_length = run_pretraining.build_config(model_args, data_args, tokenizer).max_seq_length
    builder = ExampleBuilder(tokenizer, max_seq_length=max_seq_length, seed=args.seed,
                             blanks_separate_docs=blank_lines_end_documents(corpus), text_column=data_args.text_column)
    examples = build_examples(docs, builder, cache_dir=cache_dir, num_proc=data_args.preprocessing_num_workers)
    info = save_prepared(examples, tokenizer, args.output_dir, max_seq_length=max_seq_length, seed=args.seed,
                         corpus=data_args.dataset_name or ", ".join(data_args.train_files or ["the bundled corpus"]),
                         num_shards=args.num_shards, num_proc=data_args.preprocessing_num_workers)
    if not data_args.data_cache_dir:  # the shards are a copy of it
        del examples
        shutil.rmtree(cache_dir, ignore_errors=True)
    logger.info("%s examples of up to %d tokens (%d documents) in %s, %d shards; train with --prepared_data %s",
                f"{info['examples']:,}", max_seq_length, len(docs), args.output_dir, info["shards"], args.output_dir)
    return info


if __name__ == "__main__":
    main()
