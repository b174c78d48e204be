"""The original's pre-training metrics (run_pretraining.py:111-162), as streaming sums.

Sums stay on the device between logging steps (no host sync per step); `compute` turns them into numbers.
"""

from __future__ import annotations

import functools

import torch

# tf.metrics.auc's defaults: 200 thresholds, ROC, trapezoidal (thresholds at -eps, i/199, 1+eps).
AUC_THRESHOLDS = 200
_AUC_EPSILON = 1e-7


@functools.lru_cache(maxsize=8)
def auc_thresholds(device=None) -> torch.Tensor:
    """Built once per device, on the device (the per-step path makes no host-to-device copy)."""
    inner = torch.arange(1, AUC_THRESHOLDS - 1, dtype=torch.float64, device=device) / (AUC_THRESHOLDS - 1)
    low, high = torch.full((1,), -_AUC_EPSILON, device=device), torch.full((1,), 1.0 + _AUC_EPSILON, device=device)
    return torch.cat([low, inner.float(), high])


def scores_above_thresholds(probs: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """[2, thresholds]: the weight of positives (row 0) and negatives (row 1) scoring above each threshold.

    Weights instead of boolean selection and a fixed number of buckets keep this free of device syncs.
    """
    bucket = torch.bucketize(probs.flatten(), auc_thresholds(probs.device))  # thresholds below each score
    labels, weights = labels.flatten().double(), weights.flatten().double()
    counts = torch.zeros(2, AUC_THRESHOLDS + 1, dtype=torch.float64, device=probs.device)
    counts.scatter_add_(1, bucket.expand(2, -1), torch.stack([labels * weights, (1 - labels) * weights]))
    return counts.flip(-1).cumsum(-1).flip(-1)[:, 1:]


def trapezoidal_roc_auc(positives_above: torch.Tensor, negatives_above: torch.Tensor) -> float:
    """ROC AUC from counts of positives/negatives scored above each threshold, as tf.metrics.auc computes it."""
    tp, fp = positives_above.double(), negatives_above.double()
    fn, tn = tp[0] - tp, fp[0] - fp
    tpr = (tp + _AUC_EPSILON) / (tp + fn + _AUC_EPSILON)
    fpr = fp / (fp + tn + _AUC_EPSILON)
    return float(((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2).sum())


class PretrainingMetrics:
    """Accumulates the original's metrics over batches.

    masked_lm_accuracy / masked_lm_loss: generator argmax accuracy and NLL over the weighted masked slots.
    sampled_masked_lm_accuracy: share of slots whose sample equals the original token.
    disc_loss: mean over sequences of each sequence's token-mean loss (the original's eval metric, which
    differs from the training loss, a token mean over the batch). disc_accuracy / disc_precision /
    disc_recall: over non-pad tokens, prediction = logit > 0, positive = replaced. disc_auc: ROC AUC with
    tf.metrics.auc's 200 thresholds over non-pad tokens (the original also counts padding as negatives
    scored 0, which with dynamic padding would make the figure depend on batch shapes).
    """

    SUM_NAMES = ("mlm_weight", "mlm_correct", "mlm_nll", "sampled_correct", "sequences", "disc_seq_loss",
                 "tokens", "disc_correct", "predicted_fake", "true_positive", "actual_fake")

    def __init__(self):
        self.sums: torch.Tensor | None = None
        self.auc_counts: torch.Tensor | None = None

    @torch.no_grad()
    def update(self, outputs, attention_mask: torch.Tensor | None = None) -> None:
        """Add one batch: a model's `ElectraPretrainingOutput` and the batch's attention mask."""
        weights = outputs.masked_lm_weights.float()
        targets = outputs.masked_lm_ids
        device = weights.device
        values = dict.fromkeys(self.SUM_NAMES, torch.zeros((), device=device))
        values["mlm_weight"] = weights.sum()
        values["mlm_correct"] = ((outputs.masked_lm_predictions == targets).float() * weights).sum()
        values["mlm_nll"] = outputs.masked_lm_loss.detach().float() * (values["mlm_weight"] + 1e-6)
        auc = None
        if outputs.discriminator_logits is not None:
            values["sampled_correct"] = ((outputs.sampled_ids == targets).float() * weights).sum()
            logits, labels = outputs.discriminator_logits.float(), outputs.discriminator_labels
            mask = torch.ones_like(labels) if attention_mask is None else attention_mask.float()
            per_token = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none")
            values["sequences"] = torch.full((), float(mask.shape[0]), device=device)
            values["disc_seq_loss"] = ((per_token * mask).sum(-1) / (mask.sum(-1) + 1e-6)).sum()
            preds = (logits > 0).float()
            correct = (preds == labels).float() * mask
            values["tokens"] = mask.sum()
            values["disc_correct"] = correct.sum()
            values["predicted_fake"] = (preds * mask).sum()
            values["true_positive"] = (correct * preds).sum()
            values["actual_fake"] = (labels * mask).sum()
            auc = scores_above_thresholds(torch.sigmoid(logits), labels, mask)
        stacked = torch.stack([values[name].float().to(device) for name in self.SUM_NAMES]).double()
        self.sums = stacked if self.sums is None else self.sums + stacked
        if auc is not None:
            self.auc_counts = auc if self.auc_counts is None else self.auc_counts + auc

    def compute(self, reduce=None) -> dict[str, float]:
        """The metrics so far; `reduce` (e.g. a cross-process sum) is applied to the sums first."""
        if self.sums is None:
            return {}
        sums, auc_counts = self.sums, self.auc_counts
        if reduce is not None:
            sums = reduce(sums)
            auc_counts = reduce(auc_counts) if auc_counts is not None else None
        s = dict(zip(self.SUM_NAMES, sums.tolist()))

        def ratio(num, den):
            return s[num] / s[den] if s[den] > 0 else 0.0

        metrics = {"masked_lm_accuracy": ratio("mlm_correct", "mlm_weight"),
                   "masked_lm_loss": ratio("mlm_nll", "mlm_weight")}
        if auc_counts is not None:
            metrics.update({
                "sampled_masked_lm_accuracy": ratio("sampled_correct", "mlm_weight"),
                "disc_loss": ratio("disc_seq_loss", "sequences"),
                "disc_accuracy": ratio("disc_correct", "tokens"),
                "disc_precision": ratio("true_positive", "predicted_fake"),
                "disc_recall": ratio("true_positive", "actual_fake"),
                "disc_auc": trapezoidal_roc_auc(auc_counts[0], auc_counts[1]),
                "replaced_fraction": ratio("actual_fake", "tokens"),
            })
        return metrics

    def reset(self) -> None:
        self.sums = None
        self.auc_counts = None
