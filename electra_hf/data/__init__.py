"""Data: corpora, the original's example builder, tokenizers."""

from .builder import ExampleBuilder
from .corpus import (
    BUNDLED_CORPUS_DIR,
    CorpusSpec,
    blank_lines_end_documents,
    build_examples,
    load_documents,
    split_for_evaluation,
)
from .tokenizer import BUNDLED_VOCAB_DIR, load_tokenizer, train_tokenizer

__all__ = ["BUNDLED_CORPUS_DIR", "BUNDLED_VOCAB_DIR", "CorpusSpec", "ExampleBuilder", "blank_lines_end_documents",
           "build_examples",
           "load_documents", "load_tokenizer", "split_for_evaluation", "train_tokenizer"]
