"""Sentence(-pair) classification and regression as the original fine-tunes them
(finetune/classification/classification_tasks.py, run_finetuning.py:37-73): the featurizer with BERT's pair truncation,
`double_unordered`, the head (dropout + one Glorot-initialised linear layer on [CLS], the loss summed over the
batch), and the Task that fine-tunes GLUE or any such task with it."""

from __future__ import annotations

import dataclasses
import os
import shutil

import torch
from datasets import Dataset, concatenate_datasets
from torch import nn
from transformers import DataCollatorWithPadding, ElectraConfig, ElectraModel
from transformers.modeling_outputs import SequenceClassifierOutput

from ..metrics.glue import glue_metrics, predictions_from_logits
from ..trainer import ElectraTrainer
from .collapse import collapse_reason
from .glue import GlueTask, write_submission
from .heads import ElectraWithTaskHead
from .runner import Task

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


class ClassificationTask(Task):
    """A GLUE task, or any sentence(-pair) classification or regression task (a `GlueTask` definition with
    `custom` columns), fine-tuned as the original: splits with `text_a`/`text_b`/`label`/`idx` columns
    (glue.load_task_splits, glue.load_files), MNLI scored on both dev sets, test predictions as GLUE-server files."""

    model_class = ElectraForClassification

    def __init__(self, definition: GlueTask, splits: dict[str, Dataset], *, max_seq_length: int = 128,
                 double_unordered: bool | None = None, max_train_samples: int | None = None,
                 submission_dir: str | None = None):
        self.definition, self.splits, self.max_seq_length = definition, splits, max_seq_length
        self.name, self.epochs, self.headline = definition.name, definition.epochs, definition.metrics[0]
        self.double_unordered = definition.double_unordered if double_unordered is None else double_unordered
        self.max_train_samples, self.submission_dir = max_train_samples, submission_dir

    def model_kwargs(self) -> dict:
        labels = self.definition.labels
        if labels is None:
            return {"num_labels": 1, "problem_type": "regression"}
        return {"num_labels": len(labels), "problem_type": "single_label_classification",
                "id2label": dict(enumerate(labels)), "label2id": {v: i for i, v in enumerate(labels)}}

    def settings(self) -> dict:
        return {"max_seq_length": self.max_seq_length, "double_unordered": self.double_unordered,
                "max_train_samples": self.max_train_samples}

    def featurize(self, tokenizer) -> dict[str, Dataset]:
        features = {}
        if "train" in self.splits:
            train = self.splits["train"]
            if self.max_train_samples:
                train = train.select(range(min(self.max_train_samples, len(train))))
            features["train"] = encode(double_unordered(train) if self.double_unordered else train, tokenizer,
                                       self.max_seq_length)
        for split in self.definition.eval_splits + self.definition.test_splits:
            if split in self.splits:
                features[split] = sorted_by_length(encode(self.splits[split], tokenizer, self.max_seq_length,
                                                          labelled=split in self.definition.eval_splits))
        return features

    def evaluate(self, trainer, features: dict[str, Dataset], trial_dir: str) -> dict[str, float]:
        definition, metrics = self.definition, {}
        for split in definition.eval_splits + definition.test_splits:
            if split not in features:
                continue
            output = trainer.predict(features[split])
            predictions = predictions_from_logits(output.predictions, definition.is_regression)
            if split in definition.eval_splits:
                prefix = "mm_" if split == "validation_mismatched" else ""
                scores = glue_metrics(definition.metrics, predictions, output.label_ids)
                metrics.update({prefix + name: value for name, value in scores.items()})
            elif trainer.args.should_save:  # kept with the trial's model
                write_submission(os.path.join(trial_dir, "predictions", definition.submission[split]), definition,
                                 features[split]["idx"], predictions)
        return metrics

    def collapse_reason(self, trainer, features: dict[str, Dataset], metrics: dict[str, float]) -> str | None:
        """On the first dev set (MNLI: matched): one class predicted, or the headline within noise of the trivial
        predictor's."""
        split = next((s for s in self.definition.eval_splits if s in features), None)
        if split is None or self.headline not in metrics:
            return None
        output = trainer.predict(features[split])
        predictions = predictions_from_logits(output.predictions, self.definition.is_regression)
        return collapse_reason(predictions, output.label_ids, self.headline, metrics[self.headline],
                               self.definition.is_regression)

    def conclude(self, chosen_dir: str) -> None:
        """The chosen trial's test predictions become the submission files."""
        predictions = os.path.join(chosen_dir, "predictions")
        if self.submission_dir and os.path.isdir(predictions):
            shutil.copytree(predictions, self.submission_dir, dirs_exist_ok=True)


def predict_diagnostic(definition: GlueTask, splits: dict[str, Dataset], model_path: str, tokenizer, training_args,
                       max_seq_length: int, submission_dir: str) -> None:
    """AX, GLUE's diagnostic set, has no training data: an MNLI model predicts it."""
    if "test" not in splits:
        return
    model = ElectraForClassification.from_pretrained(model_path)
    if model.config.num_labels != 3:
        raise ValueError(f"AX needs an MNLI model (3 labels); {model_path} has {model.config.num_labels}.")
    args = dataclasses.replace(training_args, output_dir=os.path.join(training_args.output_dir, "ax"))
    trainer = ElectraTrainer(model=model, args=args, processing_class=tokenizer,
                             data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8))
    dataset = sorted_by_length(encode(splits["test"], tokenizer, max_seq_length, labelled=False))
    predictions = predictions_from_logits(trainer.predict(dataset).predictions, regression=False)
    write_submission(os.path.join(submission_dir, definition.submission["test"]), definition, dataset["idx"],
                     predictions)
