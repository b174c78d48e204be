"""Example-builder throughput: electra-hf's batched `datasets.map` builder against the original's algorithm run
line by line in plain Python (written here from build_pretraining_dataset.py:34-114), on the same text and tokenizer.

    python benchmarks/build_dataset.py                     # the bundled corpus
    python benchmarks/build_dataset.py --num_proc 2 --files data/*.txt
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from electra_hf.data import CorpusSpec, ExampleBuilder, build_examples, load_documents, load_tokenizer  # noqa: E402


class LineByLineBuilder:
    """The original's ExampleBuilder as the spec describes it: one `add_line` call per input line, each line
    tokenized on its own, one example emitted at a time. The baseline, and the tests' reference."""

    def __init__(self, tokenizer, max_length: int, rng: random.Random):
        self.tokenizer, self.max_length, self.rng = tokenizer, max_length, rng
        self.sentences, self.length, self.target_length = [], 0, max_length

    def add_line(self, line: str):
        line = line.strip().replace("\n", " ")
        if not line and self.length != 0:
            return self.create_example()
        ids = self.tokenizer(line, add_special_tokens=False)["input_ids"] if line else []
        self.sentences.append(ids)
        self.length += len(ids)
        if self.length >= self.target_length:
            return self.create_example()
        return None

    def create_example(self):
        if self.rng.random() < 0.1:
            first_target = 100000
        else:
            first_target = (self.target_length - 3) // 2
        first, second = [], []
        for sentence in self.sentences:
            if (len(first) == 0 or len(first) + len(sentence) < first_target
                    or (len(second) == 0 and len(first) < first_target and self.rng.random() < 0.5)):
                first += sentence
            else:
                second += sentence
        first = first[:self.max_length - 2]
        second = second[:max(0, self.max_length - len(first) - 3)]
        self.sentences, self.length = [], 0
        self.target_length = self.rng.randint(5, self.max_length) if self.rng.random() < 0.05 else self.max_length
        ids = [self.tokenizer.cls_token_id] + first + [self.tokenizer.sep_token_id]
        types = [0] * len(ids)
        if second:
            ids += second + [self.tokenizer.sep_token_id]
            types += [1] * (len(second) + 1)
        return ids, types


def build_line_by_line(documents: list[str], tokenizer, max_length: int, rng: random.Random,
                       blanks_separate_docs: bool = True) -> list[tuple[list[int], list[int]]]:
    """Feed documents to the line-by-line builder as the original's writer feeds files
    (build_pretraining_dataset.py)."""
    builder, examples = LineByLineBuilder(tokenizer, max_length, rng), []
    for document in documents:
        for line in document.split("\n"):
            if line.strip() or blanks_separate_docs:
                example = builder.add_line(line)
                if example:
                    examples.append(example)
        example = builder.add_line("")
        if example:
            examples.append(example)
    return examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", nargs="+", default=None, help="text files (default: the bundled corpus)")
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--num_proc", type=int, default=None)
    args = parser.parse_args()

    tokenizer = load_tokenizer()
    docs = load_documents(CorpusSpec(files=args.files))
    texts = docs["text"]
    results = {}

    start = time.perf_counter()
    baseline = build_line_by_line(texts, tokenizer, args.max_seq_length, random.Random(0))
    results["line_by_line (original algorithm)"] = (time.perf_counter() - start, baseline)

    for num_proc in sorted({1, args.num_proc or 1}):
        with tempfile.TemporaryDirectory() as cache:
            start = time.perf_counter()
            examples = build_examples(docs, ExampleBuilder(tokenizer, args.max_seq_length), cache_dir=cache,
                                      num_proc=num_proc if num_proc > 1 else None)
            results[f"electra_hf num_proc={num_proc}"] = (time.perf_counter() - start, examples["input_ids"])

    base_seconds = results["line_by_line (original algorithm)"][0]
    print(f"{len(texts)} documents; max_seq_length {args.max_seq_length}; {os.cpu_count()} CPUs\n")
    print(f"{'builder':36} {'seconds':>8} {'examples':>9} {'examples/s':>11} {'tokens/s':>10} {'speed-up':>9}")
    for name, (seconds, built) in results.items():
        tokens = sum(len(e[0] if isinstance(e, tuple) else e) for e in built)
        print(f"{name:36} {seconds:8.2f} {len(built):9d} {len(built) / seconds:11.0f} {tokens / seconds:10.0f} "
              f"{base_seconds / seconds:8.2f}x")


if __name__ == "__main__":
    main()
