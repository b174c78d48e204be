"""GLUE metrics, offline, as the original scores them (classification_metrics.py), ×100."""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import f1_score, matthews_corrcoef


def glue_metrics(names: tuple[str, ...], predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """`names` from `mcc`, `accuracy`, `f1` (the positive class 1; GLUE reports it for MRPC and QQP, the original
    does not), `pearson`, `spearman` (with `mse` in the targets' [0, 1] units, as the original)."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    metrics = {}
    for name in names:
        if name == "mcc":
            metrics["mcc"] = 100.0 * matthews_corrcoef(labels, predictions)
        elif name == "accuracy":
            metrics["accuracy"] = 100.0 * float(np.mean(predictions == labels))
        elif name == "f1":
            metrics["f1"] = 100.0 * f1_score(labels, predictions, pos_label=1, zero_division=0.0)
        elif name == "pearson":
            metrics["pearson"] = 100.0 * float(pearsonr(labels, predictions)[0])
            metrics["mse"] = float(np.mean((labels - predictions) ** 2))
        elif name == "spearman":
            metrics["spearman"] = 100.0 * float(spearmanr(labels, predictions)[0])
        else:
            raise ValueError(f"unknown metric {name!r}")
    return metrics


def predictions_from_logits(logits: np.ndarray, regression: bool) -> np.ndarray:
    """Class ids (argmax) or the regression output."""
    logits = np.asarray(logits)
    return logits.reshape(-1) if regression else logits.argmax(-1)
