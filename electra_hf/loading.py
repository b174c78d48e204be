"""Where models, tokenizers and datasets come from: a local directory, a pre-training output directory, or the
Hub. A Hub name with no network fails in seconds with what to do instead; huggingface_hub itself would retry for
over a minute and then raise a connection error from deep inside."""

from __future__ import annotations

import functools
import logging
import os

from huggingface_hub import constants, try_to_load_from_cache
from huggingface_hub.utils import get_session

# datasets, transformers' models and the tokenizers load inside the functions that need them: the checks run
# before a script's heavy imports, so that bad input fails in seconds
logger = logging.getLogger(__name__)
PROBE_TIMEOUT_S = 5.0
OFFLINE_HINT = "pass a local directory instead, or set HF_HUB_OFFLINE=1 to use what the Hub cache already holds"


@functools.cache
def hub_reachable() -> bool:
    """One request to the Hub's endpoint, answered or refused within seconds (asked once per process)."""
    if constants.HF_HUB_OFFLINE:
        return False
    try:
        get_session().head(constants.ENDPOINT, timeout=PROBE_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - any failure to connect means the same here: no Hub
        return False
    return True


def looks_like_path(name: str) -> bool:
    """A Hub id is `name` or `owner/name`; anything else names a place on disk."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.path.exists(name)


def check_hub_name(name: str, what: str, repo_type: str = "model") -> None:
    """Fail now, in one line, when `name` is neither a local directory nor something the Hub can give this
    process; without a network a cached copy is used (offline mode turned on, so nothing retries)."""
    if os.path.isdir(name):
        return
    if looks_like_path(name):
        raise ValueError(f"{what} {name!r}: no such directory.")
    cached = isinstance(try_to_load_from_cache(name, "config.json" if repo_type == "model" else "README.md",
                                               repo_type=repo_type), str)
    if constants.HF_HUB_OFFLINE:
        if repo_type == "model" and not cached:
            raise ValueError(f"{what} {name!r} is not a local directory, and HF_HUB_OFFLINE is set but the Hub "
                             "cache does not hold it: pass a local directory, or download it where there is a "
                             "network.")
        return
    if hub_reachable():
        return
    if cached:
        logger.warning("The Hub (%s) is unreachable: using the cached copy of %s.", constants.ENDPOINT, name)
        go_offline()
        return
    raise ValueError(f"{what} {name!r} is not a local directory and the Hub ({constants.ENDPOINT}) cannot be "
                     f"reached: {OFFLINE_HINT}.")


def go_offline() -> None:
    """From now on transformers and datasets read the Hub cache only (both read these flags at each call)."""
    import datasets

    constants.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = True


def check_hub_push(enabled: bool, flag: str = "--push_to_hub") -> None:
    """Before any training: a push at the end needs the Hub."""
    if enabled and (constants.HF_HUB_OFFLINE or not hub_reachable()):
        raise ValueError(f"{flag} needs the Hub ({constants.ENDPOINT}), which "
                         f"{'HF_HUB_OFFLINE forbids' if constants.HF_HUB_OFFLINE else 'cannot be reached'}: drop "
                         f"{flag} (the model is saved in --output_dir) and push it later with "
                         "`huggingface-cli upload`.")


def check_max_length(config, max_seq_length: int) -> None:
    """A clear error, not an index error deep inside the embeddings, for sequences longer than the model's."""
    if max_seq_length > config.max_position_embeddings:
        raise ValueError(f"--max_seq_length {max_seq_length} is longer than the model's max_position_embeddings "
                         f"({config.max_position_embeddings}).")


def check_finetuning_sources(model_args, data_args, push_to_hub: bool = False) -> str:
    """Before a fine-tuning script's heavy imports: the model, its tokenizer and a Hub dataset can be had, the
    input files named exist, a push can happen. Returns the discriminator's path."""
    model_path = discriminator_path(model_args.model_name_or_path)
    check_hub_name(model_path, "--model_name_or_path")
    if model_args.tokenizer_name:
        check_hub_name(model_args.tokenizer_name, "--tokenizer_name")
    for name in ("train_file", "validation_file", "test_file", "glue_dir"):
        path = getattr(data_args, name, None)
        if path and not os.path.exists(path):
            raise FileNotFoundError(f"--{name} {path}: no such {'directory' if name == 'glue_dir' else 'file'}.")
    check_hub_push(push_to_hub)
    return model_path


def discriminator_path(path: str) -> str:
    """A pre-training output directory holds the discriminator in a sub-folder."""
    return os.path.join(path, "discriminator") if os.path.isdir(os.path.join(path, "discriminator")) else path


def load_model_tokenizer(model_path: str, tokenizer_name: str | None = None):
    """The tokenizer to use with `model_path` (its own unless named), checked against its vocabulary."""
    import transformers

    from .data import load_tokenizer

    check_hub_name(model_path, "--model_name_or_path")
    if tokenizer_name:
        check_hub_name(tokenizer_name, "--tokenizer_name")
    tokenizer = load_tokenizer(tokenizer_name or model_path)
    vocab_size = transformers.AutoConfig.from_pretrained(model_path).vocab_size
    if len(tokenizer) != vocab_size:
        raise ValueError(f"the tokenizer has {len(tokenizer)} tokens but {model_path} has vocab_size {vocab_size}: "
                         "pass the model's own tokenizer (--tokenizer_name).")
    return tokenizer
