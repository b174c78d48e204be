"""Extractive question answering data (finetune/qa/qa_tasks.py): SQuAD 1.1/2.0 json, MRQA jsonl and the Hub's
`squad`/`squad_v2`, read into one layout, checked as the original checks training answers, and turned into
the original's features (query cut to 64 tokens, sliding windows, the max-context rule, the improved answer
span, targets at [CLS] when the answer is not in the window).

The layout of a question (the Hub's `squad`, plus `references`):
    id, question, context, answers {text: [...], answer_start: [...]}, references [...]
`answers` are the spans in the context (training uses the first; none = unanswerable); `references` are the
texts the metric scores against (SQuAD: the answers' texts; MRQA: the question's `answers`, which need not be
spans of the context).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator

import datasets
import numpy as np
from datasets import Dataset
from datasets.exceptions import DatasetGenerationError

from ..data.text_files import reading
from ..data.windows import document_windows, max_context_windows

logger = logging.getLogger(__name__)

QA_FEATURES = datasets.Features({
    "id": datasets.Value("string"), "question": datasets.Value("string"), "context": datasets.Value("string"),
    "answers": {"text": datasets.List(datasets.Value("string")),
                "answer_start": datasets.List(datasets.Value("int64"))},
    "references": datasets.List(datasets.Value("string")),
})


def file_format(path: str) -> str:
    """'squad' for .json, 'mrqa' for .jsonl / .jsonl.gz."""
    name = path.lower()
    if name.endswith(".json"):
        return "squad"
    if name.endswith((".jsonl", ".jsonl.gz")):
        return "mrqa"
    raise ValueError(f"{path}: use a SQuAD .json file or an MRQA .jsonl(.gz) file.")


def _field(record: dict, key: str, where: str):
    if not isinstance(record, dict) or key not in record:
        raise ValueError(f"{where} has no {key!r}.")
    return record[key]


def _read_squad(path: str) -> Iterator[dict]:
    try:
        with reading(path), open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}.") from err
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f'{path} is not a SQuAD file: expected {{"data": [{{"paragraphs": [...]}}, ...]}}.')
    for a, article in enumerate(data["data"]):
        for p, paragraph in enumerate(_field(article, "paragraphs", f"{path}: article {a}")):
            where = f"{path}: article {a}, paragraph {p}"
            context = _field(paragraph, "context", where)
            for q, qa in enumerate(_field(paragraph, "qas", where)):
                where_q = f"{where}, question {q}"
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                try:
                    spans = {"text": [str(_field(x, "text", where_q)) for x in answers],
                             "answer_start": [int(_field(x, "answer_start", where_q)) for x in answers]}
                except (TypeError, ValueError) as err:
                    raise ValueError(f"{where_q}: malformed answers ({err}).") from err
                yield {"id": str(_field(qa, "id", where_q)), "question": str(_field(qa, "question", where_q)),
                       "context": str(context), "answers": spans, "references": spans["text"]}


def _read_mrqa(path: str) -> Iterator[dict]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}, line {number}"
            try:
                paragraph = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{where} is not valid JSON: {err}.") from err
            if "header" in paragraph:
                continue
            context = _field(paragraph, "context", where)
            for q, qa in enumerate(_field(paragraph, "qas", where)):
                where_q = f"{where}, question {q}"
                detected = qa.get("detected_answers", [])
                try:  # the original trains on the first detected answer's first character span
                    spans = {"text": [str(_field(d, "text", where_q)) for d in detected],
                             "answer_start": [int(_field(d, "char_spans", where_q)[0][0]) for d in detected]}
                except (TypeError, ValueError, IndexError) as err:
                    raise ValueError(f"{where_q}: malformed detected_answers ({err}).") from err
                yield {"id": str(_field(qa, "qid", where_q)), "question": str(_field(qa, "question", where_q)),
                       "context": str(context), "answers": spans,
                       "references": [str(a) for a in qa.get("answers", spans["text"])]}


def _generate(path: str, kind: str, signature: tuple) -> Iterator[dict]:
    del signature  # part of the cache key only: a changed file is read again
    yield from (_read_squad if kind == "squad" else _read_mrqa)(path)


def load_qa_file(path: str, cache_dir: str | None = None) -> Dataset:
    """A SQuAD json or MRQA jsonl file as a Dataset in the layout above (cached by path, size and mtime)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no file at {path!r}.")
    kind = file_format(path)
    stat = os.stat(path)
    try:
        dataset = Dataset.from_generator(_generate, features=QA_FEATURES, cache_dir=cache_dir,
                                         gen_kwargs={"path": os.path.abspath(path), "kind": kind,
                                                     "signature": (stat.st_size, stat.st_mtime_ns)})
    except DatasetGenerationError as err:  # our reader's message, not the builder's wrapper
        cause = err.__cause__
        if isinstance(cause, (UnicodeDecodeError, OSError)):
            raise ValueError(f"{path} could not be read: {cause}.") from None
        if isinstance(cause, ValueError):
            raise ValueError(str(cause)) from None
        raise
    duplicates = [k for k, n in Counter(dataset["id"]).items() if n > 1]
    if duplicates:
        raise ValueError(f"{path}: {len(duplicates)} question ids occur more than once (e.g. {duplicates[0]!r}); "
                         "predictions are keyed by id.")
    return dataset


def load_qa_hub(name: str, split: str, config_name: str | None = None, cache_dir: str | None = None) -> Dataset:
    """A split of a Hub dataset with SQuAD's columns (`squad`, `squad_v2`, ...) in the layout above."""
    try:
        raw = datasets.load_dataset(name, config_name, split=split, cache_dir=cache_dir)
    except (ConnectionError, FileNotFoundError, ValueError) as err:
        raise ValueError(f"could not load {name!r} ({split}) from the Hub: {str(err).splitlines()[0]} "
                         "(offline? pass --train_file/--validation_file instead).") from err
    missing = {"id", "question", "context", "answers"} - set(raw.column_names)
    if missing:
        raise ValueError(f"{name} has no column(s) {sorted(missing)}: expected SQuAD's columns.")
    return raw.map(lambda row: {"references": row["answers"]["text"]},
                   remove_columns=[c for c in raw.column_names if c not in QA_FEATURES], features=QA_FEATURES)


def whitespace_words(text: str) -> tuple[list[str], list[int]]:
    """The original's document words (split on space, tab, CR, LF and U+202F) and each character's word index
    (a whitespace character belongs to the word before it; -1 before the first word)."""
    words: list[str] = []
    char_to_word: list[int] = []
    previous_is_space = True
    for char in text:
        if char in " \t\r\n\u202f":
            previous_is_space = True
        else:
            if previous_is_space:
                words.append(char)
            else:
                words[-1] += char
            previous_is_space = False
        char_to_word.append(len(words) - 1)
    return words, char_to_word


def training_problem(row: dict) -> str | None:
    """Why the original would not train on this question (finetune/qa/qa_tasks.py), or None. The original also drops
    answers whose text is not in their words; the empty-text and offset checks are ours (it would crash or
    read the wrong words)."""
    if not row["context"].strip():
        return "empty context"
    if not row["question"].strip():
        return "empty question"
    if not row["answers"]["text"]:
        return None  # unanswerable
    text, start = row["answers"]["text"][0], row["answers"]["answer_start"][0]
    if not text.strip():
        return "empty answer text"
    if start < 0 or start >= len(row["context"]):
        return "answer offset outside the context"
    if start + len(text) > len(row["context"]):
        return "answer ends after the context"
    words, char_to_word = whitespace_words(row["context"])
    first, last = char_to_word[start], char_to_word[start + len(text) - 1]
    found = " ".join(words[max(first, 0):last + 1]).lower()
    if first < 0 or found.find(" ".join(text.split()).lower()) == -1:
        return "answer text not at its offset in the context"
    return None


def check_training_examples(dataset: Dataset, version_2_with_negative: bool, name: str = "train") -> Dataset:
    """The questions the original trains on; the others are counted and logged by reason. Without
    `version_2_with_negative`, questions with no answer cannot be trained on and are skipped too."""
    reasons = dataset.map(lambda row: {"problem": training_problem(row) or
                                       ("no answer (SQuAD 1.1 / MRQA)" if not version_2_with_negative
                                        and not row["answers"]["text"] else "")},
                          desc="Checking answers")
    counts = Counter(r for r in reasons["problem"] if r)
    if counts:
        examples = {}
        for row_id, problem in zip(reasons["id"], reasons["problem"]):
            if problem and problem not in examples:
                examples[problem] = row_id
        logger.warning("Skipping %d of %d %s questions: %s", sum(counts.values()), len(dataset), name,
                       "; ".join(f"{n} {reason} (e.g. id {examples[reason]!r})" for reason, n in counts.items()))
    if sum(counts.values()) == len(dataset):
        raise ValueError(f"none of the {len(dataset)} {name} questions can be trained on ({dict(counts)}).")
    return reasons.filter(lambda row: not row["problem"]).remove_columns("problem")


def improve_answer_span(doc_ids: list[int], start: int, end: int, answer_ids: list[int]) -> tuple[int, int]:
    """The first, then shortest, sub-span of [start, end] whose tokens are the tokenized answer
    (`_improve_answer_span`: "(1895-1943)." holds the answer "1895" as one token), else [start, end]."""
    for new_start in range(start, end + 1):
        for new_end in range(end, new_start - 1, -1):
            if doc_ids[new_start:new_end + 1] == answer_ids:
                return new_start, new_end
    return start, end


def featurize_qa(batch: dict, indices: list[int] | None = None, *, tokenizer, max_seq_length: int = 512,
                 doc_stride: int = 128, max_query_length: int = 64, training: bool = True) -> dict:
    """A `datasets.map(batched=True)` function: every window of every question as `[CLS] query [SEP] window
    [SEP]` (segments 0 then 1). Training features carry `start_positions`/`end_positions` (0, i.e. [CLS], for
    an unanswerable question or an answer outside the window) and `is_impossible`; evaluation features carry
    `example_index` and, per token, `token_start_char`/`token_end_char` (-1 outside the document) and
    `max_context`.

    The document is tokenized whole with the fast tokenizer's offsets and each token is assigned the
    whitespace word its first character is in. The original tokenizes each word separately; the two give the
    same tokens and word map for tokenizers that split at whitespace (BERT's WordPiece); for tokenizers whose
    tokens can span a space, a token belongs to the word it starts in.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("question answering needs a fast tokenizer (character offsets).")
    queries = tokenizer(batch["question"], add_special_tokens=False, return_attention_mask=False,
                        return_token_type_ids=False)["input_ids"]
    documents = tokenizer(batch["context"], add_special_tokens=False, return_attention_mask=False,
                          return_token_type_ids=False, return_offsets_mapping=True, verbose=False)
    answers = [row["text"][0] if row["text"] else "" for row in batch["answers"]]
    answer_ids = tokenizer(answers, add_special_tokens=False, return_attention_mask=False,
                           return_token_type_ids=False)["input_ids"] if training else None
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    output: dict[str, list] = {"input_ids": [], "token_type_ids": []}
    for key in (("start_positions", "end_positions", "is_impossible") if training else
                ("example_index", "token_start_char", "token_end_char", "max_context")):
        output[key] = []

    for k, context in enumerate(batch["context"]):
        query = queries[k][:max_query_length]
        doc_ids = documents["input_ids"][k]
        offsets = documents["offset_mapping"][k]
        num_tokens = len(doc_ids)
        impossible = not batch["answers"][k]["text"]
        if training and not impossible:
            words, char_to_word = whitespace_words(context)
            token_word = np.array([char_to_word[start] for start, _ in offsets], dtype=np.int64)
            # first token of each word (of the next word with tokens, for a word without): `orig_to_tok_index`
            first_token = np.searchsorted(token_word, np.arange(len(words) + 1), side="left")
            answer_start = batch["answers"][k]["answer_start"][0]
            first_word = char_to_word[answer_start]
            last_word = char_to_word[answer_start + len(answers[k]) - 1]
            start, end = int(first_token[first_word]), int(first_token[last_word + 1]) - 1
            start, end = improve_answer_span(doc_ids, start, end, answer_ids[k])
        windows = document_windows(num_tokens, max_seq_length - len(query) - 3, doc_stride)
        best_window = max_context_windows(windows, num_tokens)
        prefix = len(query) + 2
        for index, (window_start, length) in enumerate(windows):
            output["input_ids"].append([cls_id, *query, sep_id, *doc_ids[window_start:window_start + length], sep_id])
            output["token_type_ids"].append([0] * prefix + [1] * (length + 1))
            if training:
                inside = not impossible and window_start <= start and end <= window_start + length - 1
                output["start_positions"].append(start - window_start + prefix if inside else 0)
                output["end_positions"].append(end - window_start + prefix if inside else 0)
                output["is_impossible"].append(float(impossible))
            else:
                span = offsets[window_start:window_start + length]
                output["example_index"].append(indices[k] if indices is not None else k)
                output["token_start_char"].append([-1] * prefix + [s for s, _ in span] + [-1])
                output["token_end_char"].append([-1] * prefix + [e for _, e in span] + [-1])
                output["max_context"].append([False] * prefix + (best_window[window_start:window_start + length]
                                                                  == index).tolist() + [False])
    return output


def prepare_features(dataset: Dataset, tokenizer, max_seq_length: int = 512, doc_stride: int = 128,
                     max_query_length: int = 64, training: bool = True, num_proc: int | None = None) -> Dataset:
    """Every window of every question of `dataset` (see `featurize_qa`); cached by `datasets`."""
    if max_seq_length - min(max_query_length, max_seq_length) - 3 < 1:
        raise ValueError(f"max_seq_length={max_seq_length} leaves no room for the document after a query of up to "
                         f"{max_query_length} tokens, [CLS] and two [SEP]: raise it or lower max_query_length.")
    if doc_stride < 1:
        raise ValueError(f"doc_stride={doc_stride} must be positive.")
    return dataset.map(featurize_qa, batched=True, with_indices=not training, remove_columns=dataset.column_names,
                       num_proc=num_proc, desc="Windows" + (" (training)" if training else ""),
                       fn_kwargs={"tokenizer": tokenizer, "max_seq_length": max_seq_length, "doc_stride": doc_stride,
                                  "max_query_length": max_query_length, "training": training})


def has_unanswerable(dataset: Dataset) -> bool:
    """Whether any question has no answer (SQuAD 2.0-style data)."""
    return any(not answers["text"] for answers in dataset["answers"])
