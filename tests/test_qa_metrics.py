"""SQuAD 1.1 / 2.0 / MRQA scores: hand-computed cases where normalisation and the scripts' differences matter,
and (when ELECTRA_HF_QA_EVAL_SCRIPTS names a folder with the official evaluate-v1.1.py, evaluate-v2.0.py and
mrqa_official_eval.py) the official scripts themselves as the oracle."""

import gzip
import json
import os
import subprocess
import sys

import pytest

from electra_hf.metrics.qa import mrqa_metrics, normalize_answer, squad_v1_metrics, squad_v2_metrics, token_f1

REFERENCES = {"q1": ["The Eiffel Tower"], "q2": ["Denver Broncos", "the Broncos", "Broncos"],
              "q3": ["the cat sat on the mat"], "q4": ["a"]}
PREDICTIONS = {"q1": "eiffel tower", "q2": "Denver", "q3": "cat on a mat", "q4": "the"}
F1_Q2, F1_Q3 = 2 / 3, 6 / 7  # "denver" vs "denver broncos": p 1, r 1/2; 3 of 3 predicted, 3 of 4 gold tokens


def test_normalisation():
    assert normalize_answer("The  Cat's,\n hat!") == "cats hat"
    assert normalize_answer("U.S.A.") == normalize_answer("usa") == "usa"
    assert normalize_answer("an apple and a theory") == "apple and theory"  # whole words only
    assert normalize_answer("Café Müller") == "café müller"  # no accent stripping
    assert normalize_answer("naïve—approach") == "naïve—approach"  # the em dash is not ASCII punctuation
    assert normalize_answer("\u00a0the\u2009end\u3000") == "end"  # unicode whitespace splits
    assert token_f1("x y y", "y y z") == pytest.approx(2 / 3)  # shared tokens with multiplicity


def test_squad_v1_by_hand():
    predictions = {**PREDICTIONS}
    references = {**REFERENCES, "q5": ["Paris"]}  # no prediction: scored 0, still counted
    result = squad_v1_metrics(references, predictions)
    assert result["exact_match"] == pytest.approx(100 * 2 / 5)  # q1, and q4 ("the" and "a" both normalise to "")
    assert result["f1"] == pytest.approx(100 * (1 + F1_Q2 + F1_Q3 + 0) / 5)  # q4: F1 0 in 1.1
    with pytest.raises(ValueError, match="no reference answer"):
        squad_v1_metrics({"x": []}, {"x": "y"})


def test_mrqa_skips_unanswered_questions():
    result = mrqa_metrics({**REFERENCES, "q5": ["Paris"]}, PREDICTIONS)
    assert result == pytest.approx({"exact_match": 100 * 2 / 4, "f1": 100 * (1 + F1_Q2 + F1_Q3) / 4})


def test_squad_v2_by_hand():
    plain = squad_v2_metrics(REFERENCES, PREDICTIONS)
    # q4's only reference normalises to "" and becomes [""]: the empty prediction then scores 1 for F1 too
    assert plain["exact"] == pytest.approx(50.0) and plain["f1"] == pytest.approx(100 * (1 + F1_Q2 + F1_Q3 + 1) / 4)
    assert "best_f1" not in plain and plain["HasAns_total"] == 4 and "NoAns_total" not in plain

    references = {"a": ["Broncos"], "b": ["Paris"], "c": [], "d": []}
    predictions = {"a": "Broncos", "b": "London", "c": "x", "d": "y"}
    odds = {"a": -4.0, "b": -1.0, "c": 2.0, "d": -3.0}
    result = squad_v2_metrics(references, predictions, odds, threshold=-2.75)
    # b and c are called unanswerable (odds > -2.75): b loses its (wrong) answer, c is right; d answers "y"
    assert result["exact"] == result["f1"] == pytest.approx(50.0)
    assert result["HasAns_exact"] == result["NoAns_exact"] == pytest.approx(50.0)
    assert result["total"] == 4 and result["HasAns_total"] == result["NoAns_total"] == 2
    # sweep in odds order a, d, b, c from 2 (all unanswerable): +1 (a right), -1, 0, -1: best 3/4 at -4
    assert result["best_exact"] == pytest.approx(75.0) and result["best_exact_thresh"] == -4.0
    with pytest.raises(ValueError, match="no prediction"):
        squad_v2_metrics(references, {"a": "x"}, odds)


# Cases for the oracle: articles, punctuation, whitespace, unicode, empty answers, several references.
ORACLE_CASES = [
    ("The Eiffel Tower", ["the Eiffel Tower", "Eiffel"], -5.0), ("U.S.A.", ["usa"], -4.0),
    ("New   York\nCity", [" new york city "], 0.3), ("Café Müller", ["cafe muller", "Café"], -3.0),
    ("naïve—approach", ["naïve approach"], -2.74), ("Denver", ["Denver Broncos", "the Broncos", "Broncos"], -2.76),
    ("cat on a mat", ["the cat sat on the mat"], -1.0), ("the", ["a"], 4.0), ("", ["Paris"], -6.0),
    ("an", [], 1.0), ("London", [], -9.0), ("", [], 2.0), ("ｆｕｌｌ width", ["full width"], -2.0),
    ("l'été", ["l ete", "lété"], 0.0), ("x x y", ["x y y"], -3.5),
]


def _write_oracle_data(tmp_path):
    ids = [f"q{i}" for i in range(len(ORACLE_CASES))]
    qas = [{"id": qid, "question": "?", "answers": [{"text": t, "answer_start": 0} for t in refs]}
           for qid, (_, refs, _) in zip(ids, ORACLE_CASES)]
    squad = {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "c", "qas": qas}]}]}
    references = {qid: refs for qid, (_, refs, _) in zip(ids, ORACLE_CASES)}
    predictions = {qid: pred for qid, (pred, _, _) in zip(ids, ORACLE_CASES)}
    odds = {qid: o for qid, (_, _, o) in zip(ids, ORACLE_CASES)}
    paths = {name: str(tmp_path / name) for name in ("data.json", "preds.json", "odds.json")}
    for name, content in (("data.json", squad), ("preds.json", predictions), ("odds.json", odds)):
        with open(paths[name], "w") as f:
            json.dump(content, f)
    return references, predictions, odds, paths


OFFICIAL = os.environ.get("ELECTRA_HF_QA_EVAL_SCRIPTS")


@pytest.mark.skipif(not OFFICIAL, reason="set ELECTRA_HF_QA_EVAL_SCRIPTS to a folder with the official scripts")
def test_identical_to_the_official_scripts(tmp_path):
    references, predictions, odds, paths = _write_oracle_data(tmp_path)

    def official(script, *args, env=None):
        out = subprocess.run([sys.executable, os.path.join(OFFICIAL, script), *args], capture_output=True,
                             text=True, check=True, env=env)
        return json.loads(out.stdout)

    v2 = official("evaluate-v2.0.py", paths["data.json"], paths["preds.json"], "-n", paths["odds.json"],
                  "-t", "-2.75")
    assert squad_v2_metrics(references, predictions, odds, threshold=-2.75) == pytest.approx(v2)
    no_odds = official("evaluate-v2.0.py", paths["data.json"], paths["preds.json"])
    assert squad_v2_metrics(references, predictions) == pytest.approx(no_odds)

    answered = {qid: refs for qid, refs in references.items() if refs}  # 1.1 and MRQA need references
    with open(paths["data.json"], "w") as f:
        json.dump({"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "c", "qas": [
            {"id": qid, "question": "?", "answers": [{"text": t, "answer_start": 0} for t in refs]}
            for qid, refs in answered.items()]}]}]}, f)
    partial = {qid: p for i, (qid, p) in enumerate(predictions.items()) if i != 1}  # one missing
    with open(paths["preds.json"], "w") as f:
        json.dump(partial, f)
    v1 = official("evaluate-v1.1.py", paths["data.json"], paths["preds.json"])
    assert squad_v1_metrics(answered, partial) == pytest.approx(v1)

    stub = tmp_path / "stub" / "allennlp" / "common"  # the MRQA script imports allennlp for cached_path only
    stub.mkdir(parents=True)
    for folder in (stub.parent, stub):
        (folder / "__init__.py").write_text("")
    (stub / "file_utils.py").write_text("def cached_path(path):\n    return path\n")
    gold = tmp_path / "gold.jsonl.gz"
    with gzip.open(gold, "wt") as f:
        f.write(json.dumps({"header": {}}) + "\n")
        for qid, refs in answered.items():
            f.write(json.dumps({"context": "c", "qas": [{"qid": qid, "answers": refs}]}) + "\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "stub")}
    mrqa = official("mrqa_official_eval.py", str(gold), paths["preds.json"], "--skip-no-answer", env=env)
    assert mrqa_metrics(answered, partial) == pytest.approx(mrqa)
