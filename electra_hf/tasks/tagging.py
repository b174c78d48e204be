"""Sequence tagging as the original fine-tunes it (finetune/tagging/*): CoNLL files, IOB tags re-encoded
as BIOES spans, the first sub-token of each word labelled, one Glorot linear layer on the token states, the
loss summed over words and batch, span-level precision/recall/F1, predictions written back as CoNLL, and the
Task that fine-tunes with them."""

from __future__ import annotations

import logging
import os

import torch
from datasets import Dataset
from torch import nn
from transformers import DataCollatorForTokenClassification, ElectraConfig, ElectraModel
from transformers.modeling_outputs import TokenClassifierOutput

from ..data.text_files import reading
from .heads import ElectraWithTaskHead
from .runner import Task

logger = logging.getLogger(__name__)

IGNORE = -100  # label of the positions that are not a word's first sub-token (torch's ignore_index)


def read_conll(path: str) -> Dataset:
    """A CoNLL file as rows of `tokens` and `tags`: the word is the first column and the tag the last, blank
    lines end sentences, `-DOCSTART-` lines are skipped. A file of words alone (one column) has no `tags`.
    A line with another number of columns than the file's first is an error (the original would read
    whatever column is last as the tag)."""
    sentences: list[list[list[str]]] = []
    current: list[list[str]] = []
    columns = None
    with reading(path), open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            fields = line.strip().split()
            if not fields:
                if current:
                    sentences.append(current)
                    current = []
                continue
            if fields[0] == "-DOCSTART-":
                continue
            columns = columns or len(fields)
            if len(fields) != columns:
                raise ValueError(f"{path}, line {number}: {len(fields)} columns where the file's first line has "
                                 f"{columns} ({line.strip()!r}).")
            current.append(fields)
    if current:
        sentences.append(current)
    if not sentences:
        raise ValueError(f"{path} has no sentences.")
    rows = {"tokens": [[fields[0] for fields in sentence] for sentence in sentences]}
    if columns > 1:
        rows["tags"] = [[fields[-1] for fields in sentence] for sentence in sentences]
    return Dataset.from_dict(rows)


def span_labels(tags: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, type) of each span of a tag sequence in IOB, IOB2 or BIOES (`get_span_labels`): a span
    starts at B-/S- or after O, and ends before the next B-/S-/O."""
    spans: list[tuple[int, int, str]] = []
    last, start = "O", -1
    for i, tag in enumerate(tags):
        position = None if tag == "O" else tag.split("-", 1)[0]
        if (position in ("S", "B") or tag == "O") and last != "O":
            spans.append((start, i - 1, last.split("-", 1)[-1]))
        if position in ("B", "S") or last == "O":
            start = i
        last = tag
    if tags and tags[-1] != "O":
        spans.append((start, len(tags) - 1, tags[-1].split("-", 1)[-1]))
    return spans


def tags_from_spans(spans: list[tuple[int, int, str]], length: int) -> list[str]:
    """BIOES tags of `spans` (`get_tags` with the original's encoding): S- for one word, else B- I- ... E-."""
    tags = ["O"] * length
    for start, end, kind in spans:
        for i in range(start, end + 1):
            tags[i] = f"I-{kind}"
        tags[end] = f"E-{kind}"
        tags[start] = f"S-{kind}" if start == end else f"B-{kind}"
    return tags


def to_bioes(tags: list[str]) -> list[str]:
    return tags_from_spans(span_labels(tags), len(tags))


def label_set(*splits: Dataset) -> list[str]:
    """The sorted BIOES tags of every split (the original's label mapping)."""
    return sorted({tag for split in splits for tags in split["tags"] for tag in to_bioes(tags)})


def featurize_tagging(batch: dict, tokenizer, label_ids: dict[str, int] | None, max_seq_length: int = 256) -> dict:
    """A `datasets.map(batched=True)` function: `[CLS] words [SEP]` with every token in segment 1 (as the
    original); `word_positions`, each word's first sub-token (-1 for a word cut off or without tokens);
    with `label_ids`, `labels`: the word's BIOES tag id at its first sub-token, -100 elsewhere.

    Words are kept while `len(words) + 2 + tokens so far + 1 <= max_seq_length`, the original's conservative
    rule (it counts every word of the sentence, not the remaining ones); the words after are not labelled,
    nor scored. A word the tokenizer turns into nothing is not labelled either (the original labels the next
    token with it)."""
    encoded = tokenizer(batch["tokens"], is_split_into_words=True, add_special_tokens=False,
                        return_attention_mask=False, return_token_type_ids=False)
    output: dict[str, list] = {"input_ids": [], "token_type_ids": [], "word_positions": []}
    if label_ids is not None:
        output["labels"] = []
    for k, words in enumerate(batch["tokens"]):
        per_word: list[list[int]] = [[] for _ in words]
        for token, word in zip(encoded["input_ids"][k], encoded.word_ids(k)):
            per_word[word].append(token)
        ids, positions = [tokenizer.cls_token_id], [-1] * len(words)
        for i, tokens in enumerate(per_word):
            if len(words) + 2 + len(ids) + 1 > max_seq_length:
                break
            if tokens:
                positions[i] = len(ids)
                ids += tokens
        ids.append(tokenizer.sep_token_id)
        output["input_ids"].append(ids)
        output["token_type_ids"].append([1] * len(ids))
        output["word_positions"].append(positions)
        if label_ids is not None:
            labels = [IGNORE] * len(ids)
            for position, tag in zip(positions, to_bioes(batch["tags"][k])):
                if position >= 0:
                    labels[position] = label_ids[tag]
            output["labels"].append(labels)
    return output


def word_predictions(logits, word_positions: list[list[int]], labels: list[str]) -> list[list[str | None]]:
    """Each word's tag: the argmax at its first sub-token (no constrained decoding, as the original); None for
    a word that was not scored."""
    return [[labels[int(row[p].argmax())] if p >= 0 else None for p in positions]
            for row, positions in zip(logits, word_positions)]


def span_f1(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    """Span-level precision, recall and F1 ×100: a span counts when start, end and type are exact
    (`EntityLevelF1Scorer`); 0 for all three when nothing is right."""
    correct = n_predicted = n_gold = 0
    for gold_tags, predicted_tags in zip(gold, predicted):
        gold_spans, predicted_spans = set(span_labels(gold_tags)), set(span_labels(predicted_tags))
        correct += len(gold_spans & predicted_spans)
        n_gold += len(gold_spans)
        n_predicted += len(predicted_spans)
    if correct == 0:
        return {"f1": 0.0, "precision": 0.0, "recall": 0.0}
    precision, recall = 100.0 * correct / n_predicted, 100.0 * correct / n_gold
    return {"f1": 2 * precision * recall / (precision + recall), "precision": precision, "recall": recall}


class ElectraForTagging(ElectraWithTaskHead):
    """ELECTRA with the original tagging head: one linear layer (Glorot-uniform, zero bias) from each token's
    state to the tags, no dropout, scored at each word's first sub-token (`labels` -100 elsewhere); the
    cross-entropy is summed over words and batch, as the original."""

    head_names = ("classifier",)

    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.electra = ElectraModel(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None
                ) -> TokenClassifierOutput:
        hidden = self.electra(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                              ).last_hidden_state
        logits = self.classifier(hidden)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE,
                                               reduction="sum")
        return TokenClassifierOutput(loss=loss, logits=logits)


def write_conll(path: str, split: Dataset, predicted: list[list[str | None]]) -> int:
    """Word, gold tag (when the split has them), predicted tag in IOB2; returns the words not scored (cut off
    by max_seq_length), written as O."""
    unscored = 0
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row, tags in zip(split, predicted):
            unscored += sum(tag is None for tag in tags)
            spans = span_labels([tag or "O" for tag in tags])
            iob2 = [t.replace("S-", "B-").replace("E-", "I-") for t in tags_from_spans(spans, len(tags))]
            for i, word in enumerate(row["tokens"]):
                gold = [row["tags"][i]] if row.get("tags") else []
                f.write(" ".join([word, *gold, iob2[i]]) + "\n")
            f.write("\n")
    return unscored


class TaggingTask(Task):
    """Splits with `tokens` and (scored ones) IOB/BIOES `tags` columns (read_conll), tagged with `labels` (BIOES);
    scored by span F1 on "validation"; each split's predictions written to <trial>/<split>_predictions.txt."""

    model_class = ElectraForTagging
    name = "tagging"
    headline = "f1"

    def __init__(self, splits: dict[str, Dataset], labels: list[str], *, max_seq_length: int = 256,
                 max_train_samples: int | None = None):
        self.splits, self.labels, self.max_seq_length = splits, labels, max_seq_length
        self.label_ids = {label: i for i, label in enumerate(labels)}
        self.max_train_samples = max_train_samples

    def model_kwargs(self) -> dict:
        return {"num_labels": len(self.labels), "id2label": dict(enumerate(self.labels)), "label2id": self.label_ids}

    def data_collator(self, tokenizer):
        return DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8)

    def settings(self) -> dict:
        return {"max_seq_length": self.max_seq_length, "labels": self.labels,
                "max_train_samples": self.max_train_samples}

    def featurize(self, tokenizer) -> dict[str, Dataset]:
        features = {}
        for split, rows in self.splits.items():
            if split == "train" and self.max_train_samples:
                rows = rows.select(range(min(self.max_train_samples, len(rows))))
            features[split] = rows.map(featurize_tagging, batched=True, remove_columns=rows.column_names,
                                       fn_kwargs={"tokenizer": tokenizer, "max_seq_length": self.max_seq_length,
                                                  "label_ids": None if split == "test" else self.label_ids},
                                       desc=f"Tokenizing {split}")
        return features

    def evaluate(self, trainer, features: dict[str, Dataset], trial_dir: str) -> dict[str, float]:
        metrics = {}
        for split in ("validation", "test"):
            if split not in features:
                continue
            logits = trainer.predict(features[split].remove_columns(
                [c for c in ("labels",) if c in features[split].column_names])).predictions
            predicted = word_predictions(logits, features[split]["word_positions"], self.labels)
            if split == "validation":
                gold = [[tag for tag, p in zip(to_bioes(tags), pred) if p is not None]
                        for tags, pred in zip(self.splits[split]["tags"], predicted)]
                metrics = span_f1(gold, [[p for p in pred if p is not None] for pred in predicted])
            if trainer.args.should_save:
                unscored = write_conll(os.path.join(trial_dir, f"{split}_predictions.txt"), self.splits[split],
                                       predicted)
                if unscored:
                    logger.warning("%s: %d words after max_seq_length=%d were not tagged (written as O).", split,
                                   unscored, self.max_seq_length)
        return metrics
