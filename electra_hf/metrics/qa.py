"""SQuAD 1.1, SQuAD 2.0 and MRQA scores, computed as their official evaluation scripts compute them
(evaluate-v1.1.py, evaluate-v2.0.py, mrqa_official_eval.py), offline: answer normalisation (lower case,
punctuation and English articles removed, whitespace collapsed), exact match and bag-of-tokens F1, the best over the
reference answers, ×100.

The scripts differ in small ways that change numbers, kept here:
- F1 of two answers that normalise to nothing: 1 in SQuAD 2.0 (no-answer vs no-answer), 0 in 1.1 and MRQA.
- SQuAD 2.0 drops references that normalise to nothing (an all-empty list becomes [""]) and scores only the
  questions with a prediction; 1.1 scores a missing prediction as 0; MRQA skips questions without a
  prediction (the original calls it with skip_no_answer=True).
"""

from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop ASCII punctuation, replace the articles a/an/the by spaces, collapse whitespace."""
    text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str, empty_matches_empty: bool = False) -> float:
    """F1 of the normalised tokens (shared tokens counted with multiplicity). `empty_matches_empty`: SQuAD
    2.0's rule, where an empty answer scores 1 against an empty reference and 0 against anything else."""
    predicted, gold = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if empty_matches_empty and (not predicted or not gold):
        return float(predicted == gold)
    same = sum((Counter(predicted) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def _best_over_references(prediction: str, references: list[str], qid: str, empty_matches_empty: bool = False
                          ) -> tuple[float, float]:
    if not references:
        raise ValueError(f"question {qid!r} has no reference answer; unanswerable questions need SQuAD 2.0 "
                         "scoring (--version_2_with_negative).")
    return (max(exact_match(prediction, r) for r in references),
            max(token_f1(prediction, r, empty_matches_empty) for r in references))


def squad_v1_metrics(references: dict[str, list[str]], predictions: dict[str, str]) -> dict[str, float]:
    """The SQuAD 1.1 script: `exact_match` and `f1` over every question; a missing prediction scores 0."""
    exact = f1 = 0.0
    for qid, answers in references.items():
        if qid in predictions:
            em, f = _best_over_references(predictions[qid], answers, qid)
            exact, f1 = exact + em, f1 + f
    return {"exact_match": 100.0 * exact / len(references), "f1": 100.0 * f1 / len(references)}


def mrqa_metrics(references: dict[str, list[str]], predictions: dict[str, str]) -> dict[str, float]:
    """The MRQA script with skip_no_answer: `exact_match` and `f1` over the questions with a prediction."""
    scored = [_best_over_references(predictions[qid], answers, qid) for qid, answers in references.items()
              if qid in predictions]
    if not scored:
        raise ValueError("no prediction matches a question id of the references.")
    return {"exact_match": 100.0 * sum(em for em, _ in scored) / len(scored),
            "f1": 100.0 * sum(f for _, f in scored) / len(scored)}


def _best_threshold(predictions: dict[str, str], scores: dict[str, float], null_odds: dict[str, float],
                     has_answer: dict[str, bool]) -> tuple[float, float]:
    """The score with the best no-answer threshold, sweeping thresholds at each question's null odds from
    "everything answerable is answered" downwards (`find_best_thresh`)."""
    current = best = float(sum(not has for has in has_answer.values()))
    threshold = 0.0
    for qid in sorted(null_odds, key=lambda k: null_odds[k]):
        if qid not in scores:
            continue
        current += scores[qid] if has_answer[qid] else (-1.0 if predictions[qid] else 0.0)
        if current > best:
            best, threshold = current, null_odds[qid]
    return 100.0 * best / len(scores), threshold


def squad_v2_metrics(references: dict[str, list[str]], predictions: dict[str, str],
                     null_odds: dict[str, float] | None = None, threshold: float = 1.0) -> dict[str, float]:
    """The SQuAD 2.0 script: a question is predicted unanswerable when its null odds exceed `threshold`
    (the original passes its no-answer logits with -2.75). `exact`, `f1`, `total`, the same for `HasAns_*`
    and `NoAns_*`, and with null odds the oracle sweep `best_exact(_thresh)`, `best_f1(_thresh)`."""
    missing = [qid for qid in references if qid not in predictions]
    if missing:
        raise ValueError(f"{len(missing)} questions have no prediction (e.g. {missing[0]!r}).")
    has_answer = {qid: bool(answers) for qid, answers in references.items()}
    exact_raw, f1_raw = {}, {}
    for qid, answers in references.items():
        gold = [a for a in answers if normalize_answer(a)] or [""]
        exact_raw[qid], f1_raw[qid] = _best_over_references(predictions[qid], gold, qid, empty_matches_empty=True)
    odds = null_odds if null_odds is not None else {qid: 0.0 for qid in predictions}

    def thresholded(raw: dict[str, float]) -> dict[str, float]:
        return {qid: float(not has_answer[qid]) if odds[qid] > threshold else s for qid, s in raw.items()}

    exact, f1 = thresholded(exact_raw), thresholded(f1_raw)
    result: dict[str, float] = {}
    for prefix, qids in (("", list(exact)), ("HasAns_", [q for q in exact if has_answer[q]]),
                         ("NoAns_", [q for q in exact if not has_answer[q]])):
        if qids:
            result.update({f"{prefix}exact": 100.0 * sum(exact[q] for q in qids) / len(qids),
                           f"{prefix}f1": 100.0 * sum(f1[q] for q in qids) / len(qids), f"{prefix}total": len(qids)})
    if null_odds is not None:
        result["best_exact"], result["best_exact_thresh"] = _best_threshold(predictions, exact_raw, odds, has_answer)
        result["best_f1"], result["best_f1_thresh"] = _best_threshold(predictions, f1_raw, odds, has_answer)
    return result
