#!/usr/bin/env python
"""Pre-train ELECTRA (generator + discriminator) as the original does.

With no arguments: the `demo` preset on the bundled Jane Austen corpus, on CPU, in about four minutes.

    python run_pretraining.py
    python run_pretraining.py --preset small --train_files data/*.txt --output_dir runs/small
    accelerate launch run_pretraining.py --preset base --dataset_name openwebtext --bf16
    python run_pretraining.py config.json            # the same arguments as one JSON file
    python run_pretraining.py --hparams '{"model_size": "small", "num_train_steps": 100000}'   # original names

Re-running a command resumes from the last checkpoint in --output_dir (--overwrite_output_dir starts afresh).
The preset sets the original's recipe (learning rate, batch, steps, warm-up) under any argument given.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from electra_hf import cli
from electra_hf.generator_modes import EMBEDDING_SHARING, GENERATOR_TYPES, OBJECTIVES
from electra_hf.original_hparams import (original_objective, original_preset, read_original_hparams,
                                         split_original_hparams)
from electra_hf.presets import DEFAULT_PRESET, PRESETS, TOY_PRESETS, training_defaults

if TYPE_CHECKING:
    from electra_hf import ElectraPretrainingConfig, ElectraPretrainingModel
    from electra_hf.training_args import ElectraTrainingArguments
logger = logging.getLogger("run_pretraining")


@dataclass
class ModelArguments:
    preset: str = field(default=DEFAULT_PRESET, metadata={
        "help": "Model size and training recipe (electra_hf/presets.py): demo (a CPU-sized model that learns in "
                "minutes, with a vocabulary learned on the corpus), tiny (the original's debug model), or the "
                "original's small, small++, base, large. A preset's batch is global (--global_batch_size), as the "
                "original's: each process gets its share.",
        "choices": list(PRESETS)})
    hparams: str | None = field(default=None, metadata={
        "help": "The original's --hparams (JSON string or .json file): model and training names are translated."})
    config_overrides: str | None = field(default=None, metadata={
        "help": 'JSON of ElectraPretrainingConfig overrides, e.g. \'{"disc_weight": 30, "num_hidden_layers": 6}\'.'})
    objective: str | None = field(default=None, metadata={
        "help": "electra (default), electric (Electric: a two-tower cloze generator and the NCE-corrected "
                "discriminator, whose scores give pseudo-likelihoods) or mlm (the BERT-style baseline).",
        "choices": list(OBJECTIVES)})
    generator_type: str | None = field(default=None, metadata={
        "help": "masked_lm (ELECTRA's default), two_tower (Electric's, its default) or uniform (no generator: fakes "
                "uniform over the vocabulary).", "choices": list(GENERATOR_TYPES)})
    tie_generator: bool = field(default=False, metadata={
        "help": "The generator is the discriminator's own encoder with an MLM head (the original's "
                "untied_generator=False)."})
    untied_generator_embeddings: bool = field(default=False, metadata={
        "help": "The generator gets embeddings of its own instead of sharing the discriminator's "
                "(= --embedding_sharing none)."})
    embedding_sharing: str | None = field(default=None, metadata={
        "help": "How the generator and discriminator share embeddings (DeBERTaV3's names): es, one module (the "
                "original's, the default); gdes, gradient-disentangled: the discriminator's word and position "
                "tables are the generator's, without their gradient, plus a difference of its own (not in the "
                "original); none, each its own (the original's untied_generator_embeddings).",
        "choices": list(EMBEDDING_SHARING)})
    generator_hidden_size: float | None = field(default=None, metadata={
        "help": "Generator size as a fraction of the discriminator's (the paper: 0.25; the released small: 1.0)."})
    discriminator_name_or_path: str | None = field(default=None, metadata={
        "help": "Continue pre-training from this discriminator (Hub id or directory), with the generator below."})
    generator_name_or_path: str | None = field(default=None, metadata={"help": "The generator to continue from."})
    tokenizer_name: str | None = field(default=None, metadata={
        "help": "Tokenizer (Hub id or directory); default: the bundled BERT uncased vocab, or the one saved with "
                "--discriminator_name_or_path."})
    train_tokenizer: bool = field(default=False, metadata={
        "help": "Learn a WordPiece vocabulary of --vocab_size on the corpus first (saved with the model). The demo "
                "preset does unless a tokenizer is named; --train_tokenizer false keeps the bundled BERT "
                "vocabulary of the released models."})
    vocab_size: int = field(default=30522, metadata={"help": "Vocabulary size for --train_tokenizer (demo: 4096)."})
    hub_discriminator_id: str | None = field(default=None, metadata={
        "help": "Repository for the discriminator with --push_to_hub (default: <hub_model_id>-discriminator)."})
    hub_generator_id: str | None = field(default=None, metadata={
        "help": "Repository for the generator with --push_to_hub (default: <hub_model_id>-generator)."})


@dataclass
class DataArguments:
    train_files: list[str] | None = field(default=None, metadata={
        "help": "Text (.txt) or json/jsonl/csv/parquet files, directories or globs. Default: the bundled corpus."})
    dataset_name: str | None = field(default=None, metadata={"help": "A datasets dataset, e.g. wikitext."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "Its configuration."})
    dataset_split: str = field(default="train", metadata={"help": "Its split."})
    text_column: str = field(default="text", metadata={"help": "The column with the text."})
    streaming: bool = field(default=False, metadata={"help": "Read the corpus lazily (needs --max_steps)."})
    blanks_separate_docs: bool | None = field(default=None, metadata={
        "help": "Blank lines end a document (default: yes for text files, as the original; no for dataset rows)."})
    max_seq_length: int | None = field(default=None, metadata={"help": "Example length (default: the preset's)."})
    eval_size: float = field(default=1000, metadata={
        "help": "Held-out examples for evaluation (a count, or a fraction below 1; 0 for none)."})
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes for the builder."})
    data_cache_dir: str | None = field(default=None, metadata={
        "help": "Where built examples are cached (default: the datasets cache)."})
    prepared_data: str | None = field(default=None, metadata={
        "help": "Examples prepared by prepare_data.py (its --output_dir): no corpus is read and no example built; "
                "its tokenizer and example length are used."})


def parse_arguments(argv: list[str]) -> tuple[ModelArguments, DataArguments, ElectraTrainingArguments]:
    """Arguments from the command line or one JSON file, over --hparams' training values and the preset's
    recipe (in that order of precedence)."""
    from electra_hf.training_args import ElectraTrainingArguments

    json_file = len(argv) == 1 and argv[0].endswith(".json")
    if json_file:
        given = cli.read_json_arguments(argv[0])
    else:
        pre = argparse.ArgumentParser(add_help=False)
        pre.add_argument("--preset", default=None)
        pre.add_argument("--hparams", default=None)
        pre.add_argument("--objective", default=None)
        given = vars(pre.parse_known_args(argv)[0])
    hparams = read_original_hparams(given["hparams"]) if given.get("hparams") else {}
    preset = given.get("preset") or (original_preset(hparams) if hparams else DEFAULT_PRESET)
    original_training = split_original_hparams(hparams)[2] if hparams else {}
    objective = given.get("objective") or original_objective(hparams)
    defaults = {**training_defaults(preset, objective), **original_training, "preset": preset}
    model_args, data_args, training_args, explicit = cli.parse_arguments(
        (ModelArguments, DataArguments, ElectraTrainingArguments), defaults, argv, description=__doc__)
    training_args.derive_per_device_batch(explicit)
    if "train_tokenizer" not in explicit and (model_args.tokenizer_name or model_args.discriminator_name_or_path
                                              or data_args.prepared_data):
        model_args.train_tokenizer = False  # a tokenizer the user names (or prepared) is used as it is
    return model_args, data_args, training_args


def config_overrides(model_args: ModelArguments, data_args: DataArguments) -> dict:
    """The ElectraPretrainingConfig fields the command line sets, for a new model or a continued pair."""
    try:
        overrides = json.loads(model_args.config_overrides) if model_args.config_overrides else {}
    except json.JSONDecodeError as err:
        raise ValueError(f"--config_overrides is not valid JSON ({err}): give an object, e.g. "
                         '\'{"disc_weight": 30}\'.') from None
    if not isinstance(overrides, dict):
        raise ValueError(f"--config_overrides must be a JSON object, not {type(overrides).__name__}.")
    for name in ("objective", "generator_hidden_size", "generator_type"):
        if getattr(model_args, name) is not None:
            overrides[name] = getattr(model_args, name)
    for name in ("tie_generator", "untied_generator_embeddings"):
        if getattr(model_args, name):
            overrides[name] = True
    if model_args.embedding_sharing is not None:
        if model_args.untied_generator_embeddings and model_args.embedding_sharing != "none":
            raise ValueError(f"--untied_generator_embeddings is --embedding_sharing none, not "
                             f"{model_args.embedding_sharing}: give one of the two.")
        overrides.update(EMBEDDING_SHARING[model_args.embedding_sharing])
    if data_args.max_seq_length is not None:
        overrides["max_seq_length"] = data_args.max_seq_length
    return overrides


def build_config(model_args: ModelArguments, data_args: DataArguments, tokenizer) -> ElectraPretrainingConfig:
    from electra_hf import ElectraPretrainingConfig

    overrides = config_overrides(model_args, data_args)
    if model_args.hparams:
        return ElectraPretrainingConfig.from_original_hparams(model_args.hparams, tokenizer=tokenizer, **overrides)[0]
    return ElectraPretrainingConfig.from_preset(model_args.preset, tokenizer=tokenizer, **overrides)


def load_or_train_tokenizer(model_args, docs, text_column: str, output_dir: str, reuse: bool, cache_dir: str):
    from electra_hf.data import learn_tokenizer, load_tokenizer

    if not model_args.train_tokenizer:
        name = model_args.tokenizer_name or model_args.discriminator_name_or_path
        return load_tokenizer(name), f"{name or 'the bundled BERT uncased vocabulary'} ({{}} tokens)"
    saved = os.path.join(output_dir, "tokenizer")
    description = f"WordPiece, {{}} tokens, learned on the corpus ({saved})"
    if reuse and os.path.exists(os.path.join(saved, "tokenizer_config.json")):  # a resumed run keeps its vocabulary
        return load_tokenizer(saved), description
    logger.info("Learning a vocabulary of %d tokens on the corpus (or reading it from %s)", model_args.vocab_size,
                cache_dir)
    tokenizer = learn_tokenizer(load_tokenizer(model_args.tokenizer_name), docs, text_column, model_args.vocab_size,
                                cache_dir)
    tokenizer.save_pretrained(saved)
    return tokenizer, description


def parameter_counts(model: ElectraPretrainingModel) -> dict[str, int]:
    """Parameters per half; shared ones (the embeddings) are counted with the discriminator only."""
    seen, counts = set(), {}
    for name, half in model.halves().items():
        params = [p for p in half.parameters() if id(p) not in seen]
        seen.update(id(p) for p in params)
        counts[name] = sum(p.numel() for p in params)
    return counts


def every(strategy, steps) -> str:
    """How often a Trainer event happens, in words: 'every 200 steps', 'every epoch', 'never'."""
    strategy = getattr(strategy, "value", strategy)
    return {"no": "never", "epoch": "every epoch", "best": "at the best evaluation"}.get(
        strategy, f"every {steps:g} steps")


def log_banner(training_args, corpus_name: str, docs, splits, tokenizer_description: str, model, checkpoint):
    """What the run will do, before it does it (as transformers' examples print)."""
    from transformers.trainer_utils import has_length

    args, config = training_args, model.config
    train, held_out = splits["train"], splits.get("validation")
    global_batch = args.per_device_train_batch_size * args.world_size * args.gradient_accumulation_steps
    counts = parameter_counts(model)
    sizes = []
    for name, half in model.halves().items():
        c = half.config
        shared = " (shares the discriminator's embeddings)" if name == "generator" and config.shares_embeddings else ""
        sizes.append(f"  {name.capitalize():<16}= {counts[name]:,} parameters{' of its own' if shared else ''}: "
                     f"{c.num_hidden_layers} layers, hidden {c.hidden_size}, {c.num_attention_heads} heads{shared}")
    examples = (f"{len(train):,} training examples, {len(held_out):,} held out" if held_out is not None and
                has_length(train) else f"{len(train):,} training examples" if has_length(train) else "streamed")
    documents = f"{len(docs):,} documents, " if has_length(docs) else ""
    warmup = f"{args.warmup_steps:g}" if args.warmup_steps >= 1 else f"{args.warmup_steps:.0%} of the steps"
    lines = [
        "***** Running ELECTRA pre-training *****",
        f"  Corpus          = {corpus_name}: {documents}{examples} of up to {config.max_seq_length} tokens",
        f"  Tokenizer       = {tokenizer_description}",
        f"  Objective       = {config.objective} (generator: {config.generator_type}"
        f"{', tied' if config.tie_generator else ''}; loss = {config.gen_weight:g} x generator + "
        f"{config.disc_weight:g} x discriminator)" if config.objective != "mlm" else
        "  Objective       = mlm (the masked-LM baseline: one full-size network)",
        *sizes,
        f"  Batch           = {args.per_device_train_batch_size} per device x {args.world_size} processes x "
        f"{args.gradient_accumulation_steps} accumulation = {global_batch} sequences per step",
        f"  Steps           = {args.max_steps:,} (learning rate {args.learning_rate:g}, warm-up {warmup}); "
        f"evaluation {every(args.eval_strategy, args.eval_steps) if held_out is not None else 'never'}, "
        f"checkpoints {every(args.save_strategy, args.save_steps)}",
        f"  Output          = {os.path.abspath(args.output_dir)}" + (f" (resuming {checkpoint})" if checkpoint else ""),
    ]
    if "tensorboard" in args.report_to:
        logdir = os.environ.get("TENSORBOARD_LOGGING_DIR") or os.path.join(os.path.abspath(args.output_dir), "runs")
        lines.append(f"  TensorBoard     = tensorboard --logdir {logdir}")
    logger.info("\n".join(lines))


def final_model_written(output_dir: str, step: int) -> bool:
    """Whether `output_dir` holds the final model and state of a run that ended at `step`."""
    from electra_hf.trainer import is_complete_checkpoint

    if not is_complete_checkpoint(output_dir):
        return False
    with open(os.path.join(output_dir, "trainer_state.json")) as f:
        return json.load(f).get("global_step") == step


def report_finished_run(output_dir: str, state, checkpoint: str, main_process: bool) -> dict:
    if main_process:
        print(f"{os.path.abspath(output_dir)} already holds a finished run ({state.global_step} steps; the model is in "
              f"its discriminator/ and generator/ folders), so there is nothing to train.\n"
              f"  To train further, pass a larger --max_steps: the run continues from {os.path.basename(checkpoint)} "
              "with the schedule stretched to the new total (as the original README advises, scale the learning "
              "rate too).\n  To start afresh, pass --overwrite_output_dir; for another run, another --output_dir.")
    results = os.path.join(output_dir, "eval_results.json")
    if os.path.exists(results):
        with open(results) as f:
            return json.load(f)
    return {}


def final_evaluation(trainer) -> dict:
    evaluations = [log for log in trainer.state.log_history if "eval_loss" in log]
    # an evaluation at the last step already ran: report it rather than evaluate the same model again
    if evaluations and evaluations[-1]["step"] == trainer.state.global_step:
        return {k: v for k, v in evaluations[-1].items() if k.startswith("eval_")}
    return trainer.evaluate()


def print_report(output_dir: str, model, tokenizer, held_out, metrics: dict, baselines: dict, steps: int,
                 toy: bool, num_examples: int = 3) -> None:
    """What the run produced and what the model does, for the person who started it."""
    from transformers.trainer_utils import has_length

    from electra_hf import report

    output_dir = os.path.abspath(output_dir)
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    lines = [f"\n***** ELECTRA pre-training finished: {model.config.objective}, {steps} steps *****",
             f"  Model: {output_dir}"]
    lines += [f"    {name}: {os.path.join(output_dir, name)}" for name in model.halves()]
    if metrics:
        size = f" ({len(held_out):,} examples)" if held_out is not None and has_length(held_out) else ""
        lines += [f"\n  Held-out evaluation{size}, beside what a model that learned nothing scores:",
                  report.format_metrics(metrics, baselines)]
    if held_out is not None and has_length(held_out) and len(held_out):
        results = report.replaced_token_detection(model, tokenizer, report.pick_examples(held_out, num_examples))
        has_discriminator = model.discriminator is not None
        lines += ["\n  Held-out examples: " + report.legend(has_discriminator)]
        for i, result in enumerate(results, 1):
            text, summary = report.render_example(result, tokenizer, colour=colour)
            lines += [f"  {i}. {text}", f"     {summary}"]
    curves = os.path.join(output_dir, "training_curves.png")
    if os.path.exists(curves):
        lines.append(f"\n  Curves: {curves}")
    if toy:
        lines.append("\n  This is a toy model trained for minutes on a CPU: it shows the pipeline and what "
                     "replaced-token detection learns, not an encoder for real tasks (see the README).")
    print("\n".join(lines))


def check_sources(model_args: ModelArguments, data_args: DataArguments) -> None:
    """What can be checked before torch loads: the corpus files, --config_overrides, the Hub names (no network:
    one line at once), a continued pair named whole."""
    from electra_hf.data.text_files import resolve_files
    from electra_hf.loading import check_hub_name

    if data_args.train_files:
        resolve_files(data_args.train_files)
    if data_args.prepared_data:
        from electra_hf.data.prepared import check_prepared

        check_prepared(data_args.prepared_data)
        given = [flag for flag, value in (("--train_files", data_args.train_files),
                                          ("--dataset_name", data_args.dataset_name),
                                          ("--tokenizer_name", model_args.tokenizer_name),
                                          ("--train_tokenizer", model_args.train_tokenizer),
                                          ("--discriminator_name_or_path", model_args.discriminator_name_or_path),
                                          ("--streaming", data_args.streaming)) if value]
        if given:
            raise ValueError(f"--prepared_data brings its examples (memory-mapped, not streamed) and their "
                             f"tokenizer: drop {', '.join(given)}.")
    config_overrides(model_args, data_args)
    for flag in ("tokenizer_name", "discriminator_name_or_path", "generator_name_or_path"):
        if getattr(model_args, flag):
            check_hub_name(getattr(model_args, flag), f"--{flag}")
    if data_args.dataset_name:
        check_hub_name(data_args.dataset_name, "--dataset_name", repo_type="dataset")
    if bool(model_args.discriminator_name_or_path) != bool(model_args.generator_name_or_path):
        raise ValueError("continuing pre-training needs both --discriminator_name_or_path and "
                         "--generator_name_or_path.")


def check_training_arguments(training_args) -> None:
    """What needs the parsed training arguments, before any data or model: a push can happen, the warm-up."""
    from electra_hf.loading import check_hub_push

    check_hub_push(training_args.push_to_hub)
    if training_args.max_steps > 0 and training_args.warmup_steps >= training_args.max_steps:
        logger.warning("--warmup_steps %s is not shorter than --max_steps %s: the learning rate never reaches its "
                       "peak (the original warms up over 1%% of training: pass e.g. --warmup_steps %d).",
                       training_args.warmup_steps, training_args.max_steps, max(1, training_args.max_steps // 100))


def resume_point(training_args):
    """The checkpoint to resume (the user's, else the output dir's last complete one) and, when it already holds
    every step, its trainer state."""
    from electra_hf.trainer import (check_resumable, finished_training, last_complete_checkpoint,
                                    resume_on_other_processes)

    checkpoint = training_args.resume_from_checkpoint
    check_resumable(checkpoint)
    if checkpoint is None and not training_args.overwrite_output_dir:
        checkpoint = last_complete_checkpoint(training_args.output_dir)
    if checkpoint and (change := resume_on_other_processes(checkpoint, training_args)):
        logger.warning(change)
    return checkpoint, finished_training(checkpoint, training_args)


def corpus_spec(data_args: DataArguments):
    from electra_hf.data import CorpusSpec

    return CorpusSpec(files=data_args.train_files, dataset_name=data_args.dataset_name,
                      dataset_config_name=data_args.dataset_config_name, dataset_split=data_args.dataset_split,
                      text_column=data_args.text_column, blanks_separate_docs=data_args.blanks_separate_docs,
                      streaming=data_args.streaming)


def build_model(model_args: ModelArguments, data_args: DataArguments, tokenizer, checkpoint: str | None, seed: int):
    """The pair (new from the preset or --hparams, or the two halves to continue from) and its collator; a
    checkpoint of another model is refused before the model is built."""
    from transformers import set_seed

    from electra_hf import DataCollatorForElectra, ElectraPretrainingModel
    from electra_hf.trainer import check_checkpoint_matches

    set_seed(seed)  # before the model is built, so that --seed fixes its initial weights too
    model = None
    if model_args.discriminator_name_or_path:
        overrides = {"max_seq_length": 128, **config_overrides(model_args, data_args)}
        model = ElectraPretrainingModel.from_discriminator_and_generator(
            model_args.discriminator_name_or_path, model_args.generator_name_or_path,
            mask_token_id=tokenizer.mask_token_id, cls_token_id=tokenizer.cls_token_id,
            sep_token_id=tokenizer.sep_token_id, **overrides)
        logger.info("Continuing from %s: as the original README says, set --max_steps to the old steps plus the new "
                    "ones and scale the learning rate by (old + new) / new to undo the linear decay; the released "
                    "small model has a full-size generator (preset small++).", model_args.discriminator_name_or_path)
    config = model.config if model is not None else build_config(model_args, data_args, tokenizer)
    # the model masks each batch itself, drawing from the RNG the checkpoints restore; from_config checks the
    # tokenizer against the model (before the examples are built)
    collator = DataCollatorForElectra.from_config(tokenizer, config, mask=False)
    if checkpoint:
        check_checkpoint_matches(checkpoint, config)
    return model if model is not None else ElectraPretrainingModel(config), collator


def prepared_inputs(model_args: ModelArguments, data_args: DataArguments) -> tuple:
    """--prepared_data: no documents, no corpus; the prepared examples and their tokenizer (the example length
    becomes the model's)."""
    from electra_hf.data.prepared import load_prepared

    examples, tokenizer, info = load_prepared(data_args.prepared_data)
    if data_args.max_seq_length not in (None, info["max_seq_length"]):
        raise ValueError(f"--prepared_data {data_args.prepared_data} holds examples of up to {info['max_seq_length']} "
                         f"tokens, not --max_seq_length {data_args.max_seq_length}: prepare them again or drop it.")
    data_args.max_seq_length = info["max_seq_length"]
    description = f"{data_args.prepared_data}/tokenizer ({{}} tokens), the prepared examples' own"
    return None, None, examples, tokenizer, description


def examples_cache_dir(data_args: DataArguments) -> str:
    """Where the examples (and a learned vocabulary) are kept between runs."""
    import datasets

    return data_args.data_cache_dir or os.path.join(datasets.config.HF_DATASETS_CACHE, "electra_hf")


def build_splits(docs, corpus, tokenizer, config, data_args: DataArguments, training_args, examples=None) -> dict:
    """The examples (built once, cached; or `examples` prepared beforehand), split into training and held-out
    ones."""
    from electra_hf.data import ExampleBuilder, blank_lines_end_documents, build_examples, split_for_evaluation

    if examples is not None:
        return split_for_evaluation(examples, data_args.eval_size, seed=training_args.seed, shared_folder=True)
    builder = ExampleBuilder(tokenizer, max_seq_length=config.max_seq_length, seed=training_args.seed,
                             blanks_separate_docs=blank_lines_end_documents(corpus), text_column=data_args.text_column)
    with training_args.main_process_first(desc="building examples"):
        examples = build_examples(docs, builder, cache_dir=examples_cache_dir(data_args),
                                  num_proc=data_args.preprocessing_num_workers)
        splits = split_for_evaluation(examples, data_args.eval_size, seed=training_args.seed)
    accelerator = training_args.accelerator_config
    if data_args.streaming and training_args.world_size > 1 and accelerator.dispatch_batches is None:
        # each process reads its own part of the stream (accelerate: whole shards when there are enough, else
        # its share of every global batch), instead of the main process reading all and handing batches out
        accelerator.dispatch_batches = False
    return splits


def train_and_evaluate(trainer, checkpoint: str | None, finished) -> dict:
    """Train (resuming `checkpoint`), save the final model and state, evaluate on the held-out examples."""
    if finished is not None:  # killed after its last checkpoint: write the final model from it, train nothing
        logger.info("%s already holds all %d steps: writing the final model from it.", checkpoint,
                    finished.global_step)
        trainer._load_from_checkpoint(checkpoint)
        trainer.state = finished
    else:
        result = trainer.train(resume_from_checkpoint=checkpoint)
        trainer.log_metrics("train", result.metrics)
    trainer.save_model(trainer.args.output_dir)
    trainer.save_state()
    if trainer.eval_dataset is None:
        return {}
    metrics = final_evaluation(trainer)
    trainer.log_metrics("eval", metrics)
    trainer.save_metrics("eval", metrics)
    return metrics


def publish(trainer, model, model_args: ModelArguments, corpus_name: str, metrics: dict, push_to_hub: bool) -> None:
    """The curves, the model cards, the push (each half to its own repository) and the report."""
    from transformers.trainer_utils import has_length

    from electra_hf import report
    from electra_hf.hub import push_pair_to_hub, write_model_cards

    args, held_out = trainer.args, trainer.eval_dataset
    readable = held_out is not None and has_length(held_out)
    baselines = report.trivial_baselines(held_out, model.config, metrics) if readable else {}
    report.plot_curves(trainer.state.log_history, os.path.join(args.output_dir, "training_curves.png"), baselines)
    toy = model_args.preset in TOY_PRESETS and not model_args.discriminator_name_or_path
    write_model_cards(args.output_dir, model, steps=trainer.state.global_step, data=corpus_name, metrics=metrics,
                      baselines=baselines, base_model=model_args.discriminator_name_or_path, toy=toy)
    if push_to_hub:
        base = args.hub_model_id or os.path.basename(os.path.abspath(args.output_dir))
        repos = {"discriminator": model_args.hub_discriminator_id or f"{base}-discriminator",
                 "generator": model_args.hub_generator_id or f"{base}-generator"}
        for url in push_pair_to_hub(args.output_dir, model, repos, token=args.hub_token,
                                    private=args.hub_private_repo):
            logger.info("Pushed %s", url)
    print_report(args.output_dir, model, trainer.processing_class, held_out, metrics, baselines,
                 trainer.state.global_step, toy)


@cli.one_line_errors
def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    cli.check_before_loading((ModelArguments, DataArguments), argv, check_sources)  # before torch loads
    model_args, data_args, training_args = parse_arguments(argv)
    cli.setup_logging(logger, training_args)
    check_training_arguments(training_args)
    from electra_hf.output_lock import output_dir_lock

    with output_dir_lock(training_args.output_dir, owner=training_args.process_index == 0):
        return pretrain(model_args, data_args, training_args)


def pretrain(model_args: ModelArguments, data_args: DataArguments, training_args) -> dict:
    """The run itself: resume point, corpus, tokenizer, model, examples, training, and what it leaves behind."""
    # the heavy imports after the arguments: --help and a bad flag answer at once
    from electra_hf import ElectraTrainer
    from electra_hf.data import load_documents
    from electra_hf.trainer import remove_checkpoints

    push_to_hub, training_args.push_to_hub = training_args.push_to_hub, False  # the halves are pushed at the end
    checkpoint, finished = resume_point(training_args)
    if finished is not None and final_model_written(training_args.output_dir, finished.global_step):
        return report_finished_run(training_args.output_dir, finished, checkpoint, training_args.process_index == 0)

    if training_args.overwrite_output_dir and training_args.should_save:
        remove_checkpoints(training_args.output_dir)
    if data_args.prepared_data:
        docs, corpus, examples, tokenizer, tokenizer_description = prepared_inputs(model_args, data_args)
    else:
        corpus = corpus_spec(data_args)
        with training_args.main_process_first(desc="reading the corpus"):
            docs = load_documents(corpus, cache_dir=data_args.data_cache_dir)
        if model_args.train_tokenizer and data_args.streaming:
            raise ValueError("--train_tokenizer needs the whole corpus: drop --streaming or train it beforehand.")
        with training_args.main_process_first(desc="the tokenizer"):
            tokenizer, tokenizer_description = load_or_train_tokenizer(
                model_args, docs, data_args.text_column, training_args.output_dir,
                reuse=not training_args.overwrite_output_dir, cache_dir=examples_cache_dir(data_args))
        examples = None
    model, collator = build_model(model_args, data_args, tokenizer, checkpoint, training_args.seed)
    splits = build_splits(docs, corpus, tokenizer, model.config, data_args, training_args, examples)
    if splits.get("validation") is None:
        training_args.eval_strategy = "no"

    trainer = ElectraTrainer(model=model, args=training_args, train_dataset=splits["train"],
                             eval_dataset=splits.get("validation"), data_collator=collator, processing_class=tokenizer)
    corpus_name = (f"the examples prepared in {data_args.prepared_data}" if data_args.prepared_data else
                   data_args.dataset_name or ", ".join(data_args.train_files or ["the bundled Jane Austen corpus"]))
    if trainer.is_world_process_zero():
        log_banner(training_args, corpus_name, docs, splits, tokenizer_description.format(f"{len(tokenizer):,}"),
                   model, checkpoint)
    metrics = train_and_evaluate(trainer, checkpoint, finished)
    if trainer.is_world_process_zero():
        publish(trainer, model, model_args, corpus_name, metrics, push_to_hub)
    return metrics


if __name__ == "__main__":
    main()
