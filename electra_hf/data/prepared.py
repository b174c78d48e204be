"""Examples prepared once (prepare_data.py, as the original's separate build_pretraining_dataset.py) and read by
any number of pre-training runs, processes and nodes (`run_pretraining.py --prepared_data DIR`): a `datasets`
dataset saved in shards, the tokenizer that made it, and what it was made with."""

from __future__ import annotations

import json
import os
import shutil

INFO_FILE = "electra_prepared.json"


def save_prepared(examples, tokenizer, output_dir: str, *, max_seq_length: int, seed: int, corpus: str,
                  num_shards: int | None = None, num_proc: int | None = None) -> dict:
    """Write `examples` (Arrow shards, `num_shards` or datasets' 500 MB each), the tokenizer and INFO_FILE, the
    last of them last: a folder without it is an unfinished preparation."""
    info_path = os.path.join(output_dir, INFO_FILE)
    if os.path.exists(info_path):
        os.remove(info_path)
    shards = os.path.join(output_dir, "examples")
    shutil.rmtree(shards, ignore_errors=True)  # save_to_disk leaves an earlier preparation's surplus shards
    examples.save_to_disk(shards, num_shards=num_shards, num_proc=num_proc)
    tokenizer.save_pretrained(os.path.join(output_dir, "tokenizer"))
    with open(os.path.join(shards, "state.json")) as f:
        written = len(json.load(f)["_data_files"])
    info = {"examples": len(examples), "max_seq_length": max_seq_length, "seed": seed, "corpus": corpus,
            "vocab_size": len(tokenizer), "shards": written}
    with open(info_path + ".tmp", "w") as f:
        json.dump(info, f, indent=1)
    os.replace(info_path + ".tmp", info_path)
    return info


def check_prepared(path: str) -> dict:
    """The settings of a finished preparation in `path`; a clear error otherwise."""
    info_path = os.path.join(path, INFO_FILE)
    if not os.path.isfile(info_path):
        raise FileNotFoundError(f"--prepared_data {path}: no {INFO_FILE} there; prepare the examples with "
                                "prepare_data.py (a folder without that file is an unfinished preparation).")
    with open(info_path) as f:
        return json.load(f)


def load_prepared(path: str):
    """The examples (memory-mapped, not read into memory), the tokenizer and the preparation's settings."""
    import datasets

    from .tokenizer import load_tokenizer

    info = check_prepared(path)
    examples = datasets.load_from_disk(os.path.join(path, "examples"))
    tokenizer = load_tokenizer(os.path.join(path, "tokenizer"))
    return examples, tokenizer, info
