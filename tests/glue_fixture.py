"""A small GLUE download (the real files' headers and column layouts) whose labels follow simple rules, so a
tiny model can learn them: single sentences by a keyword, pairs by the second sentence's keyword, STS-B by
how many times "very" occurs."""

import os
import random

WORDS = ["the", "house", "river", "letter", "walk", "garden", "morning", "friend", "village", "road", "ship"]
HEADERS = {
    "SST-2": ("sentence\tlabel", "index\tsentence"),
    "MRPC": ("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String", "index\t#1 ID\t#2 ID\t#1 String\t#2 String"),
    "STS-B": ("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
              "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"),
    "QQP": ("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate", "id\tquestion1\tquestion2"),
    "QNLI": ("index\tquestion\tsentence\tlabel", "index\tquestion\tsentence"),
    "RTE": ("index\tsentence1\tsentence2\tlabel", "index\tsentence1\tsentence2"),
    "WNLI": ("index\tsentence1\tsentence2\tlabel", "index\tsentence1\tsentence2"),
}
MNLI_HEAD = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
             "sentence2_parse\tsentence1\tsentence2")


def _sentence(rng, keyword=None, n=6):
    words = [rng.choice(WORDS) for _ in range(n)]
    if keyword:
        words.insert(rng.randrange(len(words)), keyword)
    return " ".join(words)


def write_glue(root, n_train=64, n_eval=24, n_test=8, seed=0):
    rng = random.Random(seed)
    os.makedirs(root, exist_ok=True)

    def write(folder, name, lines):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
        with open(os.path.join(root, folder, name), "w") as f:
            f.write("\n".join(lines) + "\n")

    for split, n in (("train", n_train), ("dev", n_eval)):
        rows = [(rng.randint(0, 1),) for _ in range(n)]
        write("CoLA", f"{split}.tsv", [f"gj04\t{y}\t\t{_sentence(rng, 'good' if y else 'bad')}" for (y,) in rows])
        write("SST-2", f"{split}.tsv", [HEADERS["SST-2"][0]] + [
            f"{_sentence(rng, 'good' if y else 'bad')}\t{y}" for (y,) in rows])
        pair = [(y, _sentence(rng), _sentence(rng, "yes" if y else "no")) for (y,) in rows]
        write("MRPC", f"{split}.tsv", [HEADERS["MRPC"][0]] + [f"{y}\t1\t2\t{a}\t{b}" for y, a, b in pair])
        write("QQP", f"{split}.tsv", [HEADERS["QQP"][0]] + [f"{i}\t1\t2\t{a}\t{b}\t{y}" for i, (y, a, b) in enumerate(pair)])
        for task, labels in (("QNLI", ("entailment", "not_entailment")), ("RTE", ("entailment", "not_entailment")),
                             ("WNLI", ("0", "1"))):
            write(task, f"{split}.tsv", [HEADERS[task][0]] + [
                f"{i}\t{a}\t{b}\t{labels[1 - y]}" for i, (y, a, b) in enumerate(pair)])
        scores = [rng.randint(0, 5) for _ in range(n)]
        write("STS-B", f"{split}.tsv", [HEADERS["STS-B"][0]] + [
            f"{i}\tmain\tf\t2012\t{i}\tnone\tnone\t{_sentence(rng)}\t{' '.join(['very'] * s + [_sentence(rng, n=3)])}"
            f"\t{s:.3f}" for i, s in enumerate(scores)])
        mnli_labels = ["contradiction", "entailment", "neutral"]
        keys = {"contradiction": "no", "entailment": "yes", "neutral": "maybe"}
        for name in (["train.tsv"] if split == "train" else ["dev_matched.tsv", "dev_mismatched.tsv"]):
            extra = "\tlabel1" if split == "train" else "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5"
            lines = [MNLI_HEAD + extra + "\tgold_label"]
            for i in range(n):
                label = rng.choice(mnli_labels)
                votes = "\t" + "\t".join([label] * (1 if split == "train" else 5))
                lines.append(f"{i}\t0\t0\tfiction\t()\t()\t()\t()\t{_sentence(rng)}\t{_sentence(rng, keys[label])}"
                             f"{votes}\t{label}")
            write("MNLI", name, lines)
    tests = [(_sentence(rng), _sentence(rng, rng.choice(["yes", "no"]))) for _ in range(n_test)]
    write("CoLA", "test.tsv", ["index\tsentence"] + [f"{i}\t{a}" for i, (a, _) in enumerate(tests)])
    write("SST-2", "test.tsv", [HEADERS["SST-2"][1]] + [f"{i}\t{a}" for i, (a, _) in enumerate(tests)])
    write("MRPC", "test.tsv", [HEADERS["MRPC"][1]] + [f"{i}\t1\t2\t{a}\t{b}" for i, (a, b) in enumerate(tests)])
    write("QQP", "test.tsv", [HEADERS["QQP"][1]] + [f"{i}\t{a}\t{b}" for i, (a, b) in enumerate(tests)])
    for task in ("QNLI", "RTE", "WNLI"):
        write(task, "test.tsv", [HEADERS[task][1]] + [f"{i}\t{a}\t{b}" for i, (a, b) in enumerate(tests)])
    write("STS-B", "test.tsv", [HEADERS["STS-B"][1]] + [
        f"{i}\tmain\tf\t2012\t{i}\tnone\tnone\t{a}\t{b}" for i, (a, b) in enumerate(tests)])
    for name in ("test_matched.tsv", "test_mismatched.tsv"):
        write("MNLI", name, [MNLI_HEAD] + [f"{i}\t0\t0\tfiction\t()\t()\t()\t()\t{a}\t{b}"
                                           for i, (a, b) in enumerate(tests)])
    write("diagnostic", "diagnostic.tsv", ["index\tsentence1\tsentence2"] + [
        f"{i}\t{a}\t{b}" for i, (a, b) in enumerate(tests)])
    return root
