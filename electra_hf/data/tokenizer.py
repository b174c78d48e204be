"""The tokenizer: the bundled BERT uncased WordPiece vocabulary (what the released ELECTRA models use), any
tokenizer transformers can load, or a WordPiece vocabulary trained on the corpus."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from importlib import resources

from tokenizers.models import WordPiece
from transformers import AutoTokenizer, BertTokenizer, PreTrainedTokenizerBase

# vocab.txt of bert-base-uncased (30,522 tokens; provenance in resources/README.md).
BUNDLED_VOCAB_DIR = str(resources.files("electra_hf") / "resources" / "bert-base-uncased")
# The original WordPiece turns words longer than this into [UNK] (tokenization.py); tokenizers' default is 100.
MAX_CHARS_PER_WORD = 200


def load_tokenizer(name_or_path: str | None = None, **kwargs) -> PreTrainedTokenizerBase:
    """The bundled uncased BERT tokenizer when `name_or_path` is None, else `AutoTokenizer.from_pretrained`; a
    WordPiece one with the original's longest word."""
    if name_or_path is None:
        tokenizer = BertTokenizer.from_pretrained(BUNDLED_VOCAB_DIR, do_lower_case=True, **kwargs)
    else:
        try:
            tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
        except (OSError, ValueError) as err:
            raise ValueError(f"could not load a tokenizer from {name_or_path!r}: {str(err).splitlines()[0]} "
                             "(pass a Hub id or a directory with tokenizer files).") from err
    model = getattr(tokenizer, "backend_tokenizer", None) and tokenizer.backend_tokenizer.model
    if isinstance(model, WordPiece):  # every WordPiece vocabulary, a saved one too (it reloads with 100)
        model.max_input_chars_per_word = MAX_CHARS_PER_WORD
    return tokenizer


def train_tokenizer(base: PreTrainedTokenizerBase, texts: Iterator[str | list[str]], vocab_size: int
                    ) -> PreTrainedTokenizerBase:
    """A new vocabulary of `vocab_size` learned from `texts` with `base`'s normalisation, pre-tokenisation and
    special tokens (a WordPiece vocabulary for the default BERT tokenizer)."""
    if vocab_size < 100:
        raise ValueError(f"vocab_size={vocab_size} is too small for a WordPiece vocabulary (the original: 30522).")
    return numbered_in_order(base.train_new_from_iterator(texts, vocab_size=vocab_size))


def learn_tokenizer(base: PreTrainedTokenizerBase, docs, text_column: str, vocab_size: int, cache_dir: str
                    ) -> PreTrainedTokenizerBase:
    """`train_tokenizer` on a corpus's documents (a `datasets.Dataset`), kept in `cache_dir` under a key of the
    corpus, `base` and the size: tokenizers' trainer breaks ties between equally frequent merges in an order that
    changes from process to process, so a second run of one command (or another process of the same run) would
    learn a slightly different vocabulary; it reads the first's instead."""
    key = hashlib.sha256(json.dumps({"corpus": docs._fingerprint, "base": base.backend_tokenizer.to_str(),
                                     "vocab_size": vocab_size}).encode()).hexdigest()[:16]
    folder = os.path.join(cache_dir, f"electra-vocab-{key}")
    if os.path.isfile(os.path.join(folder, "tokenizer.json")):
        return load_tokenizer(folder)
    batches = (docs[i:i + 1000][text_column] for i in range(0, len(docs), 1000))
    tokenizer = train_tokenizer(base, batches, vocab_size)
    written = f"{folder}.tmp{os.getpid()}"
    tokenizer.save_pretrained(written)
    try:
        os.rename(written, folder)  # whole or not at all: a killed run leaves no half-written vocabulary
    except OSError:  # another process wrote it first: use that one, as the next run will
        shutil.rmtree(written)
        return load_tokenizer(folder)
    return tokenizer


def numbered_in_order(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """A learned WordPiece vocabulary with its special tokens at their ids and the others in sorted order in the
    other ids. tokenizers' trainer numbers the tokens it learns in hash order, which changes from process to
    process, so the same corpus gave other ids (other examples, another run); WordPiece matches strings, so the
    ids are free to choose. (Other models are left as trained.)"""
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        path = os.path.join(folder, "tokenizer.json")
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        if state["model"]["type"] != "WordPiece":
            return tokenizer
        vocab, special = state["model"]["vocab"], set(tokenizer.all_special_tokens)
        kept = {token: i for token, i in vocab.items() if token in special}
        free = sorted(set(range(len(vocab))) - set(kept.values()))
        state["model"]["vocab"] = kept | dict(zip(sorted(set(vocab) - special), free))
        with open(path, "w", encoding="utf-8") as f:
            json.dump(state, f, ensure_ascii=False)
        return load_tokenizer(folder)
