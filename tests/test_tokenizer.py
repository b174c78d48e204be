"""The tokenizer (electra_hf/data/tokenizer.py): a learned vocabulary numbered in one order whatever order the
trainer gave, kept for the next run of the same command, and every WordPiece vocabulary keeping words of up to the
original's 200 characters."""

import json
import random

import pytest
from datasets import Dataset

from electra_hf.data import load_tokenizer, train_tokenizer
from electra_hf.data import tokenizer as tokenizer_module
from electra_hf.data.tokenizer import MAX_CHARS_PER_WORD, learn_tokenizer, numbered_in_order

from .conftest import synthetic_sentences


@pytest.fixture(scope="module")
def learned():
    return train_tokenizer(load_tokenizer(), iter([synthetic_sentences(300)]), 400)


def test_the_ids_do_not_depend_on_the_order_the_trainer_numbered_them(learned, tmp_path):
    """tokenizers' trainer numbers what it learns in hash order, which differs from process to process (seen:
    175 of 4,096 ids moved between two runs of one command): here the same vocabulary shuffled, renumbered."""
    learned.save_pretrained(tmp_path)
    state = json.loads((tmp_path / "tokenizer.json").read_text())
    vocab = state["model"]["vocab"]
    others = [token for token in vocab if token not in learned.all_special_tokens]
    ids = [vocab[token] for token in others]
    random.Random(0).shuffle(ids)
    state["model"]["vocab"] = {**vocab, **dict(zip(others, ids))}
    (tmp_path / "tokenizer.json").write_text(json.dumps(state))
    shuffled = load_tokenizer(str(tmp_path))
    assert shuffled.get_vocab() != learned.get_vocab()
    assert numbered_in_order(shuffled).get_vocab() == learned.get_vocab()
    assert learned.convert_ids_to_tokens(list(range(5))) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    rest = learned.convert_ids_to_tokens(list(range(5, len(learned))))
    assert rest == sorted(rest)


def test_a_learned_vocabulary_is_read_back_by_the_next_run(tmp_path, monkeypatch):
    """The trainer also breaks ties between equally frequent merges in hash order, so the set of tokens can differ
    too (seen: 50 of 4,096 on one novel): the next run of the same corpus, base and size reads the first's."""
    docs = Dataset.from_dict({"text": synthetic_sentences(300)})
    first = learn_tokenizer(load_tokenizer(), docs, "text", 400, str(tmp_path))
    monkeypatch.setattr(tokenizer_module, "train_tokenizer", lambda *args: pytest.fail("learned again"))
    assert learn_tokenizer(load_tokenizer(), docs, "text", 400, str(tmp_path)).get_vocab() == first.get_vocab()
    assert [p.name.startswith("electra-vocab-") for p in tmp_path.iterdir()] == [True]  # no temporary left
    monkeypatch.undo()
    assert len(learn_tokenizer(load_tokenizer(), docs, "text", 120, str(tmp_path))) == 120  # another size: learned


def test_words_of_up_to_200_characters_are_kept(learned, tmp_path):
    """The original's tokenization.py makes a word [UNK] only beyond 200 characters (tokenizers: 100), for the
    bundled vocabulary, a learned one and either saved and loaded again."""
    bundled = load_tokenizer()
    assert len(bundled) == 30522
    learned.save_pretrained(tmp_path / "learned")
    for tokenizer in (bundled, learned, load_tokenizer(str(tmp_path / "learned"))):
        assert tokenizer.backend_tokenizer.model.max_input_chars_per_word == MAX_CHARS_PER_WORD
        assert tokenizer.unk_token not in tokenizer.tokenize("ab" * 60)  # 120 characters
        assert tokenizer.tokenize("ab" * 101) == [tokenizer.unk_token]
