"""Long texts as overlapping windows, and for each token the window that gives it the most context: the
original's SQuAD featurization (finetune/qa/qa_tasks.py `_check_is_max_context`), used by question answering and
by pseudo-likelihood scoring of long texts."""

from __future__ import annotations

import numpy as np


def document_windows(num_tokens: int, max_tokens: int, doc_stride: int) -> list[tuple[int, int]]:
    """(start, length) of each window: from 0, advancing by min(length, doc_stride) until one reaches the end."""
    windows: list[tuple[int, int]] = []
    start = 0
    while start < num_tokens:
        length = min(num_tokens - start, max_tokens)
        windows.append((start, length))
        if start + length == num_tokens:
            break
        start += min(length, doc_stride)
    return windows


def max_context_windows(windows: list[tuple[int, int]], num_tokens: int) -> np.ndarray:
    """For each document token, the window where it has the most context: the highest
    min(left, right) + 0.01 * window length, the first window on ties (`_check_is_max_context`)."""
    best = np.full(num_tokens, -1)
    best_score = np.full(num_tokens, -np.inf)
    for index, (start, length) in enumerate(windows):
        positions = np.arange(start, start + length)
        score = np.minimum(positions - start, start + length - 1 - positions) + 0.01 * length
        better = score > best_score[positions]
        best[positions[better]] = index
        best_score[positions[better]] = score[better]
    return best
