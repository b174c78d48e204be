"""DataCollatorForElectra: dynamic padding plus the original's dynamic masking (pretrain/pretrain_helpers.py:145-213).

The original masks inside the training graph on every step (pretrain/pretrain_helpers.py:145-213); here the
collator does it, on the CPU of the data-loader workers, so each batch gets fresh masks and the accelerator
only runs the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import DataCollatorWithPadding

from .config import ElectraPretrainingConfig
from .masking import MaskingConfig, mask_tokens


@dataclass
class DataCollatorForElectra(DataCollatorWithPadding):
    """Pads a list of tokenized examples and masks them as the original does (see `masking.mask_tokens`).

    `masking` holds the settings (`MaskingConfig`; `from_config` takes a model's). Returns the padded `input_ids`
    (original tokens), `attention_mask`, `token_type_ids` when the examples have them, and with `mask=True` also `masked_input_ids` (the generator's input) and
    `masked_lm_positions`, `masked_lm_ids`, `masked_lm_weights` of shape [batch, max_predictions_per_seq].
    With `mask=False` it only pads and `ElectraPretrainingModel` masks each batch on its own device, with
    the RNG the Trainer checkpoints: what `run_pretraining.py` does, so that a resumed run continues exactly.
    """

    masking: MaskingConfig = field(default_factory=MaskingConfig)
    mask: bool = True
    checked_config: ElectraPretrainingConfig | None = field(default=None, repr=False)  # set by from_config

    def __post_init__(self):
        tok = self.tokenizer
        if tok.mask_token_id is None or tok.cls_token_id is None or tok.sep_token_id is None:
            raise ValueError("the tokenizer needs [CLS], [SEP] and [MASK] tokens for ELECTRA masking.")

    @classmethod
    def from_config(cls, tokenizer, config: ElectraPretrainingConfig, **kwargs) -> "DataCollatorForElectra":
        """A collator with the masking settings of `config`, after checking that the tokenizer fits the model
        (its vocabulary size and special ids): the one place a tokenizer meets a model's config."""
        config.check_tokenizer(tokenizer)
        return cls(tokenizer=tokenizer, masking=config.masking, checked_config=config, **kwargs)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = super().__call__(features)
        if self.mask:
            batch.update(self.mask_tokens(batch["input_ids"], batch["attention_mask"]))
        return batch

    def mask_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        tok = self.tokenizer
        return mask_tokens(input_ids, attention_mask, self.masking,
                           never_masked_ids=(tok.cls_token_id, tok.sep_token_id, tok.mask_token_id),
                           mask_token_id=tok.mask_token_id, vocab_size=len(tok), generator=generator)
