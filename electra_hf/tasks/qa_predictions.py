"""From the head's beams to answers, as the original (qa_metrics.py:90-269): every
start × end candidate of every window, the discard rules, log-probability scores, the n-best unique texts, the
no-answer score (the minimum over windows) and the SQuAD 2.0 threshold."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np
from datasets import Dataset

OUTPUT_NAMES = ("start_top_scores", "start_top_index", "end_top_scores", "end_top_index", "null_score")


@dataclass
class QAPredictions:
    """`best_non_null`: each question's best non-empty answer (what the original scores, with `null_odds`);
    `answers`: the final answers ("" where SQuAD 2.0's threshold says unanswerable); `nbest`: the n-best list
    with probabilities; `null_odds`: the no-answer score (SQuAD 2.0 only)."""

    best_non_null: dict[str, str] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    nbest: dict[str, list[dict]] = field(default_factory=dict)
    null_odds: dict[str, float] = field(default_factory=dict)

    def save(self, directory: str, prefix: str = "") -> list[str]:
        """predictions.json, nbest_predictions.json and (SQuAD 2.0) null_odds.json in `directory`."""
        os.makedirs(directory, exist_ok=True)
        files = {"predictions.json": self.answers, "nbest_predictions.json": self.nbest}
        if self.null_odds:
            files["null_odds.json"] = self.null_odds
        paths = []
        for name, content in files.items():
            paths.append(os.path.join(directory, prefix + name))
            with open(paths[-1], "w", encoding="utf-8") as f:
                json.dump(content, f, indent=1, ensure_ascii=False)
        return paths


def window_candidates(start_index: np.ndarray, start_scores: np.ndarray, end_index: np.ndarray,
                      end_scores: np.ndarray, token_start_char: np.ndarray, max_context: np.ndarray,
                      max_answer_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The valid (start, end) pairs of one window in the original's order (start beam, then end beam) and
    their start and end scores. A pair is dropped when an index is past the window or 0, not a context token,
    the start is not in its max-context window, the end precedes the start, or the span is longer than
    `max_answer_length` tokens. `end_*` is [K, K] (an end beam per start, joint mode) or [K] (shared)."""
    if end_index.ndim == 1:
        end_index = np.broadcast_to(end_index, (len(start_index), len(end_index)))
        end_scores = np.broadcast_to(end_scores, end_index.shape)
    starts = np.broadcast_to(start_index[:, None], end_index.shape)
    length = len(token_start_char)
    inside = (starts < length) & (end_index < length) & (starts > 0) & (end_index >= 0)
    s, e = np.where(inside, starts, 0), np.where(inside, end_index, 0)
    valid = (inside & (token_start_char[s] >= 0) & (token_start_char[e] >= 0) & max_context[s] & (e >= s)
             & (e - s + 1 <= max_answer_length))
    rows, cols = np.nonzero(valid)  # row-major: the original's loop order
    return s[rows, cols], e[rows, cols], start_scores[rows], end_scores[rows, cols]


def _softmax(scores: list[float]) -> list[float]:
    exp = np.exp(np.asarray(scores, dtype=np.float64) - max(scores))
    return (exp / exp.sum()).tolist()


def predict_answers(examples: Dataset, features: Dataset, outputs: dict[str, np.ndarray], *,
                    version_2_with_negative: bool, answerable_classifier: bool = True, n_best_size: int = 20,
                    max_answer_length: int = 30, null_threshold: float = -2.75) -> QAPredictions:
    """Answers for `examples` from the head's inference outputs on `features` (the rows of
    `prepare_features(..., training=False)`, in order; `outputs` holds `OUTPUT_NAMES`).

    A candidate's score is start score + end score. The text of a span is the context between its first
    token's first character and its last token's last character, whitespace runs joined by one space. The
    original maps WordPiece text back through BasicTokenizer alignment (`get_final_text`); where that
    alignment works it gives the same text, where it fails it returns the whole whitespace-separated words
    (e.g. "Smith's" for "Smith" after a character the tokenizer drops), and the offsets give the exact span.
    """
    by_example: dict[int, list[int]] = {}
    for row, example_index in enumerate(features["example_index"]):
        by_example.setdefault(example_index, []).append(row)
    starts_char, ends_char, contexts = features["token_start_char"], features["token_end_char"], features["max_context"]
    result = QAPredictions()
    for example_index, (qid, context) in enumerate(zip(examples["id"], examples["context"])):
        candidates = []
        null_score = 1_000_000.0  # the original's "large and positive" start of the minimum
        for row in by_example.get(example_index, []):
            token_start_char = np.asarray(starts_char[row])
            s, e, s_score, e_score = window_candidates(
                outputs["start_top_index"][row], outputs["start_top_scores"][row], outputs["end_top_index"][row],
                outputs["end_top_scores"][row], token_start_char, np.asarray(contexts[row], dtype=bool),
                max_answer_length)
            null_score = min(null_score, float(outputs["null_score"][row]))
            first, last = token_start_char[s], np.asarray(ends_char[row])[e]
            candidates.extend(zip(first.tolist(), last.tolist(), s_score.tolist(), e_score.tolist()))
        candidates.sort(key=lambda c: c[2] + c[3], reverse=True)  # stable, as the original's sorted()

        nbest: list[dict] = []
        seen: set[str] = set()
        for first, last, start_score, end_score in candidates:
            if len(nbest) >= n_best_size:
                break
            text = " ".join(context[first:last].split())
            if text in seen:
                continue
            seen.add(text)
            nbest.append({"text": text, "start_logit": start_score, "end_logit": end_score})
        if not nbest:  # no valid span in any window: the original's nonce answer
            nbest.append({"text": "empty", "start_logit": 0.0, "end_logit": 0.0})
        for entry, probability in zip(nbest, _softmax([n["start_logit"] + n["end_logit"] for n in nbest])):
            entry["probability"] = probability
        best = next((entry for entry in nbest if entry["text"]), {"text": "", "start_logit": 0.0, "end_logit": 0.0})
        result.nbest[qid] = nbest
        result.best_non_null[qid] = best["text"]
        if version_2_with_negative:
            odds = null_score if answerable_classifier else null_score - best["start_logit"] - best["end_logit"]
            result.null_odds[qid] = odds
            result.answers[qid] = "" if odds > null_threshold else best["text"]
        else:
            result.answers[qid] = nbest[0]["text"]
    return result
