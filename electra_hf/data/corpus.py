"""Corpora: raw text files, local json/csv/parquet files or any `datasets` dataset, as one document per row,
turned into cached ELECTRA examples."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, fields
from importlib import resources

import datasets
import numpy as np
from datasets import Dataset, DatasetDict, IterableDataset, Sequence, Value

from .builder import ExampleBuilder
from .text_files import dataset_error, not_utf8, resolve_files

logger = logging.getLogger(__name__)

# Jane Austen's six novels (public domain), shipped with the package: the default corpus.
BUNDLED_CORPUS_DIR = str(resources.files("electra_hf") / "resources" / "austen")
TEXT_SUFFIXES = (".txt", ".text", ".md")
FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}
BUILDER_VERSION = 1  # bump when ExampleBuilder's output changes, to invalidate caches


@dataclass
class CorpusSpec:
    """Where the text comes from.

    files: paths, directories or globs of raw text (`.txt`) or json/jsonl/csv/parquet files; defaults to the
        bundled corpus when no dataset is named.
    dataset_name / dataset_config_name / dataset_split: a `datasets` dataset (Hub id or local script/dir).
    text_column: the column holding the text (json/csv/parquet files and datasets).
    blanks_separate_docs: blank lines end a document (the original's default for text files); None means
        True for raw text files and False for dataset rows, where each row is one document.
    streaming: read the corpus lazily (for corpora that do not fit on disk).
    """

    files: list[str] | None = None
    dataset_name: str | None = None
    dataset_config_name: str | None = None
    dataset_split: str = "train"
    text_column: str = "text"
    blanks_separate_docs: bool | None = None
    streaming: bool = False


def file_kind(files: list[str]) -> str:
    """The datasets builder for the files ("text", "json", "csv" or "parquet"); one kind per corpus."""
    kinds = {FILE_BUILDERS.get(os.path.splitext(f)[1].lower(), "text") for f in files}
    if len(kinds) > 1:
        raise ValueError(f"the corpus mixes file types ({sorted(kinds)}): give files of one kind.")
    return kinds.pop()


def blank_lines_end_documents(spec: CorpusSpec) -> bool:
    """The spec's choice, else True for raw text files (the original's default) and False for dataset rows."""
    if spec.blanks_separate_docs is not None:
        return spec.blanks_separate_docs
    return not spec.dataset_name and file_kind(resolve_files(spec.files or [BUNDLED_CORPUS_DIR])) == "text"


def _has_text(path: str) -> bool:
    """Whether a text corpus file holds any text (refusing binary files): empty or blank files are skipped."""
    with open(path, "rb") as f:
        head = f.read(8192)
    if b"\x00" in head:
        raise ValueError(f"{path} looks binary (it contains NUL bytes): the corpus must be UTF-8 text.")
    return bool(head.strip()) or os.path.getsize(path) > len(head)


def load_documents(spec: CorpusSpec, cache_dir: str | None = None) -> Dataset | IterableDataset:
    """The corpus as one document per row in a `text` column (the spec's `text_column` for datasets)."""
    if spec.dataset_name:
        try:
            docs = datasets.load_dataset(spec.dataset_name, spec.dataset_config_name, split=spec.dataset_split,
                                         streaming=spec.streaming, cache_dir=cache_dir)
        except Exception as err:  # datasets raises many types; the message says which dataset
            raise ValueError(f"could not load dataset {spec.dataset_name!r} (config {spec.dataset_config_name!r}, "
                             f"split {spec.dataset_split!r}): {err}") from err
    else:
        files = resolve_files(spec.files or [BUNDLED_CORPUS_DIR])
        kind = file_kind(files)
        kwargs = {}
        if kind == "text":
            blank = [path for path in files if not _has_text(path)]
            if len(blank) == len(files):
                raise ValueError(f"the corpus holds no text: {', '.join(blank[:3])}"
                                 f"{f' and {len(blank) - 3} more' if len(blank) > 3 else ''} "
                                 f"{'is' if len(blank) == 1 else 'are'} empty or blank.")
            for path in blank:
                logger.warning("Skipping %s: it is empty or blank.", path)
            files = [path for path in files if path not in blank]
            # one row per paragraph (blank-line separated) or per file, as --blanks-separate-docs chose
            kwargs["sample_by"] = "document" if spec.blanks_separate_docs is False else "paragraph"
        try:
            docs = datasets.load_dataset(kind, data_files=files, split="train", streaming=spec.streaming,
                                         cache_dir=cache_dir, **kwargs)
        except (UnicodeDecodeError, datasets.exceptions.DatasetGenerationError) as err:
            for path in files if kind == "text" else []:
                if error := not_utf8(path):
                    raise error from None
            raise (dataset_error(files[0], err) if len(files) == 1 else
                   ValueError(f"could not read the corpus files ({err})")) from err
    columns = docs.column_names or []
    if columns and spec.text_column not in columns:
        raise ValueError(f"the corpus has no column {spec.text_column!r} (columns: {columns}): pass "
                         "--text_column.")
    return docs


def examples_fingerprint(docs: Dataset, builder: ExampleBuilder, tokenizer) -> str:
    """A key that changes whenever the corpus, the tokenizer or the builder settings do."""
    settings = {f.name: getattr(builder, f.name) for f in fields(builder) if f.name != "tokenizer"}
    key = {"corpus": docs._fingerprint, "tokenizer": tokenizer.backend_tokenizer.to_str(), "builder": settings,
           "version": BUILDER_VERSION}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def remove_stale_temporary_files(cache_dir: str, idle_seconds: float = 600) -> None:
    """datasets writes the examples to a `tmp*` file and renames it when done: a build killed meanwhile leaves it
    behind. One no process has written to for `idle_seconds` is such a leftover (a live build keeps writing)."""
    now = time.time()
    for name in os.listdir(cache_dir):
        path = os.path.join(cache_dir, name)
        try:
            if name.startswith("tmp") and os.path.isfile(path) and now - os.path.getmtime(path) > idle_seconds:
                os.remove(path)
                logger.info("Removed %s, left by a build that was killed.", path)
        except FileNotFoundError:
            pass


def build_examples(docs: Dataset | IterableDataset, builder: ExampleBuilder, cache_dir: str | None = None,
                   num_proc: int | None = None) -> Dataset | IterableDataset:
    """Run the builder over the documents. A non-streaming result is cached in `cache_dir` under a key of
    the corpus, the tokenizer and the settings (`examples_fingerprint`), so a second run starts at once and
    any change rebuilds; datasets writes the cache files atomically."""
    features = datasets.Features({"input_ids": Sequence(Value("int32")), "token_type_ids": Sequence(Value("int8"))})
    map_kwargs = {"batched": True, "with_indices": True, "features": features,
                  "remove_columns": docs.column_names or [builder.text_column]}
    if isinstance(docs, IterableDataset):
        return docs.map(builder, **map_kwargs)
    fingerprint = examples_fingerprint(docs, builder, builder.tokenizer)
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        remove_stale_temporary_files(cache_dir)
        map_kwargs["cache_file_name"] = os.path.join(cache_dir, f"electra-examples-{fingerprint}.arrow")
    examples = docs.map(builder, num_proc=num_proc, desc="Building ELECTRA examples", new_fingerprint=fingerprint,
                        **map_kwargs)
    if len(examples) == 0:
        raise ValueError("the corpus produced no examples: it is empty or holds only blank lines.")
    return examples


def split_for_evaluation(examples: Dataset | IterableDataset, eval_size: float, seed: int = 0,
                         shared_folder: bool = False) -> DatasetDict | dict[str, IterableDataset]:
    """A held-out split: `eval_size` examples (>= 1) or that fraction (< 1); 0 for none. `shared_folder`: the
    examples lie where other runs read them (maybe read-only), so nothing is written beside them."""
    if eval_size <= 0:
        return {"train": examples}
    if isinstance(examples, IterableDataset):
        if eval_size < 1:
            raise ValueError("with --streaming, --eval_size must be a number of examples (>= 1).")
        return {"train": examples.skip(int(eval_size)), "validation": examples.take(int(eval_size))}
    size = int(eval_size) if eval_size >= 1 else eval_size
    if isinstance(size, int) and size >= len(examples):
        raise ValueError(f"eval_size={size} is not smaller than the {len(examples)} examples the corpus gives: "
                         "lower it (or pass a fraction such as 0.05).")
    if shared_folder:  # train_test_split writes its index files beside the examples, even with keep_in_memory
        order = np.random.default_rng(seed).permutation(len(examples))
        held_out = size if isinstance(size, int) else math.ceil(size * len(examples))
        return DatasetDict({"train": examples.select(order[held_out:], keep_in_memory=True),
                            "validation": examples.select(order[:held_out], keep_in_memory=True)})
    split = examples.train_test_split(test_size=size, seed=seed, shuffle=True)
    return DatasetDict({"train": split["train"], "validation": split["test"]})
