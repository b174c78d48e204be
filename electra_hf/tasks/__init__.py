"""Fine-tuning tasks: GLUE-style classification and regression."""

from .classification import (
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
    get_task,
    load_files,
    load_glue_hub,
    load_task_splits,
    read_glue_tsv,
    write_submission,
)

__all__ = ["GLUE_TASKS", "TRAINABLE_TASKS", "ElectraForClassification", "GlueTask", "double_unordered", "encode",
           "featurize", "get_task", "load_files", "load_glue_hub", "load_task_splits", "read_glue_tsv",
           "sorted_by_length", "truncate_pair", "write_submission"]
