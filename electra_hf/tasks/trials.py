"""Several fine-tuning seeds of one task: the ELECTRA paper reports medians over seeds."""

from __future__ import annotations

import json
import os
import shutil
import statistics

LOWER_IS_BETTER = ("mse", "loss")


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
    raise ValueError(f"submission_trial={rule!r}: use 'best', 'median' or 'first'.")


def format_summary(summaries: dict[str, dict[str, dict[str, float]]]) -> str:
    """A table: one row per task and metric."""
    lines = [f"{'task':8} {'metric':12} {'mean':>8} {'median':>8} {'std':>7} {'best':>8} {'n':>3}"]
    for task, summary in summaries.items():
        for name, s in summary.items():
            lines.append(f"{task:8} {name:12} {s['mean']:8.2f} {s['median']:8.2f} {s['std']:7.2f} {s['best']:8.2f} "
                         f"{s['n']:3d}")
    return "\n".join(lines)


def conclude_trials(task: str, trials: list[dict[str, float]], trial_dirs: list[str], output_dir: str, *,
                    headline: str = "f1", remove_others: bool = True, save: bool = True) -> dict:
    """After every trial of one task: the summary table, the best trial by `headline` (the others' folders
    removed unless told not to) and `<output_dir>/results.json`. Trials without scores (nothing evaluated)
    only write the results file."""
    results: dict = {"task": task}
    if trials and trials[0]:
        chosen = choose_trial(trials, headline)
        results.update(trials=trials, summary=summarize_trials(trials), chosen_trial=chosen,
                       chosen_dir=trial_dirs[chosen])
        print("\n" + format_summary({task: {k: v for k, v in results["summary"].items() if not k.endswith("total")}}))
        if remove_others:
            for trial, directory in enumerate(trial_dirs):
                if trial != chosen:
                    shutil.rmtree(directory, ignore_errors=True)
    if save:
        os.makedirs(output_dir, exist_ok=True)
        with open(os.path.join(output_dir, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
        print(f"\nResults: {os.path.join(output_dir, 'results.json')}")
    return results
