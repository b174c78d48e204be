"""Whether a fine-tuning trial collapsed: ELECTRA fine-tuning sometimes ends predicting one class (SST-2 stuck
near the majority rate, RTE or CoLA at chance), and users re-run seeds by hand. A trial is flagged when its dev
predictions are (nearly) all one value, or its headline score is within noise of the trivial predictor's (the
majority class; for regression, the mean: correlation 0)."""

from __future__ import annotations

import math

import numpy as np

from ..metrics.glue import glue_metrics

ONE_CLASS_SHARE = 0.95  # at least this share of the dev predictions in one class is a collapse ...
# ... unless the dev labels are themselves that skewed; and a score within this many standard errors of the
# trivial predictor's counts as no better than it
NOISE_STANDARD_ERRORS = 2.0


def trivial_score(metric: str, labels: np.ndarray, regression: bool) -> float:
    """The headline metric of the predictor that learned nothing: the majority class, or (regression) a constant,
    whose correlation is taken as 0."""
    if regression:
        return 0.0
    values, counts = np.unique(labels, return_counts=True)
    return glue_metrics((metric,), np.full_like(labels, values[counts.argmax()]), labels)[metric]


def collapse_reason(predictions: np.ndarray, labels: np.ndarray, metric: str, score: float,
                    regression: bool) -> str | None:
    """Why this trial counts as collapsed, or None. `score` is its headline `metric` on these dev labels (in the
    metric's units: percent)."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    n = len(labels)
    if n == 0:
        return None
    label_share = 0.5
    baseline = trivial_score(metric, labels, regression)
    if regression:
        if np.std(predictions) < 1e-3 * max(np.std(labels), 1e-12):
            return f"its dev predictions are constant ({float(np.mean(predictions)):.3g})"
    else:
        values, counts = np.unique(predictions, return_counts=True)
        label_share = np.unique(labels, return_counts=True)[1].max() / n
        if counts.max() / n >= ONE_CLASS_SHARE > label_share:
            return f"{counts.max() / n:.0%} of its dev predictions are class {values[counts.argmax()]}"
    if metric in ("mcc", "pearson", "spearman"):  # a correlation near 0 has a standard error of 1 / sqrt(n)
        noise = NOISE_STANDARD_ERRORS * 100.0 / math.sqrt(n)
    else:  # accuracy or F1: the majority predictor's binomial standard error
        noise = NOISE_STANDARD_ERRORS * 100.0 * math.sqrt(label_share * (1 - label_share) / n)
    if not math.isfinite(score) or score <= baseline + noise:
        return (f"its {metric} {score:.2f} is within noise ({noise:.2f}) of the trivial predictor's "
                f"{baseline:.2f}")
    return None
