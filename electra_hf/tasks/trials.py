"""Several fine-tuning seeds of one task: the paper reports medians over seeds (spec §15.12)."""

from __future__ import annotations

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
