"""Tagging against the original (finetune/tagging/*): the CoNLL reader, BIOES both ways, first-sub-token labels with the
original's truncation rule, span F1 by hand, the head's loss, and run_tagging.py end to end on a learnable fixture."""

import json
import os
import random

import pytest
import torch
from datasets import Dataset

import run_tagging
from electra_hf.tasks.tagging import (
    IGNORE,
    ElectraForTagging,
    featurize_tagging,
    label_set,
    read_conll,
    span_f1,
    span_labels,
    tags_from_spans,
    to_bioes,
)


def write(path, text):
    path.write_text(text)
    return str(path)


def test_reader(tmp_path):
    text = "-DOCSTART- -X- O\n\nHe PRP B-NP  \nsaw VBD B-VP\t\n\n\n\nit PRP B-NP\n.  . O\n"  # trailing spaces/tabs
    data = read_conll(write(tmp_path / "a.txt", text))
    assert data["tokens"] == [["He", "saw"], ["it", "."]] and data["tags"] == [["B-NP", "B-VP"], ["B-NP", "O"]]
    words = read_conll(write(tmp_path / "w.txt", "He\nsaw\n\nit\n"))
    assert words.column_names == ["tokens"] and words["tokens"] == [["He", "saw"], ["it"]]
    with pytest.raises(ValueError, match="line 2: 2 columns where the file's first line has 3"):
        read_conll(write(tmp_path / "b.txt", "He PRP B-NP\nsaw B-VP\n"))
    with pytest.raises(ValueError, match="has no sentences"):
        read_conll(write(tmp_path / "c.txt", "\n-DOCSTART- O\n\n"))


def test_bioes_both_ways():
    iob2 = ["B-NP", "I-NP", "O", "B-VP", "B-NP", "I-NP", "I-NP", "B-PP"]
    spans = [(0, 1, "NP"), (3, 3, "VP"), (4, 6, "NP"), (7, 7, "PP")]
    assert span_labels(iob2) == spans
    bioes = to_bioes(iob2)
    assert bioes == ["B-NP", "E-NP", "O", "S-VP", "B-NP", "I-NP", "E-NP", "S-PP"]
    assert span_labels(bioes) == spans and tags_from_spans(spans, 8) == bioes
    assert span_labels(["I-NP", "I-NP", "O", "I-VP"]) == [(0, 1, "NP"), (3, 3, "VP")]  # IOB1: I after O starts
    assert span_labels(["O", "O"]) == [] and span_labels([]) == []
    train = Dataset.from_dict({"tags": [iob2], "tokens": [["w"] * 8]})
    assert label_set(train) == ["B-NP", "E-NP", "I-NP", "O", "S-PP", "S-VP"]  # sorted, as the original


def test_first_sub_token_labels_and_truncation(tokenizer):
    words = ["unaffable", "cat", "saw", "Müller's", "dog"]  # una ##ffa ##ble | cat | saw | muller ' s | dog
    tags = ["B-NP", "I-NP", "B-VP", "B-NP", "I-NP"]
    label_ids = {t: i for i, t in enumerate(label_set(Dataset.from_dict(
        {"tokens": [words], "tags": [tags]})))}
    batch = {"tokens": [words], "tags": [tags]}
    full = featurize_tagging(batch, tokenizer, label_ids, max_seq_length=64)
    tokens = tokenizer.convert_ids_to_tokens(full["input_ids"][0])
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    positions = full["word_positions"][0]
    assert [tokens[p] for p in positions][1:] == ["cat", "saw", "muller", "dog"] and positions[0] == 1
    assert full["token_type_ids"][0] == [1] * len(tokens)  # segment 1 everywhere, as the original
    labels = full["labels"][0]
    assert [labels[p] for p in positions] == [label_ids[t] for t in to_bioes(tags)]
    assert sum(label != IGNORE for label in labels) == 5
    # the original's rule: keep a word while 5 words + 2 + tokens so far + 1 <= max_len. With 12: before "cat"
    # there are 4 tokens ([CLS] una ##ffa ##ble): 12, kept; before "saw" 5: 13, cut (though 7 tokens would fit)
    cut = featurize_tagging(batch, tokenizer, label_ids, max_seq_length=12)
    assert cut["word_positions"][0] == [1, 4, -1, -1, -1] and cut["input_ids"][0][-1] == tokenizer.sep_token_id
    assert len(cut["input_ids"][0]) == 6 and sum(label != IGNORE for label in cut["labels"][0]) == 2


def test_span_f1_by_hand():
    gold = [["B-NP", "E-NP", "O", "S-VP"], ["S-NP"]]
    predicted = [["B-NP", "E-NP", "O", "S-NP"], ["O"]]  # 1 right of 2 predicted, of 3 gold
    result = span_f1(gold, predicted)
    assert result["precision"] == pytest.approx(50.0) and result["recall"] == pytest.approx(100 / 3)
    assert result["f1"] == pytest.approx(2 * 50 * (100 / 3) / (50 + 100 / 3))
    assert span_f1(gold, [["O"] * 4, ["O"]]) == {"f1": 0.0, "precision": 0.0, "recall": 0.0}


def test_head_loss_is_summed_over_words(discriminator):
    model = ElectraForTagging.from_pretrained(discriminator, num_labels=3).eval()
    input_ids = torch.tensor([[101, 2000, 2001, 2002, 102], [101, 2003, 102, 0, 0]])
    labels = torch.tensor([[IGNORE, 0, IGNORE, 2, IGNORE], [IGNORE, 1, IGNORE, IGNORE, IGNORE]])
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=(input_ids > 0).long(), labels=labels)
    log_probs = out.logits.log_softmax(-1)
    expected = -(log_probs[0, 1, 0] + log_probs[0, 3, 2] + log_probs[1, 1, 1])
    assert torch.allclose(out.loss, expected, atol=1e-5)
    weight = model.classifier.weight
    assert weight.abs().max() <= (6 / (weight.shape[0] + weight.shape[1])) ** 0.5  # Glorot-uniform bound


CHUNKS = {"the": "B-NP", "a": "B-NP", "cat": "I-NP", "dog": "I-NP", "house": "I-NP", "garden": "I-NP",
          "saw": "B-VP", "liked": "B-VP", "in": "B-PP", "near": "B-PP", ".": "O"}


def chunk_file(path, n, seed):
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        words = [rng.choice(["the", "a"]), rng.choice(["cat", "dog"]), rng.choice(["saw", "liked"]),
                 rng.choice(["the", "a"]), rng.choice(["house", "garden"]), rng.choice(["in", "near"]),
                 rng.choice(["the", "a"]), rng.choice(["house", "garden"]), "."]
        lines += [f"{w} X {CHUNKS[w]}" for w in words] + [""]
    return write(path, "-DOCSTART- -X- O\n\n" + "\n".join(lines) + "\n")


def test_run_tagging_end_to_end(tmp_path, discriminator):
    train, dev = chunk_file(tmp_path / "train.txt", 200, 0), chunk_file(tmp_path / "dev.txt", 40, 1)
    common = ["--per_device_train_batch_size", "16", "--learning_rate", "2e-3", "--num_train_epochs", "3",
              "--report_to", "none", "--disable_tqdm", "true", "--use_cpu", "true", "--dataloader_num_workers", "0"]
    results = run_tagging.main(["--model_name_or_path", discriminator, "--train_file", train, "--validation_file",
                                dev, "--output_dir", str(tmp_path / "out"), *common])
    assert results["trials"][0]["f1"] > 80  # the all-O baseline scores 0
    trial = tmp_path / "out" / "trial_0"
    lines = [line.split() for line in open(trial / "validation_predictions.txt") if line.strip()]
    assert len(lines) == 40 * 9 and all(len(fields) == 3 for fields in lines)
    assert sum(fields[1] == fields[2] for fields in lines) > 0.8 * len(lines)  # gold and predicted, in IOB2
    config = json.load(open(trial / "config.json"))
    assert "S-VP" in config["label2id"] and "E-NP" in config["label2id"]

    words = write(tmp_path / "words.txt", "the cat saw a house near the garden .\n".replace(" ", "\n"))
    run_tagging.main(["--model_name_or_path", str(trial), "--do_predict", "--test_file", words, "--output_dir",
                      str(tmp_path / "pred"), *common])
    predicted = [line.split() for line in open(tmp_path / "pred" / "trial_0" / "test_predictions.txt") if line.strip()]
    assert [fields[0] for fields in predicted] == "the cat saw a house near the garden .".split()
    assert [fields[1] for fields in predicted] == ["B-NP", "I-NP", "B-VP", "B-NP", "I-NP", "B-PP", "B-NP", "I-NP", "O"]
    assert not os.path.exists(tmp_path / "pred" / "trial_0" / "model.safetensors")

    unknown = write(tmp_path / "unknown.txt", "the X B-ADJP\ncat X O\n")
    with pytest.raises(ValueError, match="tags the model was not trained with: \\['S-ADJP'\\]"):
        run_tagging.main(["--model_name_or_path", str(trial), "--do_eval", "--validation_file", unknown,
                          "--output_dir", str(tmp_path / "unk"), *common])
    with pytest.raises(ValueError, match="--do_predict needs --test_file"):
        run_tagging.main(["--model_name_or_path", str(trial), "--do_predict", "--output_dir", str(tmp_path / "x")])
