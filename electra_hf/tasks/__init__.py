"""Fine-tuning tasks: GLUE-style classification and regression, extractive question answering, tagging."""

from .classification import (
    ClassificationTask,
    ElectraForClassification,
    double_unordered,
    encode,
    featurize,
    sorted_by_length,
    truncate_pair,
)
from .glue import (
    GLUE_TASKS,
    TRAINABLE_TASKS,
    GlueTask,
    custom_task,
    get_task,
    load_files,
    load_glue_hub,
    load_task_splits,
    read_glue_tsv,
    write_submission,
)
from .qa_model import ElectraForSpanQuestionAnswering, qa_config
from .tagging import ElectraForTagging

__all__ = [
    "GLUE_TASKS",
    "TRAINABLE_TASKS",
    "ClassificationTask",
    "ElectraForClassification",
    "ElectraForSpanQuestionAnswering",
    "ElectraForTagging",
    "GlueTask",
    "custom_task",
    "double_unordered",
    "encode",
    "featurize",
    "get_task",
    "load_files",
    "load_glue_hub",
    "load_task_splits",
    "qa_config",
    "read_glue_tsv",
    "sorted_by_length",
    "truncate_pair",
    "write_submission",
]
