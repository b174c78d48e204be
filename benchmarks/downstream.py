"""Does this pre-training make a better encoder? ELECTRA against the masked-LM baseline and against no
pre-training at all, at equal pre-training wall-clock time, each fine-tuned with several seeds on a task that no
pre-training run has seen: the claim of the ELECTRA paper's Table 1 / Figure 1, at the scale of one CPU.

    python benchmarks/downstream.py                                  # the novels task, 10 minutes per arm
    python benchmarks/downstream.py --budget_minutes 30 --seeds 5 --output_dir runs/downstream
    python benchmarks/downstream.py --train_file train.csv --validation_file dev.csv \\
        --pretrain_files my_corpus/ --text_column text --label_column label      # your own task and corpus
    python benchmarks/downstream.py --arms electra --pretrain_steps 1891 \\
        --config_overrides '{"gradient_disentangled_embeddings": true}'          # an ELECTRA variant, at set steps

Arms: `electra` (run_pretraining.py's ELECTRA), `mlm` (`--objective mlm`: the same encoder trained as a
masked LM) and `random` (the same encoder, initialised as the original initialises it, not trained). Both
pre-training arms get the same wall-clock budget: two short calibration runs of each (N and 2N steps, all
arms calibrated before any trains) measure its seconds per steady step, and each then trains
budget / (seconds per step) steps, so the cheaper MLM step gets more steps. They
share one tokenizer (learned by the ELECTRA arm on the pre-training corpus). Every arm is then fine-tuned by
run_glue.py's custom task (the original head and recipe) with seeds seed..seed+N-1; the table gives the dev
accuracy's mean and standard deviation per arm.

The default task, built from the bundled corpus: which of Jane Austen's six novels a passage comes from.
Each novel is cut into blocks of 40 consecutive paragraphs; every fourth block is held out of pre-training
entirely, and of the held-out blocks two in three go to the task's training set and one to its dev set, so no
dev passage, nor any passage near it, is seen by pre-training or by fine-tuning. A passage is one or more
consecutive paragraphs of at least 20 words. Names (words capitalised ten times as often as not:
Elizabeth, Darcy, Bath, Mr) are replaced by "X", so the task cannot be solved by recognising a
novel's characters or places: what is left is each book's vocabulary, topics, register and style, which a
classifier must read from the words in context.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import random
import re
import statistics
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ARMS = ("electra", "mlm", "random")
WORD = re.compile(r"[A-Za-z]+")


def capitalised_words(texts: list[str], min_count: int = 3) -> set[str]:
    """Words (two letters or more) capitalised at least ten times as often as not: names of people and places,
    and titles (a sentence's first word is capitalised only where it starts a sentence)."""
    counts = Counter(word for text in texts for word in WORD.findall(text))
    return {word for word, n in counts.items() if len(word) > 1 and word[0].isupper() and word[1:].islower()
            and n >= min_count and n >= 10 * counts.get(word.lower(), 0)}


def hide_names(text: str, names: set[str]) -> str:
    """Each name, in any case (DARCY, Darcy), becomes "X"."""
    return WORD.sub(lambda m: "X" if m.group(0).capitalize() in names else m.group(0), text)


def paragraphs(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [p.strip() for p in f.read().split("\n\n") if p.strip()]


def build_novel_task(corpus_dir: str, out_dir: str, block: int = 40, held_out_every: int = 4,
                     min_words: int = 20) -> dict[str, str]:
    """Write the pre-training corpus (the blocks not held out) and the task's train.csv / validation.csv."""
    books = {os.path.splitext(os.path.basename(p))[0]: paragraphs(p)
             for p in sorted(glob.glob(os.path.join(corpus_dir, "*.txt")))}
    names = capitalised_words([p for paras in books.values() for p in paras])
    pretrain_dir = os.path.join(out_dir, "pretraining_corpus")
    os.makedirs(pretrain_dir, exist_ok=True)
    rows = {"train": [], "validation": []}
    for book, paras in books.items():
        kept = []
        blocks = [paras[i:i + block] for i in range(0, len(paras), block)]
        for index, chunk in enumerate(blocks):
            if index % held_out_every != held_out_every // 2:
                kept += chunk
                continue
            split = "validation" if (index // held_out_every) % 3 == 2 else "train"  # 2 held-out blocks in 3 train
            passage = []
            for paragraph in chunk:  # passages of consecutive paragraphs, at least min_words long
                passage.append(" ".join(paragraph.split()))
                if sum(len(p.split()) for p in passage) >= min_words:
                    rows[split].append({"text": hide_names(" ".join(passage), names), "label": book})
                    passage = []
        with open(os.path.join(pretrain_dir, f"{book}.txt"), "w", encoding="utf-8") as f:
            f.write("\n\n".join(kept) + "\n")
    files = {"pretrain_dir": pretrain_dir}
    for split, split_rows in rows.items():
        files[split] = os.path.join(out_dir, f"{split}.csv")
        with open(files[split], "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=["text", "label"])
            writer.writeheader()
            writer.writerows(split_rows)
    return files


def read_labels(path: str, column: str) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return [row[column] for row in csv.DictReader(f)]


def subsample(path: str, out_path: str, limit: int | None, seed: int) -> str:
    """At most `limit` rows of a csv (a fixed random sample), written next to the task's files."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fieldnames, rows = reader.fieldnames, list(reader)
    if limit is None or len(rows) <= limit:
        return path
    rows = random.Random(seed).sample(rows, limit)
    with open(out_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    return out_path


def pretraining_argv(arm: str, args, corpus: str, output_dir: str, steps: int, tokenizer_dir: str | None) -> list[str]:
    argv = ["--preset", args.preset, "--train_files", corpus, "--output_dir", output_dir, "--overwrite_output_dir",
            "--max_steps", str(steps), "--warmup_steps", "0.1", "--eval_steps", str(10 ** 9), "--save_strategy", "no",
            "--eval_size", str(args.pretrain_eval_size), "--report_to", "none", "--disable_tqdm", "true",
            "--seed", str(args.seed), "--data_cache_dir", os.path.join(args.output_dir, "cache")]
    if args.config_overrides:
        argv += ["--config_overrides", args.config_overrides]
    if arm == "mlm":
        argv += ["--objective", "mlm"]
    if tokenizer_dir:
        argv += ["--tokenizer_name", tokenizer_dir]
    return argv


def pretrain(arm: str, args, corpus: str, steps: int, tokenizer_dir: str | None) -> tuple[str, dict, float]:
    """One pre-training run; returns its output directory, its held-out metrics and seconds per step."""
    import run_pretraining

    output_dir = os.path.join(args.output_dir, "pretraining", arm)
    metrics = run_pretraining.main(pretraining_argv(arm, args, corpus, output_dir, steps, tokenizer_dir))
    with open(os.path.join(output_dir, "trainer_state.json")) as f:
        runtime = next(log["train_runtime"] for log in json.load(f)["log_history"] if "train_runtime" in log)
    return output_dir, metrics, runtime / steps


def random_encoder(args, tokenizer_dir: str) -> str:
    """The pre-training arms' discriminator architecture, initialised as the original does, not trained."""
    import torch
    from transformers import set_seed

    from electra_hf import ElectraPretrainingConfig, ElectraPretrainingModel
    from electra_hf.data import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_dir)
    overrides = json.loads(args.config_overrides) if args.config_overrides else {}
    config = ElectraPretrainingConfig.from_preset(args.preset, tokenizer=tokenizer, **overrides)
    set_seed(args.seed)
    with torch.no_grad():
        model = ElectraPretrainingModel(config)
    path = os.path.join(args.output_dir, "pretraining", "random")
    model.discriminator.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def finetune(arm: str, model_path: str, args, train_file: str, validation_file: str) -> list[float]:
    """Dev accuracy (x100) of each seed, from run_glue.py's custom task."""
    import run_glue

    argv = ["--model_name_or_path", model_path, "--task_name", "custom", "--train_file", train_file,
            "--validation_file", validation_file, "--sentence1_key", args.text_column, "--label_key",
            args.label_column, "--num_trials", str(args.seeds), "--seed", str(args.seed), "--output_dir",
            os.path.join(args.output_dir, "finetuning", arm), "--report_to", "none", "--disable_tqdm", "true",
            "--num_train_epochs", str(args.finetune_epochs), "--max_seq_length", str(args.max_seq_length)]
    if args.finetune_learning_rate:
        argv += ["--learning_rate", str(args.finetune_learning_rate)]
    results = run_glue.main(argv)
    return [trial["accuracy"] for trial in results["custom"]["trials"]]


def summary_table(report: dict) -> str:
    lines = ["| arm | pre-training steps | s/step | dev accuracy, mean ± std | seeds |", "|---|---|---|---|---|"]
    for arm, row in report["arms"].items():
        steps = row.get("steps", 0)
        seconds = f"{row['seconds_per_step']:.3f}" if row.get("seconds_per_step") else "-"
        scores = ", ".join(f"{a:.1f}" for a in row["accuracies"])
        lines.append(f"| {arm} | {steps:,} | {seconds} | {row['mean']:.2f} ± {row['std']:.2f} | {scores} |")
    lines.append(f"| majority class | - | - | {report['majority_class_accuracy']:.2f} | - |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget_minutes", type=float, default=10.0,
                        help="Pre-training wall-clock per arm (steps = budget / the arm's measured s/step).")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--seeds", type=int, default=3, help="Fine-tuning seeds per arm.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--preset", default="demo", help="run_pretraining.py's preset: the encoder of every arm.")
    parser.add_argument("--config_overrides", default=None, help="run_pretraining.py's --config_overrides.")
    parser.add_argument("--calibration_steps", type=int, default=30, help="Steps timed to measure s/step.")
    parser.add_argument("--pretrain_steps", type=int, default=None,
                        help="Pre-training steps of every arm instead of a wall-clock budget (no calibration): equal "
                             "steps, for arms whose steps cost about the same.")
    parser.add_argument("--pretrain_eval_size", type=int, default=300)
    parser.add_argument("--train_file", default=None, help="A csv task (default: the novels task).")
    parser.add_argument("--validation_file", default=None)
    parser.add_argument("--pretrain_files", default=None,
                        help="The pre-training corpus with --train_file (default: the bundled corpus).")
    parser.add_argument("--text_column", default="text")
    parser.add_argument("--label_column", default="label")
    parser.add_argument("--max_train_examples", type=int, default=2000)
    parser.add_argument("--max_validation_examples", type=int, default=1000)
    parser.add_argument("--finetune_epochs", type=float, default=3)
    parser.add_argument("--finetune_learning_rate", type=float, default=None,
                        help="Default: run_glue.py's recipe for the model's size.")
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--output_dir", default="runs/downstream")
    parser.add_argument("--json", default=None, help="Also write the report here (e.g. benchmarks/results/...).")
    parser.add_argument("--reuse_pretraining", action="store_true",
                        help="Fine-tune the models an earlier run left in --output_dir (e.g. with another "
                             "--finetune_learning_rate) instead of pre-training again.")
    args = parser.parse_args(argv)
    if bool(args.train_file) != bool(args.validation_file):
        parser.error("--train_file and --validation_file go together.")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    from electra_hf.data.corpus import BUNDLED_CORPUS_DIR

    if args.train_file:
        corpus, train_file, validation_file = args.pretrain_files or BUNDLED_CORPUS_DIR, args.train_file, \
            args.validation_file
        task = "csv"
    else:
        files = build_novel_task(BUNDLED_CORPUS_DIR, os.path.join(args.output_dir, "task"))
        corpus, train_file, validation_file = files["pretrain_dir"], files["train"], files["validation"]
        task = "novels"
    train_file = subsample(train_file, os.path.join(args.output_dir, "train.csv"), args.max_train_examples, args.seed)
    validation_file = subsample(validation_file, os.path.join(args.output_dir, "validation.csv"),
                                args.max_validation_examples, args.seed)
    labels = read_labels(validation_file, args.label_column)
    majority = 100 * Counter(labels).most_common(1)[0][1] / len(labels)

    budget = 60 * args.budget_minutes
    report = {"task": task, "budget_seconds_per_arm": budget, "train_examples": len(read_labels(
        train_file, args.label_column)), "validation_examples": len(labels), "majority_class_accuracy": majority,
        "preset": args.preset, "config_overrides": args.config_overrides, "pretrain_steps": args.pretrain_steps,
        "arms": {}}
    tokenizer_dir, models = None, {}
    earlier = os.path.join(args.output_dir, "downstream.json")
    if args.reuse_pretraining:
        with open(earlier) as f:
            previous = json.load(f)
        report["budget_seconds_per_arm"] = budget = previous["budget_seconds_per_arm"]
        report["arms"] = {arm: {k: v for k, v in row.items() if k not in ("accuracies", "mean", "std")}
                          for arm, row in previous["arms"].items() if arm in args.arms}
        tokenizer_dir = os.path.join(args.output_dir, "pretraining", "electra", "tokenizer")
        models = {arm: os.path.join(args.output_dir, "pretraining", arm, {"electra": "discriminator",
                                                                          "mlm": "generator"}.get(arm, ""))
                  for arm in report["arms"]}
    trained = [a for a in ("electra", "mlm") if not args.reuse_pretraining and (
        a in args.arms or (a == "electra" and "random" in args.arms))]
    costs = {}
    for arm in trained if args.pretrain_steps is None else ():
        # calibrate every arm before any trains, so all are timed on the machine in the same state: two short
        # runs of N and 2N steps, whose difference is the cost of N steady steps (start-up, the first slow steps
        # and the final evaluation cancel out); the first also builds the examples and the vocabulary
        started = time.time()
        n = args.calibration_steps
        _, _, first = pretrain(arm, args, corpus, n, tokenizer_dir)
        tokenizer_dir = tokenizer_dir or os.path.join(args.output_dir, "pretraining", arm, "tokenizer")
        _, _, second = pretrain(arm, args, corpus, 2 * n, tokenizer_dir)
        steady = (2 * n * second - n * first) / n
        costs[arm] = (steady if steady > 0 else second, time.time() - started)  # noise beat a tiny N: the average
    for arm in trained:
        seconds, calibration_wall = costs.get(arm, (None, 0.0))
        started = time.time()
        steps = args.pretrain_steps or max(1, int(budget / seconds))
        path, metrics, seconds_measured = pretrain(arm, args, corpus, steps, tokenizer_dir)
        tokenizer_dir = tokenizer_dir or os.path.join(path, "tokenizer")  # learned by the first arm
        models[arm] = os.path.join(path, "discriminator" if arm == "electra" else "generator")
        report["arms"][arm] = {"steps": steps, "seconds_per_step": seconds, "seconds_per_step_in_run":
                               seconds_measured, "wall_seconds": calibration_wall + time.time() - started,
                               "pretraining_metrics": metrics}
    if "random" in args.arms and not args.reuse_pretraining:
        models["random"] = random_encoder(args, tokenizer_dir)
        report["arms"]["random"] = {"steps": 0}
    for arm in [a for a in ARMS if a in args.arms]:
        accuracies = finetune(arm, models[arm], args, train_file, validation_file)
        report["arms"][arm].update({"accuracies": accuracies, "mean": statistics.mean(accuracies),
                                    "std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0})
    report["arms"] = {arm: report["arms"][arm] for arm in ARMS if arm in report["arms"]}
    table = summary_table(report)
    per_arm = f"{args.pretrain_steps:,} steps" if args.pretrain_steps else f"budget {budget / 60:g} min"
    print(f"\nDownstream accuracy ({task} task, {report['train_examples']} training / "
          f"{report['validation_examples']} dev examples; pre-training {per_arm} per arm):\n" + table)
    report["table"] = table
    report["finetune_learning_rate"] = args.finetune_learning_rate or "run_glue.py's recipe"
    for path in filter(None, (None if args.reuse_pretraining else earlier, args.json)):
        with open(path, "w") as f:
            json.dump(report, f, indent=1)
    return report


if __name__ == "__main__":
    main()
