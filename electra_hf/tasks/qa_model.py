"""The original's span question-answering head (qa_tasks.py:419-533): start logits, end
logits conditioned on the start (XLNet-style: the gold start while training, a beam of starts at inference)
and a no-answer classifier on [CLS] plus the start-weighted summary of the sequence."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import ElectraConfig, ElectraModel
from transformers.utils import ModelOutput

from .heads import ElectraWithTaskHead

# The original's options (configure_finetuning.py:84-90), stored in the model's config under these names.
QA_HEAD_DEFAULTS = {"qa_joint_prediction": True, "qa_answerable_classifier": True,
                    "qa_answerable_uses_start_logits": True, "qa_answerable_weight": 0.5, "qa_beam_size": 20}
QA_HIDDEN = 512  # the width of the end and no-answer hidden layers (qa_tasks.py: dense(..., 512))
MASK_PENALTY = 1000.0  # logits + 1000 * (mask - 1), as the original


def qa_config(model_name_or_path: str, **head_options) -> ElectraConfig:
    """The model's config with the head options: those given, else the config's own (a fine-tuned model),
    else the original's defaults."""
    unknown = set(head_options) - set(QA_HEAD_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown question-answering head option(s) {sorted(unknown)}; "
                         f"known: {sorted(QA_HEAD_DEFAULTS)}.")
    config = ElectraConfig.from_pretrained(model_name_or_path)
    for name, default in QA_HEAD_DEFAULTS.items():
        setattr(config, name, head_options.get(name, getattr(config, name, default)))
    if config.qa_beam_size < 1:
        raise ValueError(f"qa_beam_size={config.qa_beam_size} must be at least 1.")
    return config


@dataclass
class SpanQuestionAnsweringOutput(ModelOutput):
    """Training (gold `start_positions` given): `loss` (summed over the batch), the masked `start_logits` and
    the teacher-forced `end_logits`. Inference: the top-`beam_size` starts (`start_top_index`, their scores
    `start_top_scores`), the top ends for each (`end_top_index`/`end_top_scores`, [B, K, K] in joint mode,
    [B, K] otherwise) and `null_score`, the original's no-answer score of the window (the no-answer logit, or
    the [CLS] start + end logits without the classifier): higher means less likely answerable. Scores are
    log-probabilities in joint mode and logits otherwise, as the original; a beam longer than the sequence is
    padded with index 0 (never a valid answer) and score -10000."""

    loss: torch.Tensor | None = None
    start_logits: torch.Tensor | None = None
    end_logits: torch.Tensor | None = None
    start_top_scores: torch.Tensor | None = None
    start_top_index: torch.Tensor | None = None
    end_top_scores: torch.Tensor | None = None
    end_top_index: torch.Tensor | None = None
    null_score: torch.Tensor | None = None


def _top_k(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """torch.topk over the last dimension, padded to `k` when the sequence is shorter."""
    values, index = scores.topk(min(k, scores.shape[-1]), dim=-1)
    missing = k - values.shape[-1]
    if missing:
        values = F.pad(values, (0, missing), value=-10000.0)
        index = F.pad(index, (0, missing), value=0)
    return values, index


class ElectraForSpanQuestionAnswering(ElectraWithTaskHead):
    """ELECTRA with the original SQuAD/MRQA head. Options (config attributes, see `qa_config`):
    `qa_joint_prediction` (end conditioned on the start; False: independent start/end logits),
    `qa_answerable_classifier` (the no-answer classifier, weight `qa_answerable_weight`),
    `qa_answerable_uses_start_logits`, `qa_beam_size` (starts and ends kept at inference).

    Only the context, the final [SEP] and [CLS] can be predicted (`attention_mask * token_type_ids` + [CLS]).
    The loss per window is (CE(start) + CE(end)) / 2 + weight * BCE(no-answer logit, is_impossible), summed
    over the batch as the original. Every head layer is Glorot-initialised with zero bias (tf.layers.dense).
    """

    head_names = ("qa_start", "qa_end_hidden", "qa_end", "answerable_hidden", "answerable")

    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        for name, default in QA_HEAD_DEFAULTS.items():
            if not hasattr(config, name):
                setattr(config, name, default)
        hidden = config.hidden_size
        self.electra = ElectraModel(config)
        self.qa_start = nn.Linear(hidden, 1)  # the original's `dense`
        if config.qa_joint_prediction:
            self.qa_end_hidden = nn.Linear(2 * hidden, QA_HIDDEN)  # `qa_hidden`, on [start state; token state]
            self.qa_end = nn.Linear(QA_HIDDEN, 1)  # `dense_1`
        else:
            self.qa_end = nn.Linear(hidden, 1)
        if config.qa_answerable_classifier:
            if config.qa_answerable_uses_start_logits:
                self.answerable_hidden = nn.Linear(2 * hidden, QA_HIDDEN)  # `dense_2`
            self.answerable = nn.Linear(QA_HIDDEN if config.qa_answerable_uses_start_logits else hidden, 1)
        self.post_init()

    def end_logits_given_start(self, hidden: torch.Tensor, start_states: torch.Tensor) -> torch.Tensor:
        """End logits [..., L] for start states [B, (K,) H] over token states [B, L, H]. dense([s; h]) is split
        into dense_s(s) + dense_h(h), so the [.., L, 2H] concatenation is never built: the same numbers, with
        the token half computed once for all K starts."""
        weight = self.qa_end_hidden.weight
        token_part = F.linear(hidden, weight[:, hidden.shape[-1]:])  # [B, L, 512]
        start_part = F.linear(start_states, weight[:, :hidden.shape[-1]], self.qa_end_hidden.bias)  # [B, (K,) 512]
        if start_part.dim() == 3:
            token_part = token_part.unsqueeze(1)
        combined = F.gelu(start_part.unsqueeze(-2) + token_part)
        return self.qa_end(combined).squeeze(-1)

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, start_positions: torch.Tensor | None = None,
                end_positions: torch.Tensor | None = None, is_impossible: torch.Tensor | None = None
                ) -> SpanQuestionAnsweringOutput:
        if token_type_ids is None:
            raise ValueError("token_type_ids are needed: the answer can only be in segment 1 (the context).")
        config = self.config
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.electra(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                              ).last_hidden_state
        answer_mask = (attention_mask * token_type_ids).float()
        answer_mask[:, 0] = 1.0  # [CLS] stands for "no answer in this window"
        penalty = MASK_PENALTY * (answer_mask - 1.0)
        start_logits = self.qa_start(hidden).squeeze(-1).float() + penalty
        training = start_positions is not None
        output = SpanQuestionAnsweringOutput()

        if config.qa_joint_prediction:
            if training:  # teacher forcing: the end is conditioned on the gold start
                gold_start = hidden[torch.arange(hidden.shape[0], device=hidden.device), start_positions]
                end_logits = self.end_logits_given_start(hidden, gold_start).float() + penalty
            else:
                start_scores, start_index = _top_k(start_logits.log_softmax(-1), config.qa_beam_size)
                beam_states = torch.gather(hidden, 1, start_index.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
                end_logits = self.end_logits_given_start(hidden, beam_states).float() + penalty.unsqueeze(1)
                end_scores, end_index = _top_k(end_logits.log_softmax(-1), config.qa_beam_size)
                output.start_top_scores, output.start_top_index = start_scores, start_index
                output.end_top_scores, output.end_top_index = end_scores, end_index
                end_logits = torch.zeros_like(start_logits)  # as the original: no end logits at inference
        else:
            end_logits = self.qa_end(hidden).squeeze(-1).float() + penalty
            if not training:
                output.start_top_scores, output.start_top_index = _top_k(start_logits, config.qa_beam_size)
                output.end_top_scores, output.end_top_index = _top_k(end_logits, config.qa_beam_size)

        null_score = start_logits[:, 0] + end_logits[:, 0]
        answerable_loss = 0.0
        if config.qa_answerable_classifier:
            summary = hidden[:, 0]
            if config.qa_answerable_uses_start_logits:
                weights = start_logits.softmax(-1).to(hidden.dtype)
                summary = F.gelu(self.answerable_hidden(
                    torch.cat([summary, torch.einsum("bl,blh->bh", weights, hidden)], -1)))
            null_score = self.answerable(summary).squeeze(-1).float()  # the original's "answerable_logit"
            if training:
                if is_impossible is None:
                    raise ValueError("is_impossible is needed to train the no-answer classifier.")
                answerable_loss = config.qa_answerable_weight * F.binary_cross_entropy_with_logits(
                    null_score, is_impossible.float(), reduction="none")

        if training:
            if end_positions is None:
                raise ValueError("end_positions are needed with start_positions.")
            span_loss = (F.cross_entropy(start_logits, start_positions, reduction="none")
                         + F.cross_entropy(end_logits, end_positions, reduction="none")) / 2.0
            output.loss = (span_loss + answerable_loss).sum()
            output.start_logits, output.end_logits = start_logits, end_logits
        else:
            output.null_score = null_score
        return output
