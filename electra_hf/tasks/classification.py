"""Sentence(-pair) classification and regression as the original fine-tunes them
(finetune/classification/classification_tasks.py, run_finetuning.py:37-73): the featurizer with BERT's pair truncation,
`double_unordered`, and the head (dropout + one Glorot-initialised linear layer on [CLS], the loss summed over the
batch)."""

from __future__ import annotations

import torch
from datasets import Dataset, concatenate_datasets
from torch import nn
from transformers import ElectraConfig, ElectraModel
from transformers.modeling_outputs import SequenceClassifierOutput

from .heads import ElectraWithTaskHead

# The original's classifier dropout (classification_tasks.py: keep_prob=0.9), whatever the encoder's.
HEAD_DROPOUT = 0.1


def truncate_pair(tokens_a: list[int], tokens_b: list[int], max_length: int) -> tuple[list[int], list[int]]:
    """BERT's `_truncate_seq_pair`: drop the last token of the longer sequence until both fit; on a tie,
    of the second."""
    a, b = list(tokens_a), list(tokens_b)
    while len(a) + len(b) > max_length:
        if len(a) > len(b):
            a.pop()
        else:
            b.pop()
    return a, b


def featurize(texts_a: list[str], texts_b: list[str | None] | None, tokenizer, max_seq_length: int
              ) -> dict[str, list[list[int]]]:
    """`[CLS] a [SEP]` (segment 0) then `b [SEP]` (segment 1), truncated as the original
    (classification_tasks.py:65-150)."""
    ids_a = tokenizer(list(texts_a), add_special_tokens=False, return_attention_mask=False,
                      return_token_type_ids=False)["input_ids"]
    ids_b = [None] * len(ids_a)
    if texts_b is not None:
        present = [i for i, text in enumerate(texts_b) if text]
        if present:
            tokenized = tokenizer([texts_b[i] for i in present], add_special_tokens=False,
                                  return_attention_mask=False, return_token_type_ids=False)["input_ids"]
            for i, ids in zip(present, tokenized):
                ids_b[i] = ids
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    output: dict[str, list[list[int]]] = {"input_ids": [], "token_type_ids": []}
    for a, b in zip(ids_a, ids_b):
        if b:  # as the original: an empty second text makes a single-segment example
            a, b = truncate_pair(a, b, max_seq_length - 3)
            ids = [cls_id, *a, sep_id, *b, sep_id]
            types = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        else:
            a = a[:max_seq_length - 2]
            ids = [cls_id, *a, sep_id]
            types = [0] * len(ids)
        output["input_ids"].append(ids)
        output["token_type_ids"].append(types)
    return output


def encode(dataset: Dataset, tokenizer, max_seq_length: int, labelled: bool = True) -> Dataset:
    """Add `input_ids`/`token_type_ids` to a split with `text_a`/`text_b`/`label` columns; `label` becomes the
    model's `labels`, or is dropped for a split without labels (a test split)."""
    encoded = dataset.map(lambda batch: featurize(batch["text_a"], batch["text_b"], tokenizer, max_seq_length),
                          batched=True, desc="Tokenizing")
    return encoded.rename_column("label", "labels") if labelled else encoded.remove_columns("label")


def sorted_by_length(dataset: Dataset) -> Dataset:
    """The rows shortest first: evaluation batches then pad little (predictions keep their `idx`)."""
    lengths = dataset.map(lambda batch: {"length": [len(ids) for ids in batch["input_ids"]]}, batched=True)
    return lengths.sort("length").remove_columns("length")


def double_unordered(dataset: Dataset, first: str = "text_a", second: str = "text_b") -> Dataset:
    """The dataset followed by a copy with the two texts swapped (the original's `double_unordered`, used for
    MRPC and STS-B training sets, whose pairs are unordered)."""
    swapped = dataset.map(lambda row: {first: row[second], second: row[first]}, desc="double_unordered")
    return concatenate_datasets([dataset, swapped])


class ElectraForClassification(ElectraWithTaskHead):
    """ELECTRA with the original fine-tuning head: dropout 0.1 on the [CLS] hidden state, then one linear layer
    (Glorot-uniform, zero bias) to `num_labels` logits, or to one value for regression
    (`config.problem_type == "regression"`). There is no pooler and no extra dense layer (transformers'
    `ElectraForSequenceClassification` adds dense + GELU). The loss is summed over the batch, as the original
    (it matters with clipping at 1.0): cross-entropy, or squared error against targets scaled to [0, 1].

    Load a discriminator into it with `ElectraForClassification.from_pretrained(path, num_labels=...)`; a
    fine-tuned model saves with its head and loads back the same way.
    """

    head_names = ("classifier",)

    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.electra = ElectraModel(config)
        self.dropout = nn.Dropout(HEAD_DROPOUT if config.classifier_dropout is None else config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, 1 if self.is_regression else config.num_labels)
        self.post_init()

    @property
    def is_regression(self) -> bool:
        return self.config.problem_type == "regression"

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None
                ) -> SequenceClassifierOutput:
        hidden = self.electra(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                              ).last_hidden_state
        logits = self.classifier(self.dropout(hidden[:, 0]))
        if self.is_regression:
            logits = logits.squeeze(-1)
        loss = None
        if labels is not None:
            if self.is_regression:
                loss = ((logits.float() - labels.float()) ** 2).sum()
            else:
                loss = nn.functional.cross_entropy(logits.float(), labels, reduction="sum")
        return SequenceClassifierOutput(loss=loss, logits=logits)
