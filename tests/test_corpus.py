"""Corpus loading, example caching and the held-out split; bad input fails with the file or value named."""

import json
import os
import time

import pytest
from datasets import IterableDataset

from electra_hf.data import (
    BUNDLED_CORPUS_DIR,
    CorpusSpec,
    ExampleBuilder,
    build_examples,
    load_documents,
    split_for_evaluation,
    train_tokenizer,
)
from electra_hf.data.corpus import examples_fingerprint

from .conftest import synthetic_sentences


@pytest.fixture
def text_dir(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    sentences = synthetic_sentences(60)
    for i in range(3):
        paragraphs = ["\n".join(sentences[j:j + 4]) for j in range(i * 20, i * 20 + 20, 4)]
        (folder / f"part{i}.txt").write_text("\n\n".join(paragraphs) + "\n")
    return folder


def test_text_files_one_document_per_paragraph_or_file(text_dir):
    paragraphs = load_documents(CorpusSpec(files=[str(text_dir)]))
    assert paragraphs.num_rows == 15 and paragraphs[0]["text"].count("\n") == 3
    files = load_documents(CorpusSpec(files=[str(text_dir / "*.txt")], blanks_separate_docs=False))
    assert files.num_rows == 3


def test_the_bundled_corpus_is_the_default():
    docs = load_documents(CorpusSpec())
    assert docs.num_rows > 10_000
    assert sorted(os.listdir(BUNDLED_CORPUS_DIR))[0] == "emma.txt"


def test_json_and_csv_files_with_a_text_column(tmp_path):
    rows = [{"body": s, "id": i} for i, s in enumerate(synthetic_sentences(5))]
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    docs = load_documents(CorpusSpec(files=[str(tmp_path / "c.jsonl")], text_column="body"))
    assert docs.num_rows == 5 and docs[0]["body"] == rows[0]["body"]
    with pytest.raises(ValueError, match="no column 'text'.*--text_column"):
        load_documents(CorpusSpec(files=[str(tmp_path / "c.jsonl")]))


def test_examples_are_cached_and_the_cache_follows_its_inputs(tmp_path, text_dir, tokenizer):
    docs = load_documents(CorpusSpec(files=[str(text_dir)]))
    cache = tmp_path / "cache"
    builder = ExampleBuilder(tokenizer, 32)
    first = build_examples(docs, builder, cache_dir=str(cache))
    cached = list(cache.glob("electra-examples-*.arrow"))
    assert len(cached) == 1 and first.cache_files[0]["filename"] == str(cached[0])

    calls = []

    class Counting(ExampleBuilder):
        def __call__(self, batch, indices=None):
            calls.append(1)
            return super().__call__(batch, indices)

    again = build_examples(docs, Counting(tokenizer, 32), cache_dir=str(cache))
    assert not calls and again["input_ids"] == first["input_ids"]  # reused, not rebuilt

    key = examples_fingerprint(docs, builder, tokenizer)
    assert key != examples_fingerprint(docs, ExampleBuilder(tokenizer, 64), tokenizer)
    other_tokenizer = train_tokenizer(tokenizer, iter([synthetic_sentences(200)]), 300)
    assert key != examples_fingerprint(docs, ExampleBuilder(other_tokenizer, 32), other_tokenizer)
    (text_dir / "part0.txt").write_text("a changed corpus\n")
    changed = load_documents(CorpusSpec(files=[str(text_dir)]))
    assert key != examples_fingerprint(changed, builder, tokenizer)


def test_streaming_builds_lazily(text_dir, tokenizer):
    docs = load_documents(CorpusSpec(files=[str(text_dir)], streaming=True))
    examples = build_examples(docs, ExampleBuilder(tokenizer, 32))
    assert isinstance(examples, IterableDataset)
    splits = split_for_evaluation(examples, 3)
    assert len(list(splits["validation"])) == 3 and len(list(splits["train"])) > 10


def test_held_out_split(text_dir, tokenizer):
    examples = build_examples(load_documents(CorpusSpec(files=[str(text_dir)])), ExampleBuilder(tokenizer, 32))
    splits = split_for_evaluation(examples, 5)
    assert (len(splits["train"]), len(splits["validation"])) == (len(examples) - 5, 5)
    assert len(split_for_evaluation(examples, 0.2)["validation"]) == round(0.2 * len(examples) + 0.4)
    assert "validation" not in split_for_evaluation(examples, 0)
    with pytest.raises(ValueError, match="not smaller than the"):
        split_for_evaluation(examples, 10_000)


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no corpus file at '.*nowhere'"):
        load_documents(CorpusSpec(files=[str(tmp_path / "nowhere")]))


def test_non_utf8_and_binary_files_are_named(tmp_path):
    (tmp_path / "latin.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(ValueError, match="latin.txt is not UTF-8"):
        load_documents(CorpusSpec(files=[str(tmp_path / "latin.txt")]))
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01\x02binary\x00")
    with pytest.raises(ValueError, match="blob.txt looks binary"):
        load_documents(CorpusSpec(files=[str(tmp_path / "blob.txt")]))


def test_empty_corpus(tmp_path, tokenizer, caplog):
    (tmp_path / "blank.txt").write_text("\n\n   \n")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match=r"holds no text: .*blank.txt, .*empty.txt are empty or blank"):
        load_documents(CorpusSpec(files=[str(tmp_path)], blanks_separate_docs=False))
    (tmp_path / "text.txt").write_text("Some text.\n")
    docs = load_documents(CorpusSpec(files=[str(tmp_path)], blanks_separate_docs=False))
    assert docs["text"] == ["Some text.\n"] and "Skipping" in caplog.text and "empty.txt" in caplog.text
    with pytest.raises(ValueError, match="produced no examples"):  # text, but too little for one example
        build_examples(docs.select([]), ExampleBuilder(tokenizer, 32))


def test_mixed_file_types(tmp_path):
    (tmp_path / "a.txt").write_text("x\n")
    (tmp_path / "b.csv").write_text("text\nx\n")
    with pytest.raises(ValueError, match="mixes file types"):
        load_documents(CorpusSpec(files=[str(tmp_path)]))


def test_several_processes_build_the_same_kind_of_examples(text_dir, tokenizer):
    docs = load_documents(CorpusSpec(files=[str(text_dir)]))
    one = build_examples(docs, ExampleBuilder(tokenizer, 32))
    two = build_examples(docs, ExampleBuilder(tokenizer, 32), num_proc=2)
    # each process runs the builder over its own rows; every example still comes from one document
    assert abs(len(two) - len(one)) <= 2
    assert sorted(map(len, two["input_ids"]))[-1] <= 32


def test_a_killed_build_leaves_no_temporary_file_behind(text_dir, tokenizer, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "tmpkilled").write_bytes(b"half an arrow file")  # left by a build killed with -9 an hour ago
    os.utime(cache / "tmpkilled", (time.time() - 3600, time.time() - 3600))
    (cache / "tmpwriting").write_bytes(b"another build, writing now")
    examples = build_examples(load_documents(CorpusSpec(files=[str(text_dir)])), ExampleBuilder(tokenizer, 32),
                              cache_dir=str(cache))
    assert len(examples) > 0 and not (cache / "tmpkilled").exists() and (cache / "tmpwriting").exists()
