"""One fine-tuning loop for every task, as the original's run_finetuning.py runs each finetune/task.py Task.

A `Task` says what is its own: the model class, the default epochs, how to featurize its data, how to score a
trained model and write its predictions. `run_trials` does the rest: seeds, the recipe, training, checkpoints
and resuming a killed run (trial and step), choosing and keeping trials, results.json and the push to the Hub.
A task of your own is one subclass of `Task` (tasks/classification.py, qa.py and tagging.py are the three
here) and a call to `run_trials`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import statistics

from datasets import Dataset
from transformers import AutoConfig, DataCollatorWithPadding, PreTrainedModel, set_seed

from ..cli import FineTuningArguments
from ..hub import push_folder_to_hub
from ..output_lock import output_dir_lock
from ..trainer import ElectraTrainer, check_resumable, last_complete_checkpoint, remove_checkpoints
from ..training_args import ElectraTrainingArguments
from .recipe import finetuning_recipe

logger = logging.getLogger(__name__)

LOWER_IS_BETTER = ("mse", "loss")
PROGRESS_FILE = "trials.json"  # each finished trial's settings and scores: what a re-run skips
# What a recorded trial must share with this run to stand for one of its trials.
TRIAL_SETTINGS = ("learning_rate", "layerwise_lr_decay", "layerwise_lr_depth_rule", "weight_decay", "warmup_steps",
                  "num_train_epochs", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps",
                  "seed", "original_optimizer", "adam_bias_correction", "original_lr_schedule", "lr_decay_power")
class Task:
    """One fine-tuning task. Subclasses set the class attributes and implement `featurize` and `evaluate`."""

    name: str = "task"
    model_class: type[PreTrainedModel]
    epochs: int = 3  # the original's default (configure_finetuning.py); 10 for RTE and STS-B, 2 for QA
    headline: str = "accuracy"  # the metric that chooses among trials

    def model_kwargs(self) -> dict:
        """`from_pretrained` arguments of the model (its labels, its head's config)."""
        return {}

    def data_collator(self, tokenizer):
        return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)

    def settings(self) -> dict:
        """The task's own settings that change a trained model (e.g. max_seq_length): a recorded trial is reused
        only when they match."""
        return {}

    def featurize(self, tokenizer) -> dict[str, Dataset]:
        """The model's inputs per split: "train" (when training) and whatever `evaluate` reads."""
        raise NotImplementedError

    def evaluate(self, trainer: ElectraTrainer, features: dict[str, Dataset], trial_dir: str) -> dict[str, float]:
        """Score the trained model (×100) and write its predictions under `trial_dir`; {} when nothing is scored."""
        raise NotImplementedError

    def conclude(self, chosen_dir: str) -> None:
        """After the trial is chosen (GLUE: its test predictions become the submission files)."""

    def collapse_reason(self, trainer: ElectraTrainer, features: dict[str, Dataset], metrics: dict[str, float]
                        ) -> str | None:
        """Why the trained trial counts as collapsed (one class predicted, a score within noise of the trivial
        predictor's: tasks/collapse.py), or None; tasks that do not check return None."""
        return None


def summarize_trials(trials: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per metric: mean, median, standard deviation (sample; 0 for one trial), best and worst over trials."""
    summary = {}
    for name in trials[0]:
        values = [trial[name] for trial in trials]
        lower = name.endswith(LOWER_IS_BETTER)
        summary[name] = {"mean": statistics.fmean(values), "median": statistics.median(values),
                         "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                         "best": min(values) if lower else max(values),
                         "worst": max(values) if lower else min(values), "n": len(values)}
    return summary


def choose_trial(trials: list[dict[str, float]], metric: str, rule: str = "best") -> int:
    """The trial whose `metric` is the best, the median (for an even count, the worse of the middle two) or
    the first."""
    if rule == "first":
        return 0
    order = sorted(range(len(trials)), key=lambda i: trials[i][metric], reverse=not metric.endswith(LOWER_IS_BETTER))
    if rule == "best":
        return order[0]
    if rule == "median":
        return order[len(order) // 2]  # order runs from best to worst
    raise ValueError(f"chosen_trial={rule!r}: use 'best', 'median' or 'first'.")


def format_summary(summaries: dict[str, dict[str, dict[str, float]]]) -> str:
    """A table: one row per task and metric."""
    lines = [f"{'task':8} {'metric':12} {'mean':>8} {'median':>8} {'std':>7} {'best':>8} {'n':>3}"]
    for task, summary in summaries.items():
        for name, s in summary.items():
            lines.append(f"{task:8} {name:12} {s['mean']:8.2f} {s['median']:8.2f} {s['std']:7.2f} {s['best']:8.2f} "
                         f"{s['n']:3d}")
    return "\n".join(lines)


def hub_repo_name(model_path: str, task: str) -> str:
    """`<model>-finetuned-<task>`, the model named by its folder (a pre-training run's, not "discriminator")."""
    parts = [p for p in os.path.normpath(model_path).split(os.sep) if p not in ("", ".")]
    name = parts[-2] if len(parts) > 1 and parts[-1] == "discriminator" else parts[-1]
    return f"{name}-finetuned-{task}"


def clear_trials(output_dir: str) -> None:
    """What an earlier run left (trials, their record, results): --overwrite_output_dir starts afresh."""
    if not os.path.isdir(output_dir):
        return
    for name in os.listdir(output_dir):
        path = os.path.join(output_dir, name)
        if name.startswith("trial_") and os.path.isdir(path):
            shutil.rmtree(path)
        elif name in (PROGRESS_FILE, "results.json"):
            os.remove(path)


def read_progress(output_dir: str) -> dict[str, dict]:
    path = os.path.join(output_dir, PROGRESS_FILE)
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError:
        logger.warning("Ignoring %s: it is damaged (was the run killed while writing it?).", path)
        return {}


def write_progress(output_dir: str, progress: dict[str, dict]) -> None:
    path = os.path.join(output_dir, PROGRESS_FILE)
    with open(path + ".tmp", "w") as f:
        json.dump(progress, f, indent=1)
    os.replace(path + ".tmp", path)  # a kill mid-write leaves the previous record whole


def trial_settings(model_path: str, task: Task, args: ElectraTrainingArguments) -> dict:
    return {"model": model_path, "task": task.name, **task.settings(),
            **{name: getattr(args, name) for name in TRIAL_SETTINGS}}


def check_recorded(recorded: dict, settings: dict, trial: int, output_dir: str) -> None:
    changed = [f"{k} {recorded['settings'].get(k)!r} (now {v!r})" for k, v in settings.items()
               if recorded["settings"].get(k) != v]
    if changed:
        raise ValueError(f"{output_dir} holds trial {trial} of a different run: {'; '.join(changed)}. Start "
                         "afresh with --overwrite_output_dir, or use another --output_dir.")


def run_trials(task: Task, model_path: str, tokenizer, training_args: ElectraTrainingArguments, explicit: set[str],
               finetuning_args: FineTuningArguments) -> dict:
    """Train and score `task` once per seed (seed, seed+1, ...), the recipe filling every training argument the
    user did not give; returns and writes `<output_dir>/results.json`. Trials a killed run finished are not
    trained again, and an unfinished one resumes from its last checkpoint. One run at a time per output dir."""
    with output_dir_lock(training_args.output_dir, owner=training_args.should_save):
        trials, trial_dirs, collapsed = train_trials(task, model_path, tokenizer, training_args, explicit,
                                                     finetuning_args)
        return conclude_trials(task, trials, trial_dirs, model_path, training_args, finetuning_args, collapsed)


def train_trials(task: Task, model_path: str, tokenizer, training_args: ElectraTrainingArguments, explicit: set[str],
                 finetuning_args: FineTuningArguments) -> tuple[list[dict[str, float]], list[str], dict[int, str]]:
    """Each trial's metrics and folder (trained, resumed, or read from an earlier run's record), and the
    collapsed ones with why; a collapsed trial is re-run with the next unused seed up to --restart_collapsed
    times."""
    output_dir, training = training_args.output_dir, training_args.do_train
    if training_args.overwrite_output_dir and training_args.should_save:
        clear_trials(output_dir)
    features = task.featurize(tokenizer)
    recipe = finetuning_recipe(finetuning_args.recipe, AutoConfig.from_pretrained(model_path).hidden_size, task.epochs)
    progress = read_progress(output_dir) if training else {}
    resume = training_args.resume_from_checkpoint
    check_resumable(resume)
    trials, trial_dirs, collapsed = [], [], {}
    planned, restarts = list(range(finetuning_args.num_trials if training else 1)), 0
    while len(trial_dirs) < len(planned):
        trial = planned[len(trial_dirs)]
        trial_dir = os.path.join(output_dir, f"trial_{trial}")
        args = dataclasses.replace(training_args, output_dir=trial_dir, seed=training_args.seed + trial,
                                   push_to_hub=False, resume_from_checkpoint=None,
                                   **{k: v for k, v in recipe.items() if k not in explicit})
        settings = trial_settings(model_path, task, args)
        trial_dirs.append(trial_dir)
        if str(trial) in progress:
            check_recorded(progress[str(trial)], settings, trial, output_dir)
            trials.append(progress[str(trial)]["metrics"])
            logger.info("%s trial %d: finished by an earlier run (%s)", task.name, trial, os.path.join(
                output_dir, PROGRESS_FILE))
            if progress[str(trial)].get("collapsed"):
                collapsed[trial] = progress[str(trial)]["collapsed"]
                restarts = restart_collapsed(trial, planned, restarts, finetuning_args.restart_collapsed)
            continue
        set_seed(args.seed)  # before the head is initialised: a trial's start depends on its seed alone
        model = task.model_class.from_pretrained(model_path, **task.model_kwargs())
        trainer = ElectraTrainer(model=model, args=args, train_dataset=features.get("train"),
                                 processing_class=tokenizer, data_collator=task.data_collator(tokenizer))
        if training:
            checkpoint, resume = resume or last_complete_checkpoint(trial_dir), None
            if checkpoint:
                logger.info("%s trial %d: resuming from %s", task.name, trial, checkpoint)
            trainer.train(resume_from_checkpoint=checkpoint)
            trainer.save_model(trial_dir)
            remove_checkpoints(trial_dir, reason="the trial is finished")
        metrics = task.evaluate(trainer, features, trial_dir)
        logger.info("%s trial %d: %s", task.name, trial, json.dumps({k: round(v, 2) for k, v in metrics.items()}))
        trials.append(metrics)
        reason = task.collapse_reason(trainer, features, metrics) if metrics else None
        if reason:
            collapsed[trial] = reason
            logger.warning("%s trial %d (seed %d) collapsed: %s.", task.name, trial, args.seed, reason)
            restarts = restart_collapsed(trial, planned, restarts, finetuning_args.restart_collapsed)
        if training and args.should_save:
            progress[str(trial)] = {"settings": settings, "metrics": metrics, "collapsed": reason}
            write_progress(output_dir, progress)
    return trials, trial_dirs, collapsed


def restart_collapsed(trial: int, planned: list[int], restarts: int, allowed: int) -> int:
    """Plan another trial, with the next unused seed, for a collapsed one while restarts are left."""
    if restarts < allowed:
        planned.append(len(planned))
        logger.info("Trial %d collapsed: trial %d (restart %d of %d) takes its place.", trial, planned[-1],
                    restarts + 1, allowed)
        return restarts + 1
    return restarts


def conclude_trials(task: Task, trials: list[dict[str, float]], trial_dirs: list[str], model_path: str,
                    training_args: ElectraTrainingArguments, finetuning_args: FineTuningArguments,
                    collapsed: dict[int, str] | None = None) -> dict:
    """The summary table (every trial; with collapsed ones, also the others alone, labelled), the chosen trial
    (among the trials that did not collapse; the others' folders removed unless kept), results.json, the push."""
    collapsed = collapsed or {}
    results: dict = {"task": task.name, "model": model_path}
    training, output_dir = training_args.do_train, training_args.output_dir
    if trials and trials[0]:
        # a re-run with more trials chooses among those whose model is still on disk
        on_disk = [i for i, d in enumerate(trial_dirs) if os.path.isdir(d)] or list(range(len(trials)))
        candidates = [i for i in on_disk if i not in collapsed] or on_disk
        chosen = candidates[choose_trial([trials[i] for i in candidates], task.headline,
                                         finetuning_args.chosen_trial)]
        results.update(trials=trials, summary=summarize_trials(trials), chosen_trial=chosen,
                       chosen_dir=trial_dirs[chosen])
        print("\n" + format_summary({task.name: {k: v for k, v in results["summary"].items()
                                                 if not k.endswith("total")}}))
        if collapsed:
            kept = [trials[i] for i in range(len(trials)) if i not in collapsed]
            results.update(collapsed={str(i): why for i, why in collapsed.items()},
                           summary_without_collapsed=summarize_trials(kept) if kept else {})
            print(f"\n{len(collapsed)} of {len(trials)} trials collapsed ("
                  + "; ".join(f"trial {i}: {why}" for i, why in collapsed.items()) + ")"
                  + (". Without them:\n" + format_summary({task.name: {
                      k: v for k, v in results["summary_without_collapsed"].items() if not k.endswith("total")}})
                     if kept else ": every trial collapsed."))
        if training and not finetuning_args.keep_all_trials and training_args.should_save:
            for trial, directory in enumerate(trial_dirs):
                if trial != chosen:
                    shutil.rmtree(directory, ignore_errors=True)
        task.conclude(trial_dirs[chosen])
    elif trial_dirs:
        task.conclude(trial_dirs[0])
    if training_args.should_save:
        os.makedirs(output_dir, exist_ok=True)
        with open(os.path.join(output_dir, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
        print(f"\nResults: {os.path.join(output_dir, 'results.json')}")
    if training and training_args.push_to_hub and training_args.should_save and "chosen_dir" in results:
        repo = training_args.hub_model_id or hub_repo_name(model_path, task.name)
        results["hub_url"] = push_folder_to_hub(results["chosen_dir"], repo, token=training_args.hub_token,
                                                private=training_args.hub_private_repo,
                                                commit_message=f"Fine-tuned on {task.name} with electra-hf")
        logger.info("Pushed trial %d to %s", results["chosen_trial"], results["hub_url"])
    return results
