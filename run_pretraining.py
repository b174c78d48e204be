#!/usr/bin/env python
"""Pre-train ELECTRA (generator + discriminator) as the original does.

With no arguments: the `tiny` preset on the bundled Jane Austen corpus, on CPU, in a few minutes.

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

import datasets
import transformers
from transformers import HfArgumentParser

from electra_hf import (
    DataCollatorForElectra,
    ElectraPretrainingConfig,
    ElectraPretrainingModel,
    ElectraTrainer,
    ElectraTrainingArguments,
)
from electra_hf.data import (
    CorpusSpec,
    ExampleBuilder,
    blank_lines_end_documents,
    build_examples,
    load_documents,
    load_tokenizer,
    split_for_evaluation,
    train_tokenizer,
)
from electra_hf.config import original_preset, read_original_hparams
from electra_hf.hub import push_pair_to_hub, write_model_cards
from electra_hf.trainer import (
    check_checkpoint_matches,
    last_complete_checkpoint,
    remove_checkpoints,
    training_defaults,
)

logger = logging.getLogger("run_pretraining")


@dataclass
class ModelArguments:
    preset: str = field(default="tiny", metadata={"help": "Model size and training recipe.",
                                                  "choices": ["tiny", "small", "small++", "base", "large"]})
    hparams: str | None = field(default=None, metadata={
        "help": "The original's --hparams (JSON string or .json file): model and training names are translated."})
    config_overrides: str | None = field(default=None, metadata={
        "help": 'JSON of ElectraPretrainingConfig overrides, e.g. \'{"disc_weight": 30, "num_hidden_layers": 6}\'.'})
    objective: str | None = field(default=None, metadata={
        "help": "electra (default), electric (Electric: a two-tower cloze generator and the NCE-corrected "
                "discriminator, whose scores give pseudo-likelihoods) or mlm (the BERT-style baseline).",
        "choices": ["electra", "electric", "mlm"]})
    generator_type: str | None = field(default=None, metadata={
        "help": "masked_lm (ELECTRA's default), two_tower (Electric's, its default) or uniform (no generator: fakes "
                "uniform over the vocabulary).", "choices": ["masked_lm", "two_tower", "uniform"]})
    tie_generator: bool = field(default=False, metadata={
        "help": "The generator is the discriminator's own encoder with an MLM head (the original's "
                "untied_generator=False)."})
    untied_generator_embeddings: bool = field(default=False, metadata={
        "help": "The generator gets embeddings of its own instead of sharing the discriminator's."})
    generator_hidden_size: float | None = field(default=None, metadata={
        "help": "Generator size as a fraction of the discriminator's (the paper: 0.25; the released small: 1.0)."})
    discriminator_name_or_path: str | None = field(default=None, metadata={
        "help": "Continue pre-training from this discriminator (Hub id or directory), with the generator below."})
    generator_name_or_path: str | None = field(default=None, metadata={"help": "The generator to continue from."})
    tokenizer_name: str | None = field(default=None, metadata={
        "help": "Tokenizer (Hub id or directory); default: the bundled BERT uncased vocab, or the one saved with "
                "--discriminator_name_or_path."})
    train_tokenizer: bool = field(default=False, metadata={
        "help": "Learn a WordPiece vocabulary of --vocab_size on the corpus first (saved with the model)."})
    vocab_size: int = field(default=30522, metadata={"help": "Vocabulary size for --train_tokenizer."})
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


def parse_arguments(argv: list[str]) -> tuple[ModelArguments, DataArguments, ElectraTrainingArguments]:
    """Arguments from the command line or one JSON file, over --hparams' training values and the preset's
    recipe (in that order of precedence)."""
    parser = HfArgumentParser((ModelArguments, DataArguments, ElectraTrainingArguments),
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    json_file = len(argv) == 1 and argv[0].endswith(".json")
    if json_file:
        with open(argv[0]) as f:
            given = json.load(f)
    else:
        pre = argparse.ArgumentParser(add_help=False)
        pre.add_argument("--preset", default=None)
        pre.add_argument("--hparams", default=None)
        given = vars(pre.parse_known_args(argv)[0])
    hparams = read_original_hparams(given["hparams"]) if given.get("hparams") else {}
    preset = given.get("preset") or (original_preset(hparams) if hparams else "tiny")
    _, original_training = ElectraPretrainingConfig.from_original_hparams(hparams) if hparams else (None, {})
    defaults = {**training_defaults(preset), **original_training, "preset": preset}
    if json_file:
        return parser.parse_dict({**defaults, **given})
    parser.set_defaults(**defaults)
    return parser.parse_args_into_dataclasses(args=argv)


def config_overrides(model_args: ModelArguments, data_args: DataArguments) -> dict:
    """The ElectraPretrainingConfig fields the command line sets, for a new model or a continued pair."""
    overrides = json.loads(model_args.config_overrides) if model_args.config_overrides else {}
    for name in ("objective", "generator_hidden_size", "generator_type"):
        if getattr(model_args, name) is not None:
            overrides[name] = getattr(model_args, name)
    for name in ("tie_generator", "untied_generator_embeddings"):
        if getattr(model_args, name):
            overrides[name] = True
    if data_args.max_seq_length is not None:
        overrides["max_seq_length"] = data_args.max_seq_length
    return overrides


def build_config(model_args: ModelArguments, data_args: DataArguments, tokenizer) -> ElectraPretrainingConfig:
    overrides = config_overrides(model_args, data_args)
    if model_args.hparams:
        return ElectraPretrainingConfig.from_original_hparams(model_args.hparams, tokenizer=tokenizer, **overrides)[0]
    return ElectraPretrainingConfig.from_preset(model_args.preset, tokenizer=tokenizer, **overrides)


def load_or_train_tokenizer(model_args, docs, text_column: str, output_dir: str, reuse: bool):
    if not model_args.train_tokenizer:
        name = model_args.tokenizer_name or model_args.discriminator_name_or_path
        return load_tokenizer(name)
    saved = os.path.join(output_dir, "tokenizer")
    if reuse and os.path.exists(os.path.join(saved, "tokenizer_config.json")):  # a resumed run keeps its vocabulary
        return load_tokenizer(saved)
    logger.info("Training a vocabulary of %d tokens on the corpus", model_args.vocab_size)
    batches = (docs[i:i + 1000][text_column] for i in range(0, len(docs), 1000))
    tokenizer = train_tokenizer(load_tokenizer(model_args.tokenizer_name), batches, model_args.vocab_size)
    tokenizer.save_pretrained(saved)
    return tokenizer


def main(argv: list[str] | None = None) -> dict:
    model_args, data_args, training_args = parse_arguments(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=[logging.StreamHandler()])
    logger.setLevel(logging.INFO if training_args.should_log else logging.WARNING)
    transformers.utils.logging.set_verbosity(training_args.get_process_log_level())  # --log_level, as run_mlm
    datasets.utils.logging.set_verbosity(training_args.get_process_log_level())
    push_to_hub, training_args.push_to_hub = training_args.push_to_hub, False  # the halves are pushed at the end
    if training_args.max_steps > 0 and training_args.warmup_steps >= training_args.max_steps:
        logger.warning("--warmup_steps %s is not shorter than --max_steps %s: the learning rate never reaches its "
                       "peak (the original warms up over 1%% of training: pass e.g. --warmup_steps %d).",
                       training_args.warmup_steps, training_args.max_steps, max(1, training_args.max_steps // 100))
    continuing = bool(model_args.discriminator_name_or_path or model_args.generator_name_or_path)
    if continuing and not (model_args.discriminator_name_or_path and model_args.generator_name_or_path):
        raise ValueError("continuing pre-training needs both --discriminator_name_or_path and "
                         "--generator_name_or_path.")

    corpus = CorpusSpec(files=data_args.train_files, dataset_name=data_args.dataset_name,
                        dataset_config_name=data_args.dataset_config_name, dataset_split=data_args.dataset_split,
                        text_column=data_args.text_column, blanks_separate_docs=data_args.blanks_separate_docs,
                        streaming=data_args.streaming)
    with training_args.main_process_first(desc="reading the corpus"):
        docs = load_documents(corpus, cache_dir=data_args.data_cache_dir)
    if model_args.train_tokenizer and data_args.streaming:
        raise ValueError("--train_tokenizer needs the whole corpus: drop --streaming or train it beforehand.")
    if training_args.overwrite_output_dir and training_args.should_save:
        remove_checkpoints(training_args.output_dir)
    with training_args.main_process_first(desc="the tokenizer"):
        tokenizer = load_or_train_tokenizer(model_args, docs, data_args.text_column, training_args.output_dir,
                                            reuse=not training_args.overwrite_output_dir)

    if continuing:
        overrides = {"max_seq_length": 128, **config_overrides(model_args, data_args)}
        model = ElectraPretrainingModel.from_discriminator_and_generator(
            model_args.discriminator_name_or_path, model_args.generator_name_or_path,
            mask_token_id=tokenizer.mask_token_id, cls_token_id=tokenizer.cls_token_id,
            sep_token_id=tokenizer.sep_token_id, **overrides)
        logger.info("Continuing from %s: as the original README says, set --max_steps to the old steps plus the new "
                    "ones and scale the learning rate by (old + new) / new to undo the linear decay; the released "
                    "small model has a full-size generator (preset small++).", model_args.discriminator_name_or_path)
        config = model.config
    else:
        config = build_config(model_args, data_args, tokenizer)
        model = None
    config.check_tokenizer(tokenizer)

    checkpoint = training_args.resume_from_checkpoint
    if checkpoint is None and not training_args.overwrite_output_dir:
        checkpoint = last_complete_checkpoint(training_args.output_dir)
    if checkpoint:
        check_checkpoint_matches(checkpoint, config)
        logger.info("Resuming from %s", checkpoint)
    if model is None:
        model = ElectraPretrainingModel(config)

    builder = ExampleBuilder(tokenizer, max_seq_length=config.max_seq_length, seed=training_args.seed,
                             blanks_separate_docs=blank_lines_end_documents(corpus), text_column=data_args.text_column)
    with training_args.main_process_first(desc="building examples"):
        cache_dir = data_args.data_cache_dir or os.path.join(datasets.config.HF_DATASETS_CACHE, "electra_hf")
        examples = build_examples(docs, builder, cache_dir=cache_dir, num_proc=data_args.preprocessing_num_workers)
        splits = split_for_evaluation(examples, data_args.eval_size, seed=training_args.seed)
    if "validation" not in splits:
        training_args.eval_strategy = "no"

    trainer = ElectraTrainer(
        model=model, args=training_args, train_dataset=splits["train"], eval_dataset=splits.get("validation"),
        # the model masks each batch itself, drawing from the RNG the checkpoints restore
        data_collator=DataCollatorForElectra.from_config(tokenizer, config, mask=False),
        processing_class=tokenizer)
    result = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model(training_args.output_dir)
    trainer.log_metrics("train", result.metrics)
    trainer.save_state()
    metrics = {}
    if "validation" in splits:
        evaluations = [log for log in trainer.state.log_history if "eval_loss" in log]
        # an evaluation at the last step already ran: report it rather than evaluate the same model again
        if evaluations and evaluations[-1]["step"] == trainer.state.global_step:
            metrics = {k: v for k, v in evaluations[-1].items() if k.startswith("eval_")}
        else:
            metrics = trainer.evaluate()
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)

    if trainer.is_world_process_zero():
        data = data_args.dataset_name or ", ".join(data_args.train_files or ["the bundled Jane Austen corpus"])
        write_model_cards(training_args.output_dir, model, steps=trainer.state.global_step, data=data,
                          metrics=metrics, base_model=model_args.discriminator_name_or_path)
        if push_to_hub:
            base = training_args.hub_model_id or os.path.basename(os.path.abspath(training_args.output_dir))
            repos = {"discriminator": model_args.hub_discriminator_id or f"{base}-discriminator",
                     "generator": model_args.hub_generator_id or f"{base}-generator"}
            for url in push_pair_to_hub(training_args.output_dir, model, repos, token=training_args.hub_token,
                                        private=training_args.hub_private_repo):
                logger.info("Pushed %s", url)
        print(f"\nELECTRA {config.objective} model after {trainer.state.global_step} steps: "
              f"{os.path.abspath(training_args.output_dir)}")
        for name in model.halves():
            print(f"  {name}: {os.path.join(os.path.abspath(training_args.output_dir), name)}")
        for key in ("eval_loss", "eval_masked_lm_accuracy", "eval_sampled_masked_lm_accuracy", "eval_disc_accuracy",
                    "eval_disc_precision", "eval_disc_recall", "eval_disc_auc"):
            if key in metrics:
                print(f"  {key}: {metrics[key]:.4f}")
    return metrics


if __name__ == "__main__":
    main()
