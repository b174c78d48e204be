"""Question-answering data against the original (finetune/qa/qa_tasks.py): readers, checks, windows, max context, answer
spans, features."""

import gzip
import json
import logging

import numpy as np
import pytest
from datasets import Dataset

from electra_hf.data.windows import document_windows, max_context_windows
from electra_hf.tasks.qa_data import (
    QA_FEATURES,
    check_training_examples,
    featurize_qa,
    improve_answer_span,
    load_qa_file,
    prepare_features,
    training_problem,
    whitespace_words,
)

from .qa_fixture import make_questions, write_mrqa, write_squad

CLS, SEP = 101, 102


def rows(*items):
    """A Dataset of (question, context, answer text, answer start or None)."""
    return Dataset.from_list([{"id": f"q{i}", "question": q, "context": c,
                               "answers": {"text": [t] if t is not None else [], "answer_start": [s] if t else []},
                               "references": [t] if t else []}
                              for i, (q, c, t, s) in enumerate(items)], features=QA_FEATURES)


def test_whitespace_words_as_the_original():
    words, char_to_word = whitespace_words(" ab  c\u202fd\te\u00a0f")
    assert words == ["ab", "c", "d", "e\u00a0f"]  # U+202F splits, U+00A0 does not (tokenization splits it later)
    assert char_to_word == [-1, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 3]


def test_windows_and_max_context_by_hand():
    assert document_windows(10, 4, 2) == [(0, 4), (2, 4), (4, 4), (6, 4)]
    assert document_windows(10, 4, 128) == [(0, 4), (4, 4), (8, 2)]  # the step is min(length, stride)
    assert document_windows(3, 4, 2) == [(0, 3)] and document_windows(0, 4, 2) == []
    # score min(left, right) + 0.01 * length: token 3 has 0 right context in window 0, 1 and 2 in window 1
    assert max_context_windows([(0, 4), (2, 4), (4, 4), (6, 4)], 10).tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]
    assert max_context_windows([(0, 4), (1, 4)], 5).tolist() == [0, 0, 0, 1, 1]  # token 2 ties (1.04): the first
    assert max_context_windows([(0, 5), (2, 3)], 5).tolist() == [0] * 5  # token 3: 1 + 0.05 beats 1 + 0.03


def test_improve_answer_span(tokenizer):
    doc = tokenizer("born (1895-1943).", add_special_tokens=False)["input_ids"]  # born ( 1895 - 1943 ) .
    answer = tokenizer("1895", add_special_tokens=False)["input_ids"]
    assert improve_answer_span(doc, 1, 6, answer) == (2, 2)
    assert improve_answer_span(doc, 1, 6, tokenizer("1776", add_special_tokens=False)["input_ids"]) == (1, 6)


def test_offsets_give_the_originals_per_word_tokens(tokenizer):
    """The original tokenizes each whitespace word on its own; we tokenize the context once with offsets."""
    context = ("The café\u202fserved naïve  crème brûlée, (1895-1943).\nSmith's x\u00a0y \u200b z "
               + "a" * 201 + " end\tÉcole ＡＢＣ 東京")
    words, char_to_word = whitespace_words(context)
    per_word = [(tokenizer.tokenize(word), i) for i, word in enumerate(words)]
    expected_tokens = [t for tokens, _ in per_word for t in tokens]
    expected_words = [i for tokens, i in per_word for _ in tokens]
    encoded = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)
    assert tokenizer.convert_ids_to_tokens(encoded["input_ids"]) == expected_tokens
    assert [char_to_word[start] for start, _ in encoded["offset_mapping"]] == expected_words


def test_training_features_targets_at_window_edges(tokenizer):
    context = " ".join(str(n) for n in range(100, 130))  # 30 one-token words
    # query "what ?" (2 tokens): 16 - 2 - 3 = 11 document tokens per window, stride 4: windows at 0, 4, 8, ...
    batch = rows(("what?", context, "110", context.index("110")),  # token 10, the last of window 0
                 ("what?", context, "109 110 111 112", context.index("109")),  # tokens 9-12
                 ("what?", context, None, None))
    features = featurize_qa(batch[:], tokenizer=tokenizer, max_seq_length=16, doc_stride=4, max_query_length=64)
    assert len(features["input_ids"]) == 3 * len(document_windows(30, 11, 4)) == 3 * 6
    first = features["input_ids"][0]
    assert first[:4] == [CLS, *tokenizer("what?", add_special_tokens=False)["input_ids"], SEP] and first[-1] == SEP
    assert tokenizer.decode(first[4:-1]) == " ".join(str(n) for n in range(100, 111))
    assert features["token_type_ids"][0] == [0] * 4 + [1] * 12
    starts, ends = features["start_positions"], features["end_positions"]
    # answer token 10 in windows 0 (0-10), 1 (4-14), 2 (8-18); prefix [CLS] what ? [SEP] = 4 tokens
    assert list(zip(starts[:6], ends[:6])) == [(14, 14), (10, 10), (6, 6), (0, 0), (0, 0), (0, 0)]
    # tokens 9-12 are complete in windows 1 (4-14) and 2 (8-18) only
    assert list(zip(starts[6:12], ends[6:12])) == [(0, 0), (9, 12), (5, 8), (0, 0), (0, 0), (0, 0)]
    assert starts[12:] == ends[12:] == [0] * 6 and features["is_impossible"][12:] == [1.0] * 6
    assert features["is_impossible"][:12] == [0.0] * 12  # an answer outside the window is still answerable


def test_unicode_answer_and_evaluation_features(tokenizer):
    context = "Le café\u202fservait une crème brûlée naïve."
    batch = rows(("which dessert?", context, "crème brûlée", context.index("crème")))
    train = featurize_qa(batch[:], tokenizer=tokenizer, max_seq_length=64)
    span = train["input_ids"][0][train["start_positions"][0]:train["end_positions"][0] + 1]
    assert tokenizer.decode(span) == "creme brulee"
    evaluation = featurize_qa(batch[:], [7], tokenizer=tokenizer, max_seq_length=64, training=False)
    assert evaluation["example_index"] == [7]
    starts, ends = evaluation["token_start_char"][0], evaluation["token_end_char"][0]
    prefix = len(tokenizer("which dessert?", add_special_tokens=False)["input_ids"]) + 2
    assert starts[:prefix] == [-1] * prefix and starts[-1] == ends[-1] == -1
    assert context[starts[prefix]:ends[prefix]] == "Le" and evaluation["max_context"][0][prefix:-1] == [True] * (
        len(starts) - prefix - 1)


def test_evaluation_max_context_flags_match_the_rule(tokenizer):
    context = " ".join(str(n) for n in range(100, 130))
    features = featurize_qa(rows(("what?", context, None, None))[:], tokenizer=tokenizer, max_seq_length=16,
                            doc_stride=4, training=False)
    best = max_context_windows(document_windows(30, 11, 4), 30)
    for index, (start, length) in enumerate(document_windows(30, 11, 4)):
        flags = features["max_context"][index][4:4 + length]
        assert flags == (best[start:start + length] == index).tolist()
    assert sum(sum(f) for f in features["max_context"]) == 30  # every token is max-context in exactly one window


def test_training_checks_count_and_name_problems(caplog):
    context = "The cat sat on the mat."
    batch = rows(("who?", context, "cat", 4), ("who?", context, "dog", 4), ("who?", context, "cat", 99),
                 ("who?", context, "mat.", 20), ("who?", "   ", "x", 0), ("  ", context, "cat", 4),
                 ("who?", context, " ", 3), ("who?", context, None, None), ("who?", context, "the", 0))
    assert [training_problem(row) for row in batch] == [
        None, "answer text not at its offset in the context", "answer offset outside the context",
        "answer ends after the context", "empty context", "empty question", "empty answer text", None, None]
    with caplog.at_level(logging.WARNING):
        kept = check_training_examples(batch, version_2_with_negative=False)
    assert kept["id"] == ["q0", "q8"]  # q7 has no answer: not trainable without SQuAD 2.0
    assert "Skipping 7 of 9 train questions" in caplog.text and "(e.g. id 'q1')" in caplog.text
    assert check_training_examples(batch, version_2_with_negative=True)["id"] == ["q0", "q7", "q8"]
    with pytest.raises(ValueError, match="none of the 1 train questions"):
        check_training_examples(batch.select([1]), version_2_with_negative=True)


def test_squad_and_mrqa_files(tmp_path):
    questions = make_questions(5, seed=3, unanswerable=0.4)
    squad = load_qa_file(write_squad(str(tmp_path / "train.json"), questions))
    assert squad["id"] == [q["id"] for q in questions]
    for row, question in zip(squad, questions):
        expected = [question["answer"]["text"]] if question["answer"] else []
        assert row["answers"]["text"] == row["references"] == expected
    mrqa_rows = make_questions(4, seed=4)
    path = write_mrqa(str(tmp_path / "dev.jsonl"), mrqa_rows)
    with open(path, "rb") as f, gzip.open(tmp_path / "dev.jsonl.gz", "wb") as g:
        g.write(f.read())
    for mrqa in (load_qa_file(path), load_qa_file(str(tmp_path / "dev.jsonl.gz"))):
        assert len(mrqa) == 4  # the header line is skipped
        assert mrqa[0]["answers"] == {"text": [mrqa_rows[0]["answer"]["text"]],
                                      "answer_start": [mrqa_rows[0]["answer"]["answer_start"]]}
        assert mrqa[0]["references"] == [mrqa_rows[0]["answer"]["text"].upper()]  # scored against `answers`


def test_bad_files_fail_clearly(tmp_path):
    def write(name, text):
        (tmp_path / name).write_text(text)
        return str(tmp_path / name)

    with pytest.raises(ValueError, match="bad.json is not valid JSON"):
        load_qa_file(write("bad.json", '{"data": ['))
    with pytest.raises(ValueError, match="not a SQuAD file"):
        load_qa_file(write("list.json", "[1, 2]"))
    with pytest.raises(ValueError, match="article 0, paragraph 0, question 0 has no 'question'"):
        load_qa_file(write("noq.json", json.dumps({"data": [{"paragraphs": [{"context": "c",
                                                                             "qas": [{"id": "1"}]}]}]})))
    with pytest.raises(ValueError, match="line 2 is not valid JSON"):
        load_qa_file(write("bad.jsonl", '{"header": {}}\n{"context": \n'))
    with pytest.raises(ValueError, match="malformed detected_answers"):
        load_qa_file(write("spans.jsonl", json.dumps({"context": "c", "qas": [
            {"qid": "1", "question": "q", "detected_answers": [{"text": "c", "char_spans": []}]}]}) + "\n"))
    question = {"id": "1", "question": "q", "answers": []}
    duplicated = {"data": [{"paragraphs": [{"context": "c", "qas": [question, question]}]}]}
    with pytest.raises(ValueError, match="occur more than once"):
        load_qa_file(write("dup.json", json.dumps(duplicated)))
    with pytest.raises(ValueError, match="use a SQuAD .json file or an MRQA .jsonl"):
        load_qa_file(write("x.csv", "a,b"))
    with pytest.raises(FileNotFoundError):
        load_qa_file(str(tmp_path / "missing.json"))


def test_prepare_features_checks_lengths(tokenizer):
    data = rows(("q", "a b c", None, None))
    with pytest.raises(ValueError, match="leaves no room for the document"):
        prepare_features(data, tokenizer, max_seq_length=64, max_query_length=64)
    with pytest.raises(ValueError, match="doc_stride"):
        prepare_features(data, tokenizer, max_seq_length=64, max_query_length=16, doc_stride=0)
    empty = prepare_features(rows(("q", "", None, None), ("q", "a b", None, None)), tokenizer, max_seq_length=32,
                             max_query_length=8, training=False)
    assert empty["example_index"] == [1]  # an empty context has no window (its answer is the nonce "empty")
    long_question = prepare_features(rows((" ".join(["why"] * 100), "a b", None, None)), tokenizer,
                                      max_seq_length=32, max_query_length=8, training=False)
    assert np.array(long_question["token_type_ids"][0]).tolist() == [0] * 10 + [1] * 3  # the query is cut to 8
