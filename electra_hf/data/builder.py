"""The original's pre-training example builder (build_pretraining_dataset.py:34-114) as a batched
`datasets.map` function: documents in, `[CLS] A [SEP] B [SEP]` examples out (no padding; the collator pads)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# How often an example gets a single segment, and how often the next example gets a random target length.
SINGLE_SEGMENT_PROB = 0.1
RANDOM_LENGTH_PROB = 0.05


@dataclass
class _BuilderState:
    """What the original's ExampleBuilder carries from line to line."""

    max_length: int
    rng: random.Random
    target_length: int = 0
    sentences: list[list[int]] = field(default_factory=list)
    length: int = 0

    def __post_init__(self):
        self.target_length = self.max_length

    def add_line(self, token_ids: list[int] | None, examples: list[tuple[list[int], list[int]]]) -> None:
        """`token_ids` is None for an empty line: the end of a document when something is accumulated."""
        if token_ids is None and self.length != 0:
            examples.append(self._create_example())
            return
        token_ids = token_ids or []
        self.sentences.append(token_ids)
        self.length += len(token_ids)
        if self.length >= self.target_length:
            examples.append(self._create_example())

    def _create_example(self) -> tuple[list[int], list[int]]:
        rng = self.rng
        if rng.random() < SINGLE_SEGMENT_PROB:
            first_target = 100000
        else:
            first_target = (self.target_length - 3) // 2  # room for [CLS] and two [SEP]
        first, second = [], []
        for sentence in self.sentences:
            # the random draw happens only when this clause is reached, as in the original
            if (not first or len(first) + len(sentence) < first_target
                    or (not second and len(first) < first_target and rng.random() < 0.5)):
                first += sentence
            else:
                second += sentence
        first = first[:self.max_length - 2]
        second = second[:max(0, self.max_length - len(first) - 3)]
        self.sentences, self.length = [], 0
        if rng.random() < RANDOM_LENGTH_PROB:
            self.target_length = rng.randint(5, self.max_length)
        else:
            self.target_length = self.max_length
        return first, second


@dataclass
class ExampleBuilder:
    """Builds ELECTRA examples from documents exactly as the original builder does.

    Each document's lines are the builder's "sentences" (a line is never split). Lines accumulate until they
    reach the target length (the sequence length, or with 5% chance a random length for the next example),
    then become one example: 10% of the time a single segment, otherwise segment A up to half the target
    and the rest as segment B, truncated to `max_seq_length`. A document's end emits what has accumulated,
    so examples never span documents. With `blanks_separate_docs`, blank lines inside a document also end
    a document (the original's default for text files); otherwise they are skipped.

    Call it through `datasets.map(builder, batched=True, with_indices=True)`; the randomness is seeded from
    `seed` and the batch's first row, so a rebuild gives the same examples.
    """

    tokenizer: object
    max_seq_length: int = 128
    blanks_separate_docs: bool = True
    seed: int = 0
    text_column: str = "text"

    def __post_init__(self):
        if self.max_seq_length < 5:
            raise ValueError(f"max_seq_length={self.max_seq_length} is too short for [CLS] A [SEP] B [SEP].")

    def __call__(self, batch: dict[str, list], indices: list[int] | None = None) -> dict[str, list]:
        first_index = indices[0] if indices else 0
        state = _BuilderState(self.max_seq_length, random.Random(self.seed * 1_000_003 + first_index))
        documents = [[line.strip() for line in (doc or "").split("\n")] for doc in batch[self.text_column]]
        nonempty = [line for lines in documents for line in lines if line]
        token_ids = iter(self.tokenizer(nonempty, add_special_tokens=False, return_attention_mask=False,
                                        return_token_type_ids=False)["input_ids"] if nonempty else [])
        examples: list[tuple[list[int], list[int]]] = []
        for lines in documents:
            for line in lines:
                if line:
                    state.add_line(next(token_ids), examples)
                elif self.blanks_separate_docs:
                    state.add_line(None, examples)
            state.add_line(None, examples)  # the end of a document flushes (the original's add_line(""))
        cls_id, sep_id = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        output: dict[str, list] = {"input_ids": [], "token_type_ids": []}
        for first, second in examples:
            ids = [cls_id, *first, sep_id]
            types = [0] * len(ids)
            if second:
                ids += [*second, sep_id]
                types += [1] * (len(second) + 1)
            output["input_ids"].append(ids)
            output["token_type_ids"].append(types)
        return output
