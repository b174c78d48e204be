"""Pseudo-log-likelihood scoring with an Electric discriminator (run_pretraining.py:194-201), and n-best re-ranking with
it.

Electric's discriminator is a stock `ElectraForPreTraining` whose raw head output s_t (`.logits`) is an energy:
p(x_t | x_\\t) ∝ exp(-s_t), made approximately self-normalised by the noise-contrastive training. The
pseudo-log-likelihood of a text is therefore PLL(x) ≈ Σ_t -s_t, from one forward pass over the unmodified text
(no masking, no generator). The original ships no scoring; the formula follows from its parameterisation (the
raw logit, before the log q and prior terms its training adds).

Which tokens are summed: the text's word pieces only. [CLS] and [SEP] are fixed by the input format: they are
never replaced in pre-training, so their energies are never trained as likelihoods, and they are the same for
every text; their score is a constant of the format, not of the text, and adding it would only offset every
PLL by a text-independent amount plus noise. Padding is not part of the text either.

Texts longer than one window (the model's `max_position_embeddings`, or `max_length`, less [CLS] and [SEP]) are
scored in overlapping windows, each `[CLS] window [SEP]`, advancing by `stride` tokens (default half a window);
every token is scored exactly once, in the window where it has the most context on both sides (the QA
max-context rule, `electra_hf.data.windows.max_context_windows`). `long_texts="error"` refuses such texts
instead. Nothing is ever truncated.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm
from transformers import AutoConfig, ElectraForPreTraining, PreTrainedTokenizerBase

from .config import ElectraPretrainingConfig
from .data.windows import document_windows, max_context_windows
from .loading import discriminator_path, load_model_tokenizer

logger = logging.getLogger(__name__)

LONG_TEXTS = ("window", "error")
ELECTRIC = "electric"


@dataclass(frozen=True)
class PseudoLikelihood:
    """A text's pseudo-log-likelihood (Σ -s_t over its word pieces) and the number of word pieces summed."""

    pll: float
    num_tokens: int


def _pair_config(name_or_path: str) -> dict | None:
    """The pair config.json of a local pre-training output directory, None for anything else."""
    path = os.path.join(name_or_path, "config.json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    return config if config.get("model_type") == ElectraPretrainingConfig.model_type else None


def pretraining_objective(name_or_path: str, config=None) -> str | None:
    """The objective a model was pre-trained with, when it is recorded: the pair config's `objective` (a
    pre-training output directory), else the discriminator config's `pretraining_objective`; None when neither
    says (older or Hub models)."""
    pair = _pair_config(name_or_path)
    if pair is not None and pair.get("objective"):
        return pair["objective"]
    if config is None:
        config = AutoConfig.from_pretrained(discriminator_path(name_or_path))
    return getattr(config, "pretraining_objective", None)


def load_scorer(name_or_path: str, tokenizer_name: str | None = None, device: str | torch.device | None = None,
                **model_kwargs) -> tuple[ElectraForPreTraining, PreTrainedTokenizerBase]:
    """The discriminator (`ElectraForPreTraining`, in eval mode, on `device`) and tokenizer to score with.

    `name_or_path`: a discriminator (directory or Hub id) or a pre-training output directory (its
    `discriminator/`). A model whose recorded objective is not Electric is loaded with a warning: its logits
    are replaced-token-detection scores, not energies, and the sums are not pseudo-log-likelihoods. A model
    without the discriminator head (e.g. a fine-tuned one) is refused.
    """
    path = discriminator_path(name_or_path)
    pair = _pair_config(name_or_path)
    if path == name_or_path and pair is not None:
        raise ValueError(f"{name_or_path} is a pre-training output without a discriminator/ folder "
                         f"(objective {pair.get('objective')!r}): nothing to score with.")
    try:
        model, info = ElectraForPreTraining.from_pretrained(path, output_loading_info=True, **model_kwargs)
    except OSError as err:
        raise ValueError(f"could not load a discriminator from {name_or_path!r}: {str(err).splitlines()[0]}") from err
    missing_head = sorted(k for k in info["missing_keys"] if k.startswith("discriminator_predictions"))
    if missing_head:
        raise ValueError(f"{path} has no discriminator head ({', '.join(missing_head)} missing): pass an ELECTRA or "
                         "Electric discriminator, not a fine-tuned model or a generator.")
    objective = pretraining_objective(name_or_path, model.config)
    if objective is None:
        logger.info("%s does not record its pre-training objective: the scores are pseudo-log-likelihoods only if "
                    "it was trained with Electric.", name_or_path)
    elif objective != ELECTRIC:
        logger.warning("%s was pre-trained with objective %r, not Electric: its logits are not energies and the "
                       "scores are not pseudo-log-likelihoods.", name_or_path, objective)
    tokenizer = load_model_tokenizer(path, tokenizer_name)
    if device is not None:
        model.to(device)
    return model.eval(), tokenizer


def _windows(num_tokens: int, window: int, stride: int) -> list[tuple[int, int, list[bool]]]:
    """(start, length, scored) of each window over `num_tokens` word pieces: `scored[i]` says whether the
    window's i-th token is scored there (the window where it has the most context)."""
    windows = document_windows(num_tokens, window, stride)
    best = max_context_windows(windows, num_tokens)
    return [(start, length, (best[start:start + length] == index).tolist())
            for index, (start, length) in enumerate(windows)]


def pseudo_log_likelihoods(model: ElectraForPreTraining, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str],
                           batch_size: int = 64, max_length: int | None = None, long_texts: str = "window",
                           stride: int | None = None, names: Sequence[str] | None = None,
                           progress: bool = False) -> list[PseudoLikelihood]:
    """PLL(x) = Σ -s_t over each text's word pieces, [CLS], [SEP] and padding excluded (see the module's
    docstring for why), one `PseudoLikelihood` per text in input order.

    - One forward pass per distinct text (per window for long texts), in batches of `batch_size` sequences sorted by
      length and padded to the batch's longest: the result equals scoring each text alone, to float tolerance.
      Runs under `torch.inference_mode` with the model in eval mode, on the model's device.
    - `max_length`: the longest sequence fed to the model, [CLS] and [SEP] included (default and maximum: the
      model's `max_position_embeddings`).
    - A text of more than `max_length - 2` word pieces: `long_texts="window"` scores it in overlapping windows
      advancing by `stride` tokens (default half a window), each token once, in the window where it has the
      most context on both sides; `long_texts="error"` raises a ValueError naming the text and its length.
    - An empty text ("" or only spaces) has PLL 0.0 and num_tokens 0; any other text without word pieces (e.g.
      control characters only) is an error naming it.
    - `names`: how error messages name each text (default "text <index>"); `progress`: a tqdm bar.
    """
    if long_texts not in LONG_TEXTS:
        raise ValueError(f"long_texts={long_texts!r}: use one of {LONG_TEXTS}.")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be positive.")
    max_positions = model.config.max_position_embeddings
    max_length = max_positions if max_length is None else max_length
    if not 3 <= max_length <= max_positions:
        raise ValueError(f"max_length={max_length} must be between 3 ([CLS], one token, [SEP]) and the model's "
                         f"max_position_embeddings ({max_positions}).")
    window = max_length - 2
    stride = max(1, window // 2) if stride is None else stride
    if not 1 <= stride <= window:
        raise ValueError(f"stride={stride} must be between 1 and the window of {window} tokens (max_length - 2).")
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    if cls_id is None or sep_id is None:
        raise ValueError("the tokenizer has no [CLS]/[SEP] tokens: ELECTRA's input format needs both.")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string.")
    texts = list(texts)
    unique = list(dict.fromkeys(texts))  # a text given twice is scored once: equal texts, equal scores
    ids = tokenizer(unique, add_special_tokens=False, return_attention_mask=False, return_token_type_ids=False,
                    verbose=False)["input_ids"] if unique else []
    # Every sequence to run: (unique text index, input ids, which positions are summed).
    sequences: list[tuple[int, list[int], list[bool]]] = []
    def name_of(i: int) -> str:
        index = texts.index(unique[i])
        return names[index] if names is not None else f"text {index}"

    for i, text_ids in enumerate(ids):
        if not text_ids and unique[i].strip():  # e.g. control characters: a PLL of 0.0 would rank it best
            raise ValueError(f"{name_of(i)} ({unique[i][:20]!r}) has no tokens the tokenizer knows: a PLL of 0.0 "
                             "would score it as the most likely text; remove it or clean it.")
        if len(text_ids) <= window:
            if text_ids:
                sequences.append((i, [cls_id, *text_ids, sep_id], [False, *[True] * len(text_ids), False]))
            continue
        if long_texts == "error":
            raise ValueError(f"{name_of(i)} has {len(text_ids)} tokens, more than the {window} that fit the model "
                             f"(max_length {max_length} less [CLS] and [SEP]): shorten it or score it in windows "
                             "(long_texts='window').")
        for start, length, scored in _windows(len(text_ids), window, stride):
            sequences.append((i, [cls_id, *text_ids[start:start + length], sep_id], [False, *scored, False]))

    totals = [0.0] * len(unique)
    order = sorted(range(len(sequences)), key=lambda k: -len(sequences[k][1]))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    bar = tqdm(total=len(sequences), unit="seq", desc="Scoring", disable=not progress)
    try:
        with torch.inference_mode():
            for begin in range(0, len(order), batch_size):
                batch = [sequences[k] for k in order[begin:begin + batch_size]]
                width = max(len(seq) for _, seq, _ in batch)
                input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
                attention = torch.zeros((len(batch), width), dtype=torch.long)
                summed = torch.zeros((len(batch), width), dtype=torch.bool)
                for row, (_, seq, scored) in enumerate(batch):
                    input_ids[row, :len(seq)] = torch.tensor(seq)
                    attention[row, :len(seq)] = 1
                    summed[row, :len(seq)] = torch.tensor(scored)
                logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device),
                               token_type_ids=torch.zeros_like(input_ids, device=device)).logits
                # summed on the CPU in float64 (any device, any model dtype)
                sums = torch.where(summed, -logits.float().cpu().double(), 0.0).sum(-1).tolist()
                for (i, _, _), value in zip(batch, sums):
                    totals[i] += value
                bar.update(len(batch))
    finally:
        bar.close()
        model.train(was_training)
    scores = {text: PseudoLikelihood(pll=total, num_tokens=len(text_ids))
              for text, total, text_ids in zip(unique, totals, ids)}
    return [scores[text] for text in texts]


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def check_nbest_item(item, weight: float = 1.0, name: str = "n-best list") -> None:
    """A ValueError naming `name` unless `item` is `{"candidates": [...], ...}` with at least one candidate, each
    a string or `{"text": str, "score": number}` ("score", the system's score, is required when weight < 1)."""
    if not isinstance(item, dict):
        raise ValueError(f"{name}: expected an object with 'id' and 'candidates', got {type(item).__name__}.")
    candidates = item.get("candidates")
    if candidates is None:
        raise ValueError(f"{name}: no 'candidates' field.")
    if not isinstance(candidates, list) or not candidates:
        raise ValueError(f"{name}: 'candidates' must be a non-empty list, got {json.dumps(candidates)[:80]}.")
    for k, candidate in enumerate(candidates):
        if isinstance(candidate, str):
            if weight < 1:
                raise ValueError(f"{name}: candidate {k} has no system 'score', which weight={weight} < 1 needs.")
            continue
        if not isinstance(candidate, dict):
            raise ValueError(f"{name}: candidate {k} must be a string or an object with 'text' (and 'score'), got "
                             f"{type(candidate).__name__}.")
        if not isinstance(candidate.get("text"), str):
            raise ValueError(f"{name}: candidate {k} has no string 'text' (got {candidate.get('text')!r}).")
        score = candidate.get("score")
        if score is not None and not _is_number(score):
            raise ValueError(f"{name}: candidate {k} has a 'score' that is not a finite number: {score!r}.")
        if score is None and weight < 1:
            raise ValueError(f"{name}: candidate {k} has no system 'score', which weight={weight} < 1 needs.")


def _item_name(item, position: int) -> str:
    return f"n-best list id={item['id']!r}" if isinstance(item, dict) and "id" in item else f"n-best list {position}"


def rerank(nbest_lists: Sequence[dict], model: ElectraForPreTraining, tokenizer: PreTrainedTokenizerBase,
           weight: float = 1.0, **score_kwargs) -> list[dict]:
    """Re-rank n-best lists with the PLL interpolated with the system's score.

    Each item is `{"id": ..., "candidates": [...]}`, a candidate a string or `{"text": str, "score": float}`
    (the original system's score, e.g. an ASR/MT log-probability). The combined score is
    `(1 - weight) * score + weight * pll`: weight 1.0 (default) ranks by the PLL alone, 0.0 by the system's
    score; weight < 1 needs a numeric "score" on every candidate (a ValueError naming the id otherwise).

    Returns one dict per item, in input order: the item's other fields, and "candidates" sorted best-first
    (highest combined score; ties keep the input order), each `{"text", "pll", "num_tokens", "system_score"
    (None when absent), "combined_score", "index" (its position in the input list)}` plus the candidate's
    other fields. `score_kwargs` go to `pseudo_log_likelihoods` (batch_size, max_length, long_texts, ...); all
    candidates of all lists are scored together.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight={weight} must be between 0 (the system's score only) and 1 (the PLL only).")
    texts, names = [], []
    for position, item in enumerate(nbest_lists):
        name = _item_name(item, position)
        check_nbest_item(item, weight, name)
        for k, candidate in enumerate(item["candidates"]):
            texts.append(candidate if isinstance(candidate, str) else candidate["text"])
            names.append(f"{name} candidate {k}")
    scores = iter(pseudo_log_likelihoods(model, tokenizer, texts, names=names, **score_kwargs))
    reranked = []
    for item in nbest_lists:
        candidates = []
        for k, candidate in enumerate(item["candidates"]):
            fields = {"text": candidate} if isinstance(candidate, str) else dict(candidate)
            system = fields.pop("score", None)
            result = next(scores)
            combined = result.pll if weight == 1.0 else (1 - weight) * system + weight * result.pll
            candidates.append({**fields, "pll": result.pll, "num_tokens": result.num_tokens, "system_score": system,
                               "combined_score": combined, "index": k})
        candidates.sort(key=lambda c: -c["combined_score"])  # stable: ties keep the input order
        reranked.append({**{k: v for k, v in item.items() if k != "candidates"}, "candidates": candidates})
    return reranked
