"""The tokenizer: the bundled BERT uncased WordPiece vocabulary (what the released ELECTRA models use), any
tokenizer transformers can load, or a WordPiece vocabulary trained on the corpus."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources

from transformers import AutoTokenizer, BertTokenizer, PreTrainedTokenizerBase

# vocab.txt of bert-base-uncased (30,522 tokens; provenance in resources/README.md).
BUNDLED_VOCAB_DIR = str(resources.files("electra_hf") / "resources" / "bert-base-uncased")
# The original WordPiece turns words longer than this into [UNK] (tokenization.py); tokenizers' default is 100.
MAX_CHARS_PER_WORD = 200


def load_tokenizer(name_or_path: str | None = None, **kwargs) -> PreTrainedTokenizerBase:
    """The bundled uncased BERT tokenizer when `name_or_path` is None, else `AutoTokenizer.from_pretrained`."""
    if name_or_path is None:
        tokenizer = BertTokenizer.from_pretrained(BUNDLED_VOCAB_DIR, do_lower_case=True, **kwargs)
        tokenizer.backend_tokenizer.model.max_input_chars_per_word = MAX_CHARS_PER_WORD
        return tokenizer
    try:
        return AutoTokenizer.from_pretrained(name_or_path, **kwargs)
    except (OSError, ValueError) as err:
        raise ValueError(f"could not load a tokenizer from {name_or_path!r}: {str(err).splitlines()[0]} "
                         "(pass a Hub id or a directory with tokenizer files).") from err


def train_tokenizer(base: PreTrainedTokenizerBase, texts: Iterator[str | list[str]], vocab_size: int
                    ) -> PreTrainedTokenizerBase:
    """A new vocabulary of `vocab_size` learned from `texts` with `base`'s normalisation, pre-tokenisation and
    special tokens (a WordPiece vocabulary for the default BERT tokenizer)."""
    if vocab_size < 100:
        raise ValueError(f"vocab_size={vocab_size} is too small for a WordPiece vocabulary (the original: 30522).")
    return base.train_new_from_iterator(texts, vocab_size=vocab_size)
