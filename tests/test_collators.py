"""DataCollatorForElectra against the original (pretrain/pretrain_helpers.py:145-213): counts per length, candidates,
85/15, sampling with replacement."""

import numpy as np
import pytest
import torch

from electra_hf import DataCollatorForElectra, ElectraPretrainingConfig
from electra_hf.masking import MaskingConfig

CLS, SEP, MASK, PAD, UNK = 101, 102, 103, 0, 100


def rows_of_lengths(lengths, pad_to=None, seed=0):
    """[CLS] random word-piece ids [SEP], right-padded, as the example builder emits them."""
    rng = np.random.default_rng(seed)
    width = pad_to or max(lengths)
    ids = np.zeros((len(lengths), width), dtype=np.int64)
    for i, n in enumerate(lengths):
        ids[i, :n] = np.concatenate([[CLS], rng.integers(1000, 30000, n - 2), [SEP]])
    ids = torch.from_numpy(ids)
    return ids, (ids != PAD).long()


def test_masked_count_per_length_is_round_half_even_in_float32(tokenizer):
    collator = DataCollatorForElectra(tokenizer)
    lengths = list(range(3, 129))
    ids, mask = rows_of_lengths(lengths)
    out = collator.mask_tokens(ids, mask)
    counts = out["masked_lm_weights"].sum(-1).long().tolist()
    # Hand-checked (pretrain_helpers.py:145-213, tf.round): 30 tokens -> round(4.5) = 4 and 10 -> round(1.5) = 2 (half
    # to even); 50 -> 8 because 50 * float32(0.15) rounds to 7.5000005 in float32, as in the TF graph; 3 -> max(1,
    # round(0.45)) = 1; 128 -> min(19, 19) = 19.
    by_length = dict(zip(lengths, counts))
    assert (by_length[30], by_length[10], by_length[50], by_length[3], by_length[128]) == (4, 2, 8, 1, 19)
    expected = [max(1, min(19, int(np.round(np.float32(n) * np.float32(0.15))))) for n in lengths]
    assert counts == expected


def test_cap_at_max_predictions_and_dummy_slots(tokenizer):
    collator = DataCollatorForElectra(tokenizer, masking=MaskingConfig.for_length(512))  # N = int(0.155 * 512) = 79
    assert collator.masking.max_predictions_per_seq == 79
    ids, mask = rows_of_lengths([512, 40])
    out = collator.mask_tokens(ids, mask)
    assert out["masked_lm_weights"].sum(-1).tolist() == [77.0, 6.0]  # round(76.8) = 77 and round(6.0)
    dummy = out["masked_lm_weights"] == 0
    assert (out["masked_lm_positions"][dummy] == 0).all() and (out["masked_lm_ids"][dummy] == 0).all()


def test_special_and_padding_positions_are_never_chosen(tokenizer):
    collator = DataCollatorForElectra(tokenizer)
    ids, mask = rows_of_lengths([20, 64, 128, 7] * 50, pad_to=128)
    ids[:, 5] = MASK  # a [MASK] already in the input is not a candidate
    ids[:, 3] = UNK  # [UNK] is one
    out = collator.mask_tokens(ids, mask)
    chosen = out["masked_lm_weights"] > 0
    chosen_ids = out["masked_lm_ids"][chosen]
    assert not torch.isin(chosen_ids, torch.tensor([CLS, SEP, MASK, PAD])).any()
    assert (chosen_ids == UNK).any()
    assert (ids.gather(1, out["masked_lm_positions"])[chosen] == chosen_ids).all()


def test_with_replacement_statistics_match_the_original(tokenizer):
    collator = DataCollatorForElectra(tokenizer)
    ids, mask = rows_of_lengths([128] * 4000)
    out = collator.mask_tokens(ids, mask)
    positions, weights = out["masked_lm_positions"], out["masked_lm_weights"]
    distinct = torch.tensor([len(set(row.tolist())) for row in positions])
    assert (weights.sum(-1) == 19).all()
    # uniform over the 126 candidates: 76,000 draws, about 603 each (binomial sd 24.5)
    counts = torch.bincount(positions.flatten(), minlength=128).float()
    assert counts[0] == 0 and counts[127] == 0
    assert (counts[1:127] - 4000 * 19 / 126).abs().max() < 5 * 24.5
    # 126 candidates, 19 draws with replacement: E[distinct]/19 = 126*(1-(125/126)^19)/19 = 0.9317
    # (0.931 measured on the original TF code), P(any duplicate) = 0.76.
    assert distinct.float().mean().item() / 19 == pytest.approx(0.9317, abs=0.003)
    assert (distinct < 19).float().mean().item() == pytest.approx(0.76, abs=0.02)
    # 85% of slots, and 0.86 of distinct positions, become [MASK]; the rest keep the token (no random ones).
    masked = out["masked_input_ids"]
    changed = masked != ids
    assert (masked[changed] == MASK).all()
    chosen = torch.zeros_like(ids, dtype=torch.bool).scatter_(1, positions, True)
    chosen[:, 0] = False
    assert not (changed & ~chosen).any()
    distinct_masked = changed.sum().item() / chosen.sum().item()
    assert distinct_masked == pytest.approx(0.86, abs=0.006)


def test_slot_level_split_and_random_replacement(tokenizer):
    collator = DataCollatorForElectra(tokenizer, masking=MaskingConfig(mask_replace_prob=0.8, random_replace_prob=0.1,
                                                                     position_sampling="without_replacement"))
    ids, mask = rows_of_lengths([128] * 3000)
    out = collator.mask_tokens(ids, mask)
    chosen = torch.zeros_like(ids, dtype=torch.bool).scatter_(1, out["masked_lm_positions"], True)
    chosen[:, 0] = False
    masked = out["masked_input_ids"][chosen]
    original = ids[chosen]
    mask_share = (masked == MASK).float().mean().item()
    kept_share = (masked == original).float().mean().item()
    assert mask_share == pytest.approx(0.8, abs=0.01)
    assert kept_share == pytest.approx(0.1, abs=0.01)  # random draws rarely hit the original token
    assert 1 - mask_share - kept_share == pytest.approx(0.1, abs=0.01)


def test_without_replacement_draws_distinct_positions(tokenizer):
    collator = DataCollatorForElectra(tokenizer, masking=MaskingConfig(position_sampling="without_replacement"))
    ids, mask = rows_of_lengths([128, 40, 4] * 200, pad_to=128)
    out = collator.mask_tokens(ids, mask)
    for positions, weights in zip(out["masked_lm_positions"], out["masked_lm_weights"]):
        valid = positions[weights > 0].tolist()
        assert len(valid) == len(set(valid))
    assert out["masked_lm_weights"][:3].sum(-1).tolist() == [19.0, 6.0, 1.0]


def test_call_pads_dynamically_and_masks_anew(tokenizer, sentences):
    collator = DataCollatorForElectra(tokenizer, pad_to_multiple_of=8)
    features = [tokenizer(s) for s in sentences[:8]]
    first, second = collator(features), collator(features)
    assert first["input_ids"].shape[1] % 8 == 0
    assert first["input_ids"].shape[1] - max(len(f["input_ids"]) for f in features) < 8
    assert set(first) == {"input_ids", "token_type_ids", "attention_mask", "masked_input_ids",
                          "masked_lm_positions", "masked_lm_ids", "masked_lm_weights"}
    assert first["masked_lm_positions"].shape == (8, 19)
    assert torch.equal(first["input_ids"], second["input_ids"])
    assert not torch.equal(first["masked_lm_positions"], second["masked_lm_positions"])


def test_row_without_candidates_masks_nothing(tokenizer):
    collator = DataCollatorForElectra(tokenizer)
    ids = torch.tensor([[CLS, SEP, PAD, PAD], [CLS, 2000, 2001, SEP]])
    out = collator.mask_tokens(ids, (ids != PAD).long())
    assert out["masked_lm_weights"].sum(-1).tolist() == [0.0, 1.0]


def test_from_config_checks_the_tokenizer(tokenizer):
    config = ElectraPretrainingConfig.from_preset("tiny", mask_prob=0.25, max_seq_length=512)
    collator = DataCollatorForElectra.from_config(tokenizer, config)
    assert collator.masking == MaskingConfig(mask_prob=0.25, max_predictions_per_seq=130)
    assert MaskingConfig.for_length(512, mask_prob=0.25) == collator.masking  # derived as the original
    with pytest.raises(ValueError, match="vocab_size"):
        DataCollatorForElectra.from_config(tokenizer, ElectraPretrainingConfig.from_preset("tiny", vocab_size=100))


def test_masking_settings_are_validated_in_one_place():
    for bad, message in (({"mask_prob": 1.0}, "mask_prob=1.0 must lie in"),
                         ({"mask_replace_prob": 0.9, "random_replace_prob": 0.2}, "sum to at most 1"),
                         ({"position_sampling": "sorted"}, "position_sampling='sorted'")):
        with pytest.raises(ValueError, match=message):
            MaskingConfig(**bad)
        with pytest.raises(ValueError, match=message):  # the model's config reads the same owner
            ElectraPretrainingConfig.from_preset("tiny", **bad)
