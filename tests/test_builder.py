"""ExampleBuilder against the original (build_pretraining_dataset.py:34-114): the original's algorithm, its statistics,
its boundaries."""

import random

import pytest
from datasets import Dataset

from benchmarks.build_dataset import build_line_by_line
from electra_hf.data import BUNDLED_CORPUS_DIR, CorpusSpec, ExampleBuilder, load_documents

CLS, SEP = 101, 102


def build(tokenizer, documents, max_length=128, seed=0, blanks_separate_docs=True):
    builder = ExampleBuilder(tokenizer, max_seq_length=max_length, seed=seed,
                             blanks_separate_docs=blanks_separate_docs)
    out = builder({"text": documents}, list(range(len(documents))))
    return list(zip(out["input_ids"], out["token_type_ids"]))


def ten_token_lines(n, word="alpha"):
    # "alpha" is one WordPiece token: each line is exactly 10 tokens
    return "\n".join(" ".join([word] * 10) for _ in range(n))


def test_same_examples_as_the_line_by_line_original(tokenizer):
    documents = load_documents(CorpusSpec(files=[f"{BUNDLED_CORPUS_DIR}/persuasion.txt"]))["text"][:400]
    for blanks in (True, False):
        ours = build(tokenizer, documents, seed=0, blanks_separate_docs=blanks)
        # our builder seeds random.Random(seed * 1_000_003 + first_row): 0 here, the reference's stream
        reference = build_line_by_line(documents, tokenizer, 128, random.Random(0), blanks_separate_docs=blanks)
        assert len(ours) > 100
        assert ours == reference


def test_layout_and_lengths(tokenizer):
    examples = build(tokenizer, [ten_token_lines(2000)], max_length=128)
    for ids, types in examples:
        assert ids[0] == CLS and ids[-1] == SEP and len(ids) <= 128 and len(ids) == len(types)
        first_sep = ids.index(SEP)
        assert set(types[:first_sep + 1]) == {0}
        assert set(types[first_sep + 1:]) <= {1}
        if first_sep + 1 < len(ids):
            assert ids.count(SEP) == 2


def test_single_segment_and_random_length_rates(tokenizer):
    # 10-token lines, max 128: an example closes at 130 tokens; first target (128-3)//2 = 62 holds six lines
    # and the seventh 50% of the time, so two segments always, except the 10% single-segment draws.
    examples = build(tokenizer, [ten_token_lines(60_000)], max_length=128, seed=1)
    single = sum(1 for _, types in examples if max(types) == 0) / len(examples)
    assert single == pytest.approx(0.10, abs=0.012)
    # 5% of examples get a random target in [5, 128] for the next one: it closes below the full length
    short = sum(1 for ids, _ in examples if len(ids) < 125) / len(examples)
    assert short == pytest.approx(0.05 * 116 / 124, abs=0.01)  # targets 121-128 still fill the example
    # rule (c): with the seventh line in segment A (70 tokens) or not (60), half and half
    two_segment = [types for _, types in examples if max(types) == 1 and len(types) == 128]
    a_lengths = [types.index(1) - 2 for types in two_segment]  # tokens of segment A
    assert {60, 70} <= set(a_lengths) <= {50, 60, 70}  # 50 after a random target of 121-124
    assert a_lengths.count(70) / (a_lengths.count(60) + a_lengths.count(70)) == pytest.approx(0.5, abs=0.03)


def test_documents_never_share_an_example(tokenizer):
    alpha, beta = tokenizer.convert_tokens_to_ids(["alpha", "beta"])
    documents = [ten_token_lines(n, word) for n in (3, 17, 1, 40) for word in ("alpha", "beta")]
    for ids, _ in build(tokenizer, documents):
        assert not (alpha in ids and beta in ids)


def test_blank_lines(tokenizer):
    alpha, beta = tokenizer.convert_tokens_to_ids(["alpha", "beta"])
    document = ten_token_lines(2, "alpha") + "\n\n   \n" + ten_token_lines(2, "beta")
    separate = build(tokenizer, [document], blanks_separate_docs=True)
    assert len(separate) == 2 and not any(alpha in ids and beta in ids for ids, _ in separate)
    joined = build(tokenizer, [document], blanks_separate_docs=False)
    assert len(joined) == 1 and alpha in joined[0][0] and beta in joined[0][0]


def test_an_overlong_line_is_truncated_not_carried_over(tokenizer):
    examples = build(tokenizer, [" ".join(["alpha"] * 300) + "\n" + "beta beta"], max_length=64)
    assert len(examples[0][0]) == 64 and examples[0][0].count(SEP) == 1  # first[:62]; the overflow is dropped
    beta = tokenizer.convert_tokens_to_ids("beta")
    assert examples[1][0] == [CLS, beta, beta, SEP]


def test_deterministic_per_seed(tokenizer):
    documents = [ten_token_lines(300)]
    assert build(tokenizer, documents, seed=3) == build(tokenizer, documents, seed=3)
    assert build(tokenizer, documents, seed=3) != build(tokenizer, documents, seed=4)


def test_bundled_corpus_examples(tokenizer):
    docs = load_documents(CorpusSpec(files=[f"{BUNDLED_CORPUS_DIR}/northanger_abbey.txt"]))
    examples = docs.map(ExampleBuilder(tokenizer, 128), batched=True, with_indices=True, remove_columns=["text"])
    lengths = [len(ids) for ids in examples["input_ids"]]
    assert max(lengths) <= 128 and min(lengths) >= 3
    assert sum(length == 128 for length in lengths) > 0.15 * len(lengths)  # paragraphs over a sequence fill it
    assert tokenizer.unk_token_id not in {t for ids in examples["input_ids"][:500] for t in ids}
    assert isinstance(examples, Dataset)


def test_too_short_a_sequence_length(tokenizer):
    with pytest.raises(ValueError, match="max_seq_length=4"):
        ExampleBuilder(tokenizer, max_seq_length=4)
