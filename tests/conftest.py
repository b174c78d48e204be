import os
import random

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402
from transformers import ElectraConfig, ElectraForPreTraining  # noqa: E402

from electra_hf import ElectraPretrainingConfig  # noqa: E402
from electra_hf.data import load_tokenizer  # noqa: E402

SUBJECTS = ["the cat", "a dog", "my sister", "the old man", "her friend", "the captain", "our neighbour"]
VERBS = ["saw", "liked", "visited", "followed", "admired", "forgot", "answered"]
OBJECTS = ["the house", "a letter", "the garden", "his brother", "the ship", "a stranger", "the village"]
PLACES = ["in the morning", "after dinner", "at the ball", "near the river", "before the storm"]


def synthetic_sentences(n: int, seed: int = 0) -> list[str]:
    """Grammatical, repetitive sentences: learnable by a tiny model in a few dozen steps."""
    rng = random.Random(seed)
    return [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(PLACES)}. "
            f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}." for _ in range(n)]


@pytest.fixture(scope="session")
def tokenizer():
    return load_tokenizer()


@pytest.fixture(scope="session")
def discriminator(tmp_path_factory, tokenizer):
    """A small random discriminator with its tokenizer, as pre-training would leave it."""
    path = tmp_path_factory.mktemp("model") / "discriminator"
    config = ElectraConfig(embedding_size=64, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=128)
    torch.manual_seed(0)
    ElectraForPreTraining(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture
def tiny_config():
    return ElectraPretrainingConfig.from_preset("tiny", model_hparam_overrides={"num_hidden_layers": 2})


@pytest.fixture
def sentences():
    return synthetic_sentences(64)


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)
    random.seed(0)
