"""Pseudo-log-likelihood scoring (electra_hf.scoring) and its CLI (electra_hf.score)."""

import json
import logging
import math
import shutil

import pytest
import torch
from transformers import ElectraConfig, ElectraForPreTraining, ElectraForSequenceClassification

from electra_hf.score import main as score_main
from electra_hf.scoring import _windows, load_scorer, pseudo_log_likelihoods, rerank

TEXTS = ["the cat saw the house in the morning.", "", "a dog.", "my sister visited the old man near the river "
         "before the storm, and her friend answered the captain after dinner at the ball.", "   ", "hello",
         "our neighbour forgot a letter."]


@pytest.fixture(scope="module")
def model(discriminator):
    """The conftest discriminator with its head scaled up: logits of order 1, so that summing the wrong
    positions changes a score by far more than the tolerances below."""
    model = ElectraForPreTraining.from_pretrained(discriminator)
    with torch.no_grad():
        model.discriminator_predictions.dense_prediction.weight.mul_(50)
        model.discriminator_predictions.dense_prediction.bias.fill_(1.5)
    return model.eval()


def logits_of(model, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0].double()


def test_batched_equals_one_by_one(model, tokenizer):
    batched = pseudo_log_likelihoods(model, tokenizer, TEXTS, batch_size=3)
    alone = [pseudo_log_likelihoods(model, tokenizer, [text])[0] for text in TEXTS]
    assert [s.num_tokens for s in batched] == [s.num_tokens for s in alone]
    for b, a in zip(batched, alone):
        assert b.pll == pytest.approx(a.pll, abs=1e-4)
    assert len({round(s.pll, 3) for s in batched if s.num_tokens}) == 5  # distinct texts, distinct scores


def test_sum_excludes_cls_sep_and_padding(model, tokenizer):
    text = TEXTS[0]
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
    logits = logits_of(model, ids)
    expected = -logits[1:-1].sum().item()
    # batched with a much longer text: this one is padded
    score = pseudo_log_likelihoods(model, tokenizer, [TEXTS[3], text])[1]
    assert score.num_tokens == len(ids) - 2
    assert score.pll == pytest.approx(expected, abs=1e-4)
    assert abs(logits[0] + logits[-1]) > 0.1  # including [CLS]/[SEP] would have been caught


def test_empty_text_is_zero(model, tokenizer):
    scores = pseudo_log_likelihoods(model, tokenizer, ["", "  ", "\t"])
    assert [(s.pll, s.num_tokens) for s in scores] == [(0.0, 0)] * 3
    assert pseudo_log_likelihoods(model, tokenizer, []) == []


@pytest.mark.parametrize("window,stride", [(8, 4), (8, 3), (8, 8), (5, 1), (1, 1)])
def test_windows_score_every_token_once_with_most_context(window, stride):
    for n in range(window + 1, 40):
        windows = _windows(n, window, stride)
        counts = [0] * n
        for start, length, scored in windows:
            assert 1 <= length <= window and start + length <= n
            for offset, chosen in enumerate(scored):
                counts[start + offset] += chosen
                if chosen:  # no other window gives this token more context on both sides
                    context = min(offset, length - 1 - offset)
                    best = max(min(t - s, s + ln - 1 - t) for s, ln, _ in windows
                               for t in [start + offset] if s <= t < s + ln)
                    assert context == best
        assert counts == [1] * n


def test_long_text_in_windows_by_hand(model, tokenizer):
    ids = tokenizer("a b c d e f g h i j k l", add_special_tokens=False)["input_ids"]
    assert len(ids) == 12
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    # max_length 10: windows of 8 tokens, stride 4: [0, 8) and [4, 12); tokens 0-5 have the most context in
    # the first, 6-11 in the second
    first, second = logits_of(model, [cls, *ids[:8], sep]), logits_of(model, [cls, *ids[4:], sep])
    expected = -(first[1:7].sum() + second[3:9].sum()).item()
    score = pseudo_log_likelihoods(model, tokenizer, ["a b c d e f g h i j k l"], max_length=10)[0]
    assert score.num_tokens == 12
    assert score.pll == pytest.approx(expected, abs=1e-4)
    # in a batch with other texts (some windowed, some not), the same
    batched = pseudo_log_likelihoods(model, tokenizer, [TEXTS[3], "a b c d e f g h i j k l", "a dog."],
                                     max_length=10, batch_size=2)
    assert batched[1].pll == pytest.approx(expected, abs=1e-4)


def test_windows_leave_short_texts_alone_and_score_long_ones(model, tokenizer):
    direct = pseudo_log_likelihoods(model, tokenizer, TEXTS)
    small = pseudo_log_likelihoods(model, tokenizer, TEXTS, max_length=16)
    for d, s, text in zip(direct, small, TEXTS):
        assert d.num_tokens == s.num_tokens
        if d.num_tokens <= 14:
            assert s.pll == pytest.approx(d.pll, abs=1e-4)
    long_text = " ".join(TEXTS) * 40  # more than the model's 512 positions
    n = len(tokenizer(long_text, add_special_tokens=False)["input_ids"])
    assert n > 512
    score = pseudo_log_likelihoods(model, tokenizer, [long_text])[0]
    assert score.num_tokens == n and math.isfinite(score.pll)


def test_long_texts_error_names_the_text(model, tokenizer):
    with pytest.raises(ValueError, match=r"text 3 has \d+ tokens, more than the 14"):
        pseudo_log_likelihoods(model, tokenizer, TEXTS, max_length=16, long_texts="error")
    assert pseudo_log_likelihoods(model, tokenizer, TEXTS[:3], max_length=16, long_texts="error")
    with pytest.raises(ValueError, match="long_texts"):
        pseudo_log_likelihoods(model, tokenizer, TEXTS, long_texts="truncate")
    with pytest.raises(ValueError, match="max_position_embeddings"):
        pseudo_log_likelihoods(model, tokenizer, TEXTS, max_length=513)
    with pytest.raises(ValueError, match="stride=15"):
        pseudo_log_likelihoods(model, tokenizer, TEXTS, max_length=16, stride=15)


def test_rerank_by_hand(model, tokenizer):
    texts = ["the cat saw the house.", "house the saw cat the.", "a dog.", "the cat saw the house."]
    pll = [s.pll for s in pseudo_log_likelihoods(model, tokenizer, texts)]
    system = [-1.0, -3.0, -2.0, -1.0]
    nbest = [{"id": "u1", "ref": "x", "candidates": [{"text": t, "score": s} for t, s in zip(texts, system)]},
             {"id": "u2", "candidates": ["a dog.", "the cat saw the house."]}]
    by_pll = rerank(nbest, model, tokenizer)
    assert [c["index"] for c in by_pll[0]["candidates"]] == sorted(range(4), key=lambda k: (-pll[k], k))
    assert by_pll[0]["ref"] == "x" and by_pll[1]["id"] == "u2"
    assert [c["text"] for c in by_pll[1]["candidates"]] == sorted(["a dog.", "the cat saw the house."],
                                                                    key=lambda t: -pll[texts.index(t)])
    assert by_pll[1]["candidates"][0]["system_score"] is None
    top = by_pll[0]["candidates"][0]
    assert top["combined_score"] == top["pll"] == pytest.approx(pll[top["index"]], abs=1e-4)

    for weight in (0.0, 0.3, 0.7):
        ranked = rerank(nbest[:1], model, tokenizer, weight=weight)[0]["candidates"]
        combined = [(1 - weight) * s + weight * p for s, p in zip(system, pll)]
        assert [c["index"] for c in ranked] == sorted(range(4), key=lambda k: (-combined[k], k))
        for c in ranked:
            assert c["combined_score"] == pytest.approx(combined[c["index"]], abs=1e-4)
            assert c["system_score"] == system[c["index"]]
    # identical candidates tie: the input order is kept
    ranked = rerank(nbest[:1], model, tokenizer, weight=0.5)[0]["candidates"]
    positions = [c["index"] for c in ranked]
    assert positions.index(0) < positions.index(3)
    assert [c["index"] for c in rerank(nbest[:1], model, tokenizer, weight=0.0)[0]["candidates"]] == [0, 3, 2, 1]


def test_rerank_errors(model, tokenizer):
    with pytest.raises(ValueError, match=r"id='u2'.*candidate 1 has no system 'score'"):
        rerank([{"id": "u1", "candidates": [{"text": "a", "score": -1}]},
                {"id": "u2", "candidates": [{"text": "a", "score": -1}, "b"]}], model, tokenizer, weight=0.5)
    with pytest.raises(ValueError, match="non-empty"):
        rerank([{"id": 7, "candidates": []}], model, tokenizer)
    with pytest.raises(ValueError, match="weight"):
        rerank([{"id": 7, "candidates": ["a"]}], model, tokenizer, weight=1.5)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def read_jsonl(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_cli_texts(discriminator, tokenizer, tmp_path, capsys):
    texts = write(tmp_path / "texts.txt", "the cat saw the house.\n\na dog.\n")
    output = tmp_path / "out" / "scores.jsonl"
    assert score_main(["--model", discriminator, "--input", texts, "--output", str(output), "--batch_size", "2",
                       "--device", "cpu"]) == 3
    rows = read_jsonl(output)
    model = ElectraForPreTraining.from_pretrained(discriminator)
    expected = pseudo_log_likelihoods(model, tokenizer, ["the cat saw the house.", "", "a dog."])
    assert [r["text"] for r in rows] == ["the cat saw the house.", "", "a dog."]
    assert [r["num_tokens"] for r in rows] == [s.num_tokens for s in expected]
    assert [r["pll"] for r in rows] == pytest.approx([s.pll for s in expected], abs=1e-5)
    assert rows[1]["pll"] == 0.0
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes("the cat saw the house.\r\n\r\na dog.\r\n".encode())
    score_main(["--model", discriminator, "--input", str(crlf)])  # stdout
    assert [json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()] == [r["text"] for r in rows]


def test_cli_nbest(discriminator, tokenizer, tmp_path):
    lines = [{"id": "a", "candidates": [{"text": "a dog.", "score": -5.0}, {"text": "the cat.", "score": -1.0}]},
             {"id": "b", "candidates": [{"text": "hello", "score": -2.0}]}]
    nbest = write(tmp_path / "nbest.jsonl", json.dumps(lines[0]) + "\n\n" + json.dumps(lines[1]) + "\n")
    output = tmp_path / "reranked.jsonl"
    score_main(["--model", discriminator, "--input", nbest, "--output", str(output), "--weight", "0.25"])
    rows = read_jsonl(output)
    model = ElectraForPreTraining.from_pretrained(discriminator)
    pll = [s.pll for s in pseudo_log_likelihoods(model, tokenizer, ["a dog.", "the cat."])]
    combined = [0.75 * -5.0 + 0.25 * pll[0], 0.75 * -1.0 + 0.25 * pll[1]]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert [c["index"] for c in rows[0]["candidates"]] == [1, 0]
    assert [c["combined_score"] for c in rows[0]["candidates"]] == pytest.approx(combined[::-1], abs=1e-5)
    # --format nbest for another extension
    other = write(tmp_path / "nbest.txt", json.dumps(lines[1]) + "\n")
    score_main(["--model", discriminator, "--input", other, "--format", "nbest", "--output", str(output)])
    assert read_jsonl(output)[0]["candidates"][0]["text"] == "hello"


@pytest.mark.parametrize("content,args,message", [
    ('{"id": 1, "candidates": ["a"]}\n\n{"id": 2, "candidates": ["b"\n', [], r"line 3: invalid JSON"),
    ('{"id": 1, "candidates": []}\n', [], r"line 1 \(id 1\): 'candidates' must be a non-empty list"),
    ('{"id": 1}\n', [], r"line 1 \(id 1\): no 'candidates'"),
    ('{"id": 1, "candidates": [{"text": 3}]}\n', [], r"candidate 0 has no string 'text'"),
    ('{"id": 1, "candidates": [5]}\n', [], r"candidate 0 must be a string or an object"),
    ('{"id": "x", "candidates": [{"text": "a", "score": -1}, "b"]}\n', ["--weight", "0.5"],
     r"id 'x'\): candidate 1 has no system 'score'"),
    ('{"id": "x", "candidates": [{"text": "a", "score": "high"}]}\n', [], r"not a finite number"),
])
def test_cli_bad_nbest(discriminator, tmp_path, content, args, message):
    path = write(tmp_path / "bad.jsonl", content)
    with pytest.raises((ValueError, OSError), match=message):
        score_main(["--model", discriminator, "--input", path, *args])


def test_cli_bad_inputs(discriminator, tmp_path):
    with pytest.raises((ValueError, OSError), match="no such file"):
        score_main(["--model", discriminator, "--input", str(tmp_path / "missing.txt")])
    texts = write(tmp_path / "texts.txt", "a b c d e f g h\n")
    with pytest.raises((ValueError, OSError), match="--weight applies to n-best"):
        score_main(["--model", discriminator, "--input", texts, "--weight", "0.5"])
    with pytest.raises((ValueError, OSError), match=r"texts.txt line 1 has 8 tokens"):
        score_main(["--model", discriminator, "--input", texts, "--max_length", "6", "--long_texts", "error"])


def test_load_scorer_objectives(discriminator, tmp_path, caplog):
    pair = tmp_path / "pair"
    shutil.copytree(discriminator, pair / "discriminator")
    for objective, warned in (("electra", True), ("electric", False)):
        (pair / "config.json").write_text(json.dumps({"model_type": "electra_pretraining", "objective": objective}))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="electra_hf.scoring"):
            model, tokenizer = load_scorer(str(pair), device="cpu")
        assert isinstance(model, ElectraForPreTraining) and not model.training
        assert any("not pseudo-log-likelihoods" in r.message for r in caplog.records) == warned

    single = tmp_path / "single"
    shutil.copytree(discriminator, single)
    config = ElectraConfig.from_pretrained(single)
    config.pretraining_objective = "electra"
    config.save_pretrained(single)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="electra_hf.scoring"):
        load_scorer(str(single))
    assert any("objective 'electra'" in r.message for r in caplog.records)

    (pair / "config.json").write_text(json.dumps({"model_type": "electra_pretraining", "objective": "mlm"}))
    shutil.rmtree(pair / "discriminator")
    with pytest.raises(ValueError, match="without a discriminator"):
        load_scorer(str(pair))
    tuned = tmp_path / "tuned"
    ElectraForSequenceClassification(config).save_pretrained(tuned)
    with pytest.raises(ValueError, match="no discriminator head"):
        load_scorer(str(tuned))


def test_the_commands_choices_for_long_texts_are_the_librarys():
    """score.py lists them itself (it answers --help before torch loads); they must be scoring.LONG_TEXTS."""
    from electra_hf.score import ScoreArguments
    from electra_hf.scoring import LONG_TEXTS

    assert ScoreArguments.__dataclass_fields__["long_texts"].metadata["choices"] == list(LONG_TEXTS)
