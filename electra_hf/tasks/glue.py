"""GLUE: the tasks, their data (the GLUE download's TSVs read as the original reads them, the Hub's
`nyu-mll/glue`, or csv/tsv/json files with named columns) and the GLUE-server submission files (read as
classification_tasks.py reads them)."""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass, field

import datasets
from datasets import Dataset

from ..data.text_files import dataset_error, reading

logger = logging.getLogger(__name__)

csv.field_size_limit(2**31 - 1)  # some GLUE rows (QNLI) are long


@dataclass(frozen=True)
class Columns:
    """Where a split's fields are in its TSV rows (indices may be negative); `header`: skip the first line."""

    a: int
    b: int | None = None
    label: int | None = None
    index: int | None = None
    header: bool = True


@dataclass(frozen=True)
class GlueTask:
    name: str
    labels: tuple[str, ...] | None  # None: regression
    glue_dir: str  # the GLUE download's folder
    original_dir: str  # the original code's renamed folder
    train: Columns
    test: Columns
    hub_keys: tuple[str, str | None]
    metrics: tuple[str, ...]  # the first is the headline (the original README's), used to choose a trial
    submission: dict[str, str] = field(default_factory=dict)  # split -> GLUE-server file name
    epochs: int = 3
    double_unordered: bool = False
    max_value: float = 1.0  # regression targets are divided by it (the original: (y - 0) / 5)

    @property
    def is_regression(self) -> bool:
        return self.labels is None

    @property
    def eval_splits(self) -> tuple[str, ...]:
        return ("validation_matched", "validation_mismatched") if self.name == "mnli" else ("validation",)

    @property
    def test_splits(self) -> tuple[str, ...]:
        return tuple(self.submission)


PAIR = Columns(a=1, b=2, label=3)
PAIR_TEST = Columns(a=1, b=2, index=0)
GLUE_TASKS: dict[str, GlueTask] = {task.name: task for task in [
    GlueTask("cola", ("0", "1"), "CoLA", "cola", Columns(a=3, label=1, header=False), Columns(a=1, index=0),
             ("sentence", None), ("mcc",), {"test": "CoLA.tsv"}),
    GlueTask("sst2", ("0", "1"), "SST-2", "sst", Columns(a=0, label=1), Columns(a=1, index=0),
             ("sentence", None), ("accuracy",), {"test": "SST-2.tsv"}),
    GlueTask("mrpc", ("0", "1"), "MRPC", "mrpc", Columns(a=3, b=4, label=0), Columns(a=3, b=4, index=0),
             ("sentence1", "sentence2"), ("accuracy", "f1"), {"test": "MRPC.tsv"}, double_unordered=True),
    GlueTask("stsb", None, "STS-B", "sts", Columns(a=-3, b=-2, label=-1), Columns(a=-2, b=-1, index=0),
             ("sentence1", "sentence2"), ("spearman", "pearson"), {"test": "STS-B.tsv"}, epochs=10,
             double_unordered=True, max_value=5.0),
    GlueTask("qqp", ("0", "1"), "QQP", "qqp", Columns(a=3, b=4, label=5), Columns(a=1, b=2, index=0),
             ("question1", "question2"), ("accuracy", "f1"), {"test": "QQP.tsv"}),
    GlueTask("mnli", ("contradiction", "entailment", "neutral"), "MNLI", "mnli", Columns(a=8, b=9, label=-1),
             Columns(a=8, b=9, index=0), ("premise", "hypothesis"), ("accuracy",),
             {"test_matched": "MNLI-m.tsv", "test_mismatched": "MNLI-mm.tsv"}),
    GlueTask("qnli", ("entailment", "not_entailment"), "QNLI", "qnli", PAIR, PAIR_TEST, ("question", "sentence"),
             ("accuracy",), {"test": "QNLI.tsv"}),
    GlueTask("rte", ("entailment", "not_entailment"), "RTE", "rte", PAIR, PAIR_TEST, ("sentence1", "sentence2"),
             ("accuracy",), {"test": "RTE.tsv"}, epochs=10),
    GlueTask("wnli", ("0", "1"), "WNLI", "wnli", PAIR, PAIR_TEST, ("sentence1", "sentence2"), ("accuracy",),
             {"test": "WNLI.tsv"}),
    # the diagnostic set: test-only, predicted by the MNLI model
    GlueTask("ax", ("contradiction", "entailment", "neutral"), "diagnostic", "mnli", PAIR, PAIR_TEST,
             ("premise", "hypothesis"), ("accuracy",), {"test": "AX.tsv"}),
]}
TRAINABLE_TASKS = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")
# the original's names for the same tasks
TASK_ALIASES = {"sst": "sst2", "sts": "stsb", "sts-b": "stsb", "sst-2": "sst2", "diagnostic": "ax",
                "mnli-m": "mnli"}


def get_task(name: str) -> GlueTask:
    key = TASK_ALIASES.get(name.lower(), name.lower())
    if key not in GLUE_TASKS:
        raise ValueError(f"unknown GLUE task {name!r}: choose from {', '.join(GLUE_TASKS)} or 'all'.")
    return GLUE_TASKS[key]


def _split_file(task: GlueTask, split: str, glue_dir: str) -> str:
    """The TSV of a split in the GLUE download layout (CoLA/train.tsv ...) or the original's renamed one."""
    if task.name == "ax":
        candidates = [os.path.join(glue_dir, "diagnostic", "diagnostic.tsv"), os.path.join(glue_dir, "AX.tsv"),
                      os.path.join(glue_dir, "mnli", "diagnostic.tsv"),
                      os.path.join(glue_dir, "MNLI", "diagnostic.tsv")]
    else:
        name = split.replace("validation", "dev") + ".tsv"
        candidates = [os.path.join(glue_dir, folder, name) for folder in (task.glue_dir, task.original_dir)]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"no {split} file for {task.name} in {glue_dir}: looked for {', '.join(candidates)}.")


def read_glue_tsv(task: GlueTask, split: str, glue_dir: str, max_bad_rows: int = 100) -> Dataset:
    """A split of the GLUE download as the original reads it (tab-separated, no quoting, fixed columns).

    Rows with too few columns, or a label outside the task's set, are skipped and counted; more than
    `max_bad_rows` of them is an error naming the file and the first bad lines.
    """
    path = _split_file(task, split, glue_dir)
    columns = task.test if split.startswith("test") else task.train
    rows = {"text_a": [], "text_b": [], "label": [], "idx": []}
    bad = []
    with reading(path), open(path, encoding="utf-8", newline="") as f:
        lines = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not lines:
        raise ValueError(f"{path} is empty.")
    for line_no, line in enumerate(lines, start=1):
        if line_no == 1 and columns.header:
            continue
        try:
            text_a = line[columns.a]
            text_b = line[columns.b] if columns.b is not None else None
            label = -1
            if columns.label is not None:
                label = _label_id(task, line[columns.label])
            index = int(line[columns.index]) if columns.index is not None else len(rows["idx"])
        except (IndexError, ValueError) as err:
            bad.append(f"line {line_no}: {err}")
            continue
        rows["text_a"].append(text_a)
        rows["text_b"].append(text_b)
        rows["label"].append(label)
        rows["idx"].append(index)
    if len(bad) > max_bad_rows:
        raise ValueError(f"{path}: {len(bad)} malformed rows (more than --max_bad_rows {max_bad_rows}); first: "
                         + "; ".join(bad[:5]))
    if bad:
        logger.warning("%s: skipped %d malformed rows (%s)", path, len(bad), "; ".join(bad[:5]))
    if not rows["idx"]:
        raise ValueError(f"{path} has no usable rows.")
    return Dataset.from_dict(rows)


def _label_id(task: GlueTask, value: str) -> float | int:
    if task.is_regression:
        target = float(value)
        if not 0.0 <= target <= task.max_value:
            raise ValueError(f"score {target} outside [0, {task.max_value}]")
        return target / task.max_value
    if value not in task.labels:
        raise ValueError(f"label {value!r} is not one of {list(task.labels)}")
    return task.labels.index(value)


def load_glue_hub(task: GlueTask, split: str, dataset_name: str = "nyu-mll/glue", cache_dir: str | None = None
                  ) -> Dataset:
    """A split of GLUE from the Hub, with the same columns and label ids as `read_glue_tsv`."""
    raw = datasets.load_dataset(dataset_name, task.name, split=split, cache_dir=cache_dir)
    key_a, key_b = task.hub_keys
    names = raw.features["label"].names if hasattr(raw.features["label"], "names") else None

    def convert(row):
        label = row["label"]
        if split.startswith("test") or label == -1:
            label = -1
        elif task.is_regression:
            label = float(label) / task.max_value
        else:  # by name where the Hub's names are the task's labels (MNLI's order differs), else by value
            name = names[label] if names and names[label] in task.labels else str(label)
            label = task.labels.index(name)
        return {"text_a": row[key_a], "text_b": row[key_b] if key_b else None, "label": label, "idx": row["idx"]}

    return raw.map(convert, remove_columns=raw.column_names)


def load_files(path: str, key_a: str, key_b: str | None, key_label: str | None,
               labels: tuple[str, ...] | None) -> Dataset:
    """A csv/tsv/json(l) file with named columns, as a split with the GLUE splits' columns."""
    raw = read_columns(path)
    for key in (key_a, key_b):
        if key and key not in raw.column_names:
            raise ValueError(f"{path} has no column {key!r} (columns: {raw.column_names}).")
    has_labels = key_label is not None and key_label in raw.column_names

    def convert(row, index):
        label = -1
        if has_labels:
            value = row[key_label]
            if labels is None:
                label = float(value)
            elif str(value) not in labels:
                raise ValueError(f"{path} row {index + 1}: label {value!r} is not one of {list(labels)}")
            else:
                label = labels.index(str(value))
        return {"text_a": row[key_a], "text_b": row[key_b] if key_b else None, "label": label, "idx": index}

    # explicit features: datasets would otherwise keep a text label column's string type for the label ids
    features = datasets.Features({"text_a": datasets.Value("string"), "text_b": datasets.Value("string"),
                                  "label": datasets.Value("float32" if labels is None else "int64"),
                                  "idx": datasets.Value("int64")})
    return raw.map(convert, with_indices=True, remove_columns=raw.column_names, features=features)


def load_task_splits(task: GlueTask, *, glue_dir: str | None = None, dataset_name: str = "nyu-mll/glue",
                     cache_dir: str | None = None, max_bad_rows: int = 100) -> dict[str, Dataset]:
    """The task's train, evaluation and test splits (AX: test only) from a GLUE download (`glue_dir`) or the
    Hub. Test splits are optional (missing ones are reported and skipped); the others must exist."""
    wanted = task.test_splits if task.name == "ax" else ("train", *task.eval_splits, *task.test_splits)
    splits = {}
    for split in wanted:
        try:
            splits[split] = (read_glue_tsv(task, split, glue_dir, max_bad_rows) if glue_dir
                             else load_glue_hub(task, split, dataset_name, cache_dir))
        except FileNotFoundError as err:
            if not split.startswith("test"):
                raise
            logger.warning("No %s split for %s (%s): no submission file for it.", split, task.name, err)
    return splits


def write_submission(path: str, task: GlueTask, indices, predictions) -> None:
    """A GLUE-server file: `index<TAB>prediction`, labels by name (scores clipped to [0, 5] for STS-B)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("index\tprediction\n")
        for index, prediction in zip(indices, predictions):
            if task.is_regression:
                value = f"{min(max(float(prediction) * task.max_value, 0.0), task.max_value):.3f}"
            else:
                value = task.labels[int(prediction)]
            f.write(f"{int(index)}\t{value}\n")


def read_columns(path: str) -> datasets.Dataset:
    """A csv/tsv/json(l) file as it is (the columns of a task of your own)."""
    ext = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no file at {path!r}.")
    kind = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json"}.get(ext)
    if kind is None:
        raise ValueError(f"{path}: use a .csv, .tsv, .json or .jsonl file.")
    try:
        raw = datasets.load_dataset(kind, data_files=path, split="train",
                                    **({"delimiter": "\t"} if ext == ".tsv" else {}))
    except datasets.exceptions.DatasetGenerationError as err:
        raise dataset_error(path, err) from None
    if len(raw) == 0:
        raise ValueError(f"{path} is empty.")
    return raw


def text_columns(columns: list[str], label: str) -> tuple[str, str | None]:
    """As transformers' run_glue.py infers them: sentence1/sentence2 when both exist, else the first one or two
    columns other than the label."""
    others = [name for name in columns if name != label]
    if "sentence1" in others and "sentence2" in others:
        return "sentence1", "sentence2"
    if not others:
        raise ValueError(f"no text column besides the label {label!r} (columns: {columns}).")
    return others[0], others[1] if len(others) > 1 else None


def custom_task(train_file: str | None, validation_file: str | None, test_file: str | None = None,
                sentence1_key: str | None = None, sentence2_key: str | None = None, label_key: str = "label",
                regression: bool | None = None) -> tuple[GlueTask, dict[str, Dataset]]:
    """A task of your own from files: its definition (labels from the training file, the text columns and
    regression inferred unless given) and its splits."""
    if not train_file or not validation_file:
        raise ValueError("a task of your own needs --train_file and --validation_file.")
    train = read_columns(train_file)
    if label_key not in train.column_names:
        raise ValueError(f"{train_file} has no column {label_key!r} (columns: {train.column_names}): pass "
                         "--label_key.")
    if sentence1_key is None:
        sentence1_key, inferred_second = text_columns(train.column_names, label_key)
        sentence2_key = sentence2_key or inferred_second
        logger.info("Text columns: %s", ", ".join(filter(None, (sentence1_key, sentence2_key))))
    if regression is None:
        regression = train.features[label_key].dtype in ("float32", "float64")
    labels = None if regression else tuple(sorted({str(v) for v in train[label_key]}))
    task = GlueTask("custom", labels, "", "", None, None, (sentence1_key, sentence2_key),
                    ("spearman", "pearson") if regression else ("accuracy",), {"test": "custom.tsv"} if test_file else {})
    files = {"train": train_file, "validation": validation_file, "test": test_file}
    return task, {split: load_files(path, sentence1_key, sentence2_key, label_key if split != "test" else None, labels)
                  for split, path in files.items() if path}
