"""The original's dynamic masking (pretrain/pretrain_helpers.py:145-213), on any device.

Used by `DataCollatorForElectra` (on the data-loader's CPU) and by `ElectraPretrainingModel` when a batch
arrives unmasked (on the model's device, drawing from the RNG the Trainer checkpoints, so a resumed run
draws the same masks as an uninterrupted one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

# Per-position corruption codes; a position chosen by several slots takes the largest.
KEEP, RANDOM, MASK = 0, 1, 2
POSITION_SAMPLING = ("with_replacement", "without_replacement")


def max_predictions_for(mask_prob: float, max_seq_length: int) -> int:
    """The original's derived cap on masked slots per sequence (configure_pretraining.py:106-107)."""
    return int((mask_prob + 0.005) * max_seq_length)


@dataclass(frozen=True)
class MaskingConfig:
    """How a batch is masked: the one owner of these settings, validated here. `ElectraPretrainingConfig.masking`
    gives a model's; `DataCollatorForElectra` reads one.

    mask_prob: fraction of tokens to mask (counting [CLS]/[SEP]); the original 0.15 (0.25 for large).
    max_predictions_per_seq: cap on masked slots per sequence (`max_predictions_for(mask_prob, length)`).
    mask_replace_prob / random_replace_prob: share of slots replaced by [MASK] / a random token; the rest keep
        their token. The original: 0.85 / 0.0.
    position_sampling: "with_replacement" (the original: `tf.random.categorical`, duplicates possible) or
        "without_replacement" (distinct positions; a deviation).
    """

    mask_prob: float = 0.15
    max_predictions_per_seq: int = max_predictions_for(0.15, 128)
    mask_replace_prob: float = 0.85
    random_replace_prob: float = 0.0
    position_sampling: str = "with_replacement"

    def __post_init__(self):
        if not 0.0 < self.mask_prob < 1.0:
            raise ValueError(f"mask_prob={self.mask_prob} must lie in (0, 1); the original uses 0.15 (0.25 for large).")
        if not (0.0 <= self.mask_replace_prob <= 1.0 and 0.0 <= self.random_replace_prob <= 1.0
                and self.mask_replace_prob + self.random_replace_prob <= 1.0 + 1e-9):
            raise ValueError(
                f"mask_replace_prob={self.mask_replace_prob} and random_replace_prob={self.random_replace_prob} must "
                "be in [0, 1] and sum to at most 1 (the rest keeps the original token); the original uses 0.85 / 0.0.")
        if self.position_sampling not in POSITION_SAMPLING:
            raise ValueError(f"position_sampling={self.position_sampling!r}: use 'with_replacement' (the original) "
                             "or 'without_replacement'.")
        if self.max_predictions_per_seq < 1:
            raise ValueError(f"max_predictions_per_seq={self.max_predictions_per_seq} must be at least 1.")

    @classmethod
    def for_length(cls, max_seq_length: int, mask_prob: float = 0.15, max_predictions_per_seq: int | None = None,
                   **settings) -> "MaskingConfig":
        """The settings for sequences of `max_seq_length`, the slot cap derived as the original derives it."""
        if max_predictions_per_seq is None:
            max_predictions_per_seq = max_predictions_for(mask_prob, max_seq_length)
        return cls(mask_prob=mask_prob, max_predictions_per_seq=max_predictions_per_seq, **settings)


def mask_tokens(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    masking: MaskingConfig,
    *,
    never_masked_ids: Sequence[int],
    mask_token_id: int,
    vocab_size: int,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """Choose and corrupt the positions the generator predicts.

    `masking` holds the settings (MaskingConfig). Each row gets `n = max(1, min(N, round_half_even(num_tokens *
    mask_prob)))` slots, where `num_tokens`
    counts every non-pad token including [CLS]/[SEP] and `N = max_predictions_per_seq`. Slot positions are
    uniform over the non-pad tokens not in `never_masked_ids` (the original: [CLS], [SEP], [MASK]), drawn
    with replacement by default as `tf.random.categorical` does. Each slot becomes [MASK] with
    `mask_replace_prob`, a random token with `random_replace_prob`, otherwise keeps its token; a position
    drawn twice is [MASK] if any of its slots is (what the original's averaging scatter gives). Slots beyond
    `n` point at position 0 with weight 0.

    Returns `masked_input_ids` [B, L] and `masked_lm_positions`, `masked_lm_ids`, `masked_lm_weights` [B, N].
    """
    # No host-to-device copies and no data-dependent shapes below: on a GPU this runs without a sync.
    mask_prob, max_predictions_per_seq = masking.mask_prob, masking.max_predictions_per_seq
    mask_replace_prob, random_replace_prob = masking.mask_replace_prob, masking.random_replace_prob
    position_sampling = masking.position_sampling
    device = input_ids.device
    batch_size, seq_len = input_ids.shape
    num_slots = max_predictions_per_seq
    candidates = attention_mask.bool()
    for token_id in set(never_masked_ids):
        candidates = candidates & (input_ids != token_id)

    # float32 like the TF graph (a float32 tensor times a Python float is computed in float32), and
    # torch.round is half-to-even like tf.round (pretrain_helpers.py:145-213).
    num_tokens = attention_mask.sum(-1).to(torch.float32)
    num_to_predict = torch.round(num_tokens * mask_prob).long().clamp(1, num_slots)
    # A row without candidates masks nothing (the original would divide by zero here).
    num_to_predict = torch.where(candidates.any(-1), num_to_predict, 0)
    if position_sampling == "without_replacement":
        num_to_predict = torch.minimum(num_to_predict, candidates.sum(-1))
    slot_valid = torch.arange(num_slots, device=device).unsqueeze(0) < num_to_predict.unsqueeze(1)

    if position_sampling == "with_replacement":
        weights = torch.where(candidates.any(-1, keepdim=True), candidates.float(), 1.0)  # rows without: dummies
        positions = torch.multinomial(weights, num_slots, replacement=True, generator=generator)
    else:
        scores = torch.rand(batch_size, seq_len, device=device, generator=generator).masked_fill(~candidates, -1.0)
        positions = scores.topk(min(num_slots, seq_len), dim=-1).indices
        if positions.shape[1] < num_slots:
            positions = torch.nn.functional.pad(positions, (0, num_slots - positions.shape[1]))
    positions = positions * slot_valid

    u = torch.rand(batch_size, num_slots, device=device, generator=generator)
    slot_code = torch.where(u < mask_replace_prob, MASK, torch.where(u < mask_replace_prob + random_replace_prob,
                                                                     RANDOM, KEEP))
    code = torch.zeros_like(input_ids).scatter_reduce_(1, positions, slot_code * slot_valid, reduce="amax")
    masked_input_ids = input_ids.masked_fill(code == MASK, mask_token_id)
    if random_replace_prob > 0:
        random_ids = torch.randint(vocab_size, input_ids.shape, device=device, generator=generator)
        masked_input_ids = torch.where(code == RANDOM, random_ids, masked_input_ids)

    return {
        "masked_input_ids": masked_input_ids,
        "masked_lm_positions": positions,
        "masked_lm_ids": input_ids.gather(1, positions) * slot_valid,
        "masked_lm_weights": slot_valid.float(),
    }
