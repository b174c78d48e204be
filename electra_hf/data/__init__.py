"""Data: corpora, the original's example builder, tokenizers (each imported on first use)."""

from ..lazy import lazy_exports

_EXPORTS = {
    "BUNDLED_CORPUS_DIR": "corpus", "CorpusSpec": "corpus", "blank_lines_end_documents": "corpus",
    "build_examples": "corpus", "load_documents": "corpus", "split_for_evaluation": "corpus",
    "ExampleBuilder": "builder", "BUNDLED_VOCAB_DIR": "tokenizer", "load_tokenizer": "tokenizer",
    "train_tokenizer": "tokenizer", "learn_tokenizer": "tokenizer",
}
__all__ = list(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
