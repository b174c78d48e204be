"""Extractive question answering as a Task: the original's SQuAD 1.1/2.0 and MRQA fine-tuning
(finetune/qa/qa_tasks.py): sliding windows, the span head, answers from the beam, the official scores."""

from __future__ import annotations

import logging
import os

from datasets import Dataset

from ..metrics.qa import mrqa_metrics, squad_v1_metrics, squad_v2_metrics
from .qa_data import check_training_examples, prepare_features
from .qa_model import ElectraForSpanQuestionAnswering
from .qa_predictions import OUTPUT_NAMES, QAPredictions, predict_answers
from .runner import Task

logger = logging.getLogger(__name__)
QA_EPOCHS = 2  # the original's epochs for any task named *squad* or *qa* (configure_finetuning.py)


class QuestionAnsweringTask(Task):
    """SQuAD 1.1 (`kind="squad"`), SQuAD 2.0 (`"squad_v2"`: questions may have no answer) or MRQA (`"mrqa"`)
    examples (qa_data.load_qa_file / load_qa_hub), scored on "validation"; every split's answers are written
    under the trial (predictions.json, nbest_predictions.json, null_odds.json for SQuAD 2.0)."""

    model_class = ElectraForSpanQuestionAnswering
    epochs = QA_EPOCHS
    headline = "f1"

    def __init__(self, splits: dict[str, Dataset], config, kind: str, *, max_seq_length: int = 512,
                 doc_stride: int = 128, max_query_length: int = 64, n_best_size: int = 20, max_answer_length: int = 30,
                 null_score_threshold: float = -2.75, num_proc: int | None = None,
                 max_train_samples: int | None = None):
        self.splits, self.config, self.name = splits, config, kind
        self.window = {"max_seq_length": max_seq_length, "doc_stride": doc_stride,
                       "max_query_length": max_query_length}
        self.n_best_size, self.max_answer_length, self.null_score_threshold = (n_best_size, max_answer_length,
                                                                               null_score_threshold)
        self.num_proc, self.max_train_samples = num_proc, max_train_samples

    @property
    def version_2(self) -> bool:
        return self.name == "squad_v2"

    def model_kwargs(self) -> dict:
        return {"config": self.config}

    def settings(self) -> dict:
        return {**self.window, "max_train_samples": self.max_train_samples,
                **{k: v for k, v in self.config.to_dict().items() if k.startswith("qa_")}}

    def featurize(self, tokenizer) -> dict[str, Dataset]:
        window = {"tokenizer": tokenizer, **self.window, "num_proc": self.num_proc}
        features = {}
        if "train" in self.splits:
            train = self.splits["train"]
            if self.max_train_samples:
                train = train.select(range(min(self.max_train_samples, len(train))))
            features["train"] = prepare_features(check_training_examples(train, self.version_2), training=True,
                                                 **window)
        for split in ("validation", "test"):
            if split in self.splits:
                features[split] = prepare_features(self.splits[split], training=False, **window)
        return features

    def answer(self, trainer, split: str, features: Dataset) -> QAPredictions:
        outputs = dict(zip(OUTPUT_NAMES, trainer.predict(features).predictions))
        return predict_answers(self.splits[split], features, outputs, version_2_with_negative=self.version_2,
                               answerable_classifier=trainer.model.config.qa_answerable_classifier,
                               n_best_size=self.n_best_size, max_answer_length=self.max_answer_length,
                               null_threshold=self.null_score_threshold)

    def score(self, examples: Dataset, predictions: QAPredictions) -> dict[str, float]:
        references = dict(zip(examples["id"], examples["references"]))
        if self.name == "squad_v2":
            return squad_v2_metrics(references, predictions.best_non_null, predictions.null_odds,
                                    self.null_score_threshold)
        return (mrqa_metrics if self.name == "mrqa" else squad_v1_metrics)(references, predictions.answers)

    def evaluate(self, trainer, features: dict[str, Dataset], trial_dir: str) -> dict[str, float]:
        metrics = {}
        for split in ("validation", "test"):
            if split not in features:
                continue
            predictions = self.answer(trainer, split, features[split])
            if trainer.args.should_save:
                paths = predictions.save(os.path.join(trial_dir, split))
                logger.info("%s answers: %s", split, ", ".join(paths))
            if split == "validation":
                metrics = self.score(self.splits[split], predictions)
        return metrics
