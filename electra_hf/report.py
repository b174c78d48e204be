"""What a pre-trained pair does, shown to a person: each metric beside its trivial baseline, held-out sentences
with the generator's replacements and the discriminator's verdict on every token, and the training curves."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from .collators import DataCollatorForElectra
from .modeling import ElectraPretrainingModel, scatter_samples

# The metrics a run reports, with a reading of each and how its trivial baseline is made.
METRICS = {
    "masked_lm_accuracy": ("generator accuracy", "always the most frequent token"),
    "sampled_masked_lm_accuracy": ("generator sample = original", "samples from the unigram distribution"),
    "masked_lm_loss": ("generator loss (nats)", "the unigram distribution"),
    "disc_accuracy": ("discriminator accuracy", "always \"original\""),
    "disc_precision": ("discriminator precision", "always \"original\" (never flags)"),
    "disc_recall": ("discriminator recall", "always \"original\""),
    "disc_auc": ("discriminator ROC AUC", "a constant score"),
}


def maskable_token_counts(examples, config) -> np.ndarray:
    """How often each vocabulary id occurs at the positions masking may choose (not [CLS]/[SEP]/[MASK])."""
    ids = np.concatenate([np.asarray(row, dtype=np.int64) for row in examples["input_ids"]])
    counts = np.bincount(ids, minlength=config.discriminator_config.vocab_size).astype(np.float64)
    counts[[config.cls_token_id, config.sep_token_id, config.mask_token_id]] = 0
    return counts


def trivial_baselines(examples, config, metrics: dict[str, float]) -> dict[str, float]:
    """What a model that learned nothing scores on `examples` (the held-out set) for each metric in `metrics`.

    Positions are masked uniformly, so a slot's original token follows the maskable tokens' unigram distribution
    p: predicting the most frequent token is right max(p) of the time, a unigram sample sum(p^2), the unigram
    loss is the entropy of p. A discriminator that always says "original" is right wherever nothing was replaced.
    """
    counts = maskable_token_counts(examples, config)
    p = counts / counts.sum()
    nonzero = p[p > 0]
    baselines = {"masked_lm_accuracy": float(p.max()), "sampled_masked_lm_accuracy": float((p ** 2).sum()),
                 "masked_lm_loss": float(-(nonzero * np.log(nonzero)).sum()), "disc_auc": 0.5,
                 "disc_precision": 0.0, "disc_recall": 0.0}
    prefix = "eval_" if any(k.startswith("eval_") for k in metrics) else ""
    if f"{prefix}replaced_fraction" in metrics:
        baselines["disc_accuracy"] = 1.0 - metrics[f"{prefix}replaced_fraction"]
    return {f"{prefix}{k}": v for k, v in baselines.items() if f"{prefix}{k}" in metrics}


def metrics_table(metrics: dict[str, float], baselines: dict[str, float]) -> list[tuple[str, str, float, float]]:
    """Rows (key, reading, value, baseline) for the reported metrics that have a baseline."""
    rows = []
    for key, value in metrics.items():
        name = key.removeprefix("eval_")
        if name in METRICS and key in baselines:
            rows.append((key, f"{METRICS[name][0]} (baseline: {METRICS[name][1]})", value, baselines[key]))
    return rows


def format_metrics(metrics: dict[str, float], baselines: dict[str, float]) -> str:
    rows = [(METRICS[key.removeprefix("eval_")], value, baseline)
            for key, _, value, baseline in metrics_table(metrics, baselines)]
    width = max([len(name) for (name, _), _, _ in rows] + [6])
    lines = [f"    {'metric':<{width}}  {'model':>7}  {'baseline':>8}  (the baseline)"]
    lines += [f"    {name:<{width}}  {value:7.4f}  {baseline:8.4f}  ({how})" for (name, how), value, baseline in rows]
    return "\n".join(lines)


def pick_examples(examples, count: int, min_tokens: int = 24, max_tokens: int = 64) -> list[dict]:
    """Up to `count` held-out examples short enough to read, in the split's order (longer ones are cut)."""
    lengths = [len(ids) for ids in examples["input_ids"]]
    chosen = [i for i, n in enumerate(lengths) if min_tokens <= n <= max_tokens][:count]
    chosen += [i for i in range(len(lengths)) if i not in chosen][:count - len(chosen)]
    picked = []
    for i in chosen:
        row = {k: list(v)[:max_tokens] for k, v in examples[i].items() if k in ("input_ids", "token_type_ids")}
        picked.append(row)
    return picked


@torch.no_grad()
def replaced_token_detection(model: ElectraPretrainingModel, tokenizer, features: list[dict], seed: int = 0
                             ) -> list[dict]:
    """Mask `features` as training does, run the pair once, and return per example the original and fake ids,
    which positions were masked, replaced (the label) and flagged (discriminator logit > 0), and the
    generator's argmax at each masked position, and whether there is a discriminator (not for the MLM baseline)."""
    config = model.config
    collator = DataCollatorForElectra(tokenizer, masking=config.masking, mask=False)  # the run checked the tokenizer
    batch = collator(features)
    generator = torch.Generator().manual_seed(seed)
    batch.update(collator.mask_tokens(batch["input_ids"], batch["attention_mask"], generator=generator))
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    was_training = model.training
    model.eval()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        out = model(**batch)
    model.train(was_training)
    positions, weights = batch["masked_lm_positions"], batch["masked_lm_weights"]
    masked = torch.zeros_like(batch["input_ids"]).scatter_add_(1, positions, (weights > 0).long()) > 0
    predicted = torch.zeros_like(batch["input_ids"]).scatter_(1, positions, out.masked_lm_predictions)
    if out.sampled_ids is not None:
        fake = scatter_samples(batch["input_ids"], positions, out.sampled_ids, weights)
        labels, flagged = out.discriminator_labels.bool(), out.discriminator_logits > 0
    else:  # the MLM baseline has no discriminator
        fake, labels, flagged = batch["input_ids"], torch.zeros_like(masked), torch.zeros_like(masked)
    results = []
    for row in range(len(features)):
        n = int(batch["attention_mask"][row].sum())
        results.append({name: tensor[row, :n].tolist() for name, tensor in (
            ("original", batch["input_ids"]), ("fake", fake), ("masked", masked), ("replaced", labels),
            ("flagged", flagged), ("predicted", predicted))})
        results[-1]["discriminator"] = out.sampled_ids is not None
    return results


COLOURS = {"caught": "\033[1;32m", "missed": "\033[1;31m", "false_alarm": "\033[1;33m", "end": "\033[0m"}


def _join_word_pieces(pieces: Sequence[str]) -> str:
    text = ""
    for piece in pieces:
        text += piece[2:] if piece.startswith("##") and text else (" " if text else "") + piece
    return text


def render_example(result: dict, tokenizer, colour: bool = False) -> list[str]:
    """Lines showing one example as the discriminator saw it.

    `[fake|original]` is a token the generator replaced; a trailing `*` means the discriminator flags the token
    as replaced. With `colour`, caught replacements are green, missed ones red, false alarms yellow. For the MLM
    baseline (no discriminator), `[prediction|original]` marks each masked position.
    """
    def mark(text: str, kind: str | None) -> str:
        return f"{COLOURS[kind]}{text}{COLOURS['end']}" if colour and kind else text

    has_discriminator = result["discriminator"]
    pieces = []
    for i, original_id in enumerate(result["original"]):
        original = tokenizer.convert_ids_to_tokens(original_id)
        if original == tokenizer.cls_token:
            continue
        if original == tokenizer.sep_token:
            if i < len(result["original"]) - 1:  # between the two segments
                pieces.append("‖")
            continue
        fake = tokenizer.convert_ids_to_tokens(result["fake"][i])
        replaced, flagged = result["replaced"][i], result["flagged"][i]
        if not has_discriminator and result["masked"][i]:
            predicted = tokenizer.convert_ids_to_tokens(result["predicted"][i])
            pieces.append(mark(f"[{predicted}|{original}]", "caught" if predicted == original else "missed"))
        elif replaced:
            shown = f"[{fake}|{original}]" if fake != original else f"[{fake}]"
            pieces.append(mark(shown + ("*" if flagged else ""), "caught" if flagged else "missed"))
        else:
            pieces.append(mark(fake + "*", "false_alarm") if flagged else fake)
    text = _join_word_pieces(pieces)
    if has_discriminator:
        replaced = sum(result["replaced"])
        caught = sum(r and f for r, f in zip(result["replaced"], result["flagged"]))
        false_alarms = sum(f and not r for r, f in zip(result["replaced"], result["flagged"]))
        summary = (f"{sum(result['masked'])} masked, {replaced} replaced: {caught} caught, {replaced - caught} "
                   f"missed, {false_alarms} false alarms")
    else:
        correct = sum(m and p == o for m, p, o in zip(result["masked"], result["predicted"], result["original"]))
        summary = f"{sum(result['masked'])} masked, {correct} predicted right"
    return [text, f"({summary})"]


def legend(has_discriminator: bool) -> str:
    if has_discriminator:
        return ("[fake|original] = replaced by the generator ([fake] alone: it sampled the original back); "
                "* = flagged as replaced by the discriminator")
    return "[prediction|original] = the generator's guess at each masked position"


def plot_curves(log_history: list[dict], path: str, baselines: dict[str, float] | None = None) -> str | None:
    """A PNG of the loss and the metrics over training (train logs and evaluations); None without data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("loss", ["loss"]), ("generator", ["masked_lm_accuracy", "sampled_masked_lm_accuracy"]),
              ("discriminator", ["disc_auc", "disc_accuracy", "disc_recall", "disc_precision"])]
    train = [log for log in log_history if "loss" in log and "step" in log]
    evals = [log for log in log_history if "eval_loss" in log and "step" in log]
    if not train and not evals:
        return None
    panels = [(title, [k for k in keys if any(k in log for log in train) or any(f"eval_{k}" in log for log in evals)])
              for title, keys in panels]
    panels = [(title, keys) for title, keys in panels if keys]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
    for ax, (title, keys) in zip(axes[0], panels):
        for j, key in enumerate(keys):
            colour = f"C{j}"
            points = [(log["step"], log[key]) for log in train if key in log]
            if points:
                ax.plot(*zip(*points), color=colour, alpha=0.6, label=f"train {key}")
            points = [(log["step"], log[f"eval_{key}"]) for log in evals if f"eval_{key}" in log]
            if points:
                ax.plot(*zip(*points), "o-", color=colour, label=f"held-out {key}")
            baseline = (baselines or {}).get(f"eval_{key}")
            if baseline is not None and not (key == "disc_precision" or key == "disc_recall"):
                ax.axhline(baseline, color=colour, linestyle=":", linewidth=1, label=f"baseline {key}")
        ax.set_title(title)
        ax.set_xlabel("step")
        if title == "loss":
            ax.set_yscale("log")
        else:
            ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
