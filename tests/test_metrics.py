"""The original's pre-training metrics (run_pretraining.py:111-162) on hand-made outputs."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from electra_hf import ElectraPretrainingOutput
from electra_hf.metrics.pretraining import PretrainingMetrics, scores_above_thresholds, trapezoidal_roc_auc


def tf_metrics_auc(labels, scores, num_thresholds=200, eps=1e-7):
    """tf.metrics.auc (ROC, trapezoidal) transcribed in NumPy: counts above each threshold."""
    thresholds = [-eps] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1 + eps]
    thresholds = np.asarray(thresholds, dtype=np.float32)
    above = scores[None, :] > thresholds[:, None]
    tp = (above & labels[None, :]).sum(1).astype(np.float64)
    fp = (above & ~labels[None, :]).sum(1).astype(np.float64)
    fn, tn = labels.sum() - tp, (~labels).sum() - fp
    tpr, fpr = (tp + eps) / (tp + fn + eps), fp / (fp + tn + eps)
    return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))


def test_auc_is_tf_metrics_auc():
    rng = np.random.default_rng(0)
    labels = rng.random(5000) < 0.15
    scores = np.clip(rng.normal(0.3 + 0.3 * labels, 0.2), 0, 1).astype(np.float32)
    counts = scores_above_thresholds(torch.from_numpy(scores), torch.from_numpy(labels).float(),
                                     torch.ones(5000))
    ours = trapezoidal_roc_auc(counts[0], counts[1])
    assert ours == pytest.approx(tf_metrics_auc(labels, scores), abs=1e-9)
    assert ours == pytest.approx(roc_auc_score(labels, scores), abs=0.005)  # 200 thresholds vs exact
    # weight 0 (padding) leaves a token out
    weights = torch.ones(5000)
    weights[:100] = 0
    counts = scores_above_thresholds(torch.from_numpy(scores), torch.from_numpy(labels).float(), weights)
    assert trapezoidal_roc_auc(counts[0], counts[1]) == pytest.approx(tf_metrics_auc(labels[100:], scores[100:]),
                                                                      abs=1e-9)


def test_metrics_by_hand():
    # two sequences; the second has two padding positions
    attention_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    labels = torch.tensor([[0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    logits = torch.tensor([[-2.0, 3.0, -1.0, 0.5], [-3.0, 2.0, 4.0, 4.0]])
    outputs = ElectraPretrainingOutput(
        loss=torch.tensor(1.0), generator_loss=torch.tensor(3.0), masked_lm_loss=torch.tensor(2.0),
        masked_lm_ids=torch.tensor([[5, 6, 7], [8, 9, 0]]), masked_lm_weights=torch.tensor([[1.0, 1, 1], [1, 1, 0]]),
        masked_lm_predictions=torch.tensor([[5, 0, 7], [8, 9, 9]]), sampled_ids=torch.tensor([[5, 1, 1], [2, 9, 0]]),
        discriminator_logits=logits, discriminator_labels=labels)
    metrics = PretrainingMetrics()
    metrics.update(outputs, attention_mask)
    m = metrics.compute()
    assert m["masked_lm_accuracy"] == pytest.approx(4 / 5)  # the padded slot (weight 0) does not count
    assert m["sampled_masked_lm_accuracy"] == pytest.approx(2 / 5)
    assert m["masked_lm_loss"] == pytest.approx(2.0, rel=1e-6)
    # predictions: logit > 0 -> [0,1,0,1] and [0,1,(pad),(pad)]; labels [0,1,1,0] and [0,1]
    assert m["disc_accuracy"] == pytest.approx(4 / 6)
    assert m["disc_precision"] == pytest.approx(2 / 3)
    assert m["disc_recall"] == pytest.approx(2 / 3)
    assert m["replaced_fraction"] == pytest.approx(3 / 6)

    def bce(x, y):
        return -(y * math.log(1 / (1 + math.exp(-x))) + (1 - y) * math.log(1 - 1 / (1 + math.exp(-x))))

    seq1 = sum(bce(x, y) for x, y in zip([-2.0, 3.0, -1.0, 0.5], [0, 1, 1, 0])) / 4
    seq2 = sum(bce(x, y) for x, y in zip([-3.0, 2.0], [0, 1])) / 2
    assert m["disc_loss"] == pytest.approx((seq1 + seq2) / 2, rel=1e-5)  # a mean over sequences, not tokens
    metrics.update(outputs, attention_mask)  # streaming: the same batch twice gives the same figures
    assert metrics.compute()["disc_precision"] == pytest.approx(2 / 3)
    metrics.reset()
    assert metrics.compute() == {}
