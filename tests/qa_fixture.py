"""A learnable question-answering fixture in SQuAD json and MRQA jsonl: "what colour was the door painted?"
over filler sentences, with the answer (a colour word, found nowhere else) in one sentence, or absent for
unanswerable questions."""

from __future__ import annotations

import json
import os
import random

from .conftest import synthetic_sentences

COLOURS = ["red", "blue", "green", "yellow", "purple", "orange", "black", "white", "grey", "pink", "brown", "silver"]
QUESTION = "what colour was the door painted?"


def make_questions(n: int, seed: int, unanswerable: float = 0.0, sentences: int = 4) -> list[dict]:
    """Rows with id, question, context, answer (text, answer_start) or None."""
    rng = random.Random(seed)
    fillers = synthetic_sentences(n * sentences, seed=seed)
    rows = []
    for i in range(n):
        parts = fillers[i * sentences:(i + 1) * sentences]
        answer = None
        if rng.random() >= unanswerable:
            colour = rng.choice(COLOURS)
            position = rng.randrange(len(parts) + 1)
            before = " ".join(parts[:position])
            sentence = f"The door was painted {colour}."
            answer = {"text": colour, "answer_start": len(before) + (1 if before else 0) + len("The door was painted ")}
            parts = parts[:position] + [sentence] + parts[position:]
        context = " ".join(parts)
        if answer:
            assert context[answer["answer_start"]:].startswith(answer["text"])
        rows.append({"id": f"q{seed}-{i}", "question": QUESTION, "context": context, "answer": answer})
    return rows


def write_squad(path: str, rows: list[dict], version: str = "v2.0") -> str:
    paragraphs = [{"context": row["context"], "qas": [{
        "id": row["id"], "question": row["question"], "answers": [row["answer"]] if row["answer"] else [],
        **({"is_impossible": row["answer"] is None} if version.startswith("v2") else {})}]} for row in rows]
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"version": version, "data": [{"title": "fixture", "paragraphs": paragraphs}]}, f)
    return path


def write_mrqa(path: str, rows: list[dict]) -> str:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps({"header": {"dataset": "fixture", "split": "train"}}) + "\n")
        for row in rows:
            answer = row["answer"]
            start = answer["answer_start"]
            f.write(json.dumps({"context": row["context"], "qas": [{
                "qid": row["id"], "question": row["question"], "answers": [answer["text"].upper()],
                "detected_answers": [{"text": answer["text"],
                                      "char_spans": [[start, start + len(answer["text"]) - 1]]}]}]}) + "\n")
    return path
