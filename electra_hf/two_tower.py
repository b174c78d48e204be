"""Electric's generator: a two-tower cloze model (run_pretraining.py:288-335, modeling.py:239-245).

Two transformers of generator size read the *unmasked* text, one left-to-right and one right-to-left; the
representation of position t is `[ltr(t-1); rtl(t+1)]`, so it never sees token t, and a cloze head turns it into
a distribution over the vocabulary at every position. No stock transformers class has this shape, hence a class
of ours; each tower is a stock `ElectraModel`.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import ElectraConfig, ElectraForMaskedLM, ElectraModel, PreTrainedConfig, PreTrainedModel
from transformers.activations import get_activation
from transformers.modeling_outputs import MaskedLMOutput

from .dropout import PACKED_DROPOUT_ATTENTION


class ElectraTwoTowerConfig(ElectraConfig):
    r"""An `ElectraConfig` for each tower, plus whether the towers share one embeddings module.

    Args:
        untied_tower_embeddings: each tower has its own embeddings of the tower's width (the original's
            `untied_generator_embeddings`); by default both use the discriminator's embeddings (`embedding_size`
            wide, projected per tower).
    """

    model_type = "electra_two_tower"

    untied_tower_embeddings: bool = False


def tower_attention_mask(attention_mask: torch.Tensor, left_to_right: bool, dtype: torch.dtype,
                         attn_implementation: str) -> torch.Tensor:
    """The [batch, 1, L, L] mask of one tower: padding keys and the other direction's keys hidden.

    The original adds -10000 to hidden keys, so a query with no visible key (a pad in the right-to-left tower)
    attends to every key; a boolean row with no key would give NaN, so such rows are opened as the original's are.
    """
    seq_len = attention_mask.shape[1]
    causal = torch.ones(seq_len, seq_len, dtype=torch.bool, device=attention_mask.device)
    causal = causal.tril() if left_to_right else causal.triu()
    visible = attention_mask.bool()[:, None, None, :] & causal
    visible = visible | ~visible.any(-1, keepdim=True)
    if attn_implementation in ("sdpa", PACKED_DROPOUT_ATTENTION):
        return visible
    if attn_implementation == "eager":
        return torch.zeros(visible.shape, dtype=dtype, device=visible.device).masked_fill_(
            ~visible, torch.finfo(dtype).min)
    raise ValueError(f"attn_implementation={attn_implementation!r}: the two-tower generator's causal masks need "
                     "'sdpa' or 'eager'.")


class ElectraClozePredictions(nn.Module):
    """`cloze_predictions/{dense,LayerNorm}`: [ltr; rtl] (2 x tower width) -> embedding width, as get_token_logits."""

    def __init__(self, config: ElectraTwoTowerConfig):
        super().__init__()
        self.dense = nn.Linear(2 * config.hidden_size, config.embedding_size)
        self.activation = get_activation(config.hidden_act)
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.activation(self.dense(hidden_states)))


class ElectraTwoTowerGenerator(PreTrainedModel):
    """The two-tower cloze generator: `ltr` and `rtl` towers, `cloze_predictions`, `cloze_lm_head`.

    `forward` returns the cloze logits [batch, seq, vocab]: at position t, a distribution over token t given every
    other token. The output layer is tied to the left-to-right tower's word embeddings, as the original's.
    """

    config_class = ElectraTwoTowerConfig
    base_model_prefix = "ltr"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_attention_backend = True

    def __init__(self, config: ElectraTwoTowerConfig):
        if not config.tie_word_embeddings:
            raise ValueError("the two-tower generator's output layer is its word embeddings (the original's): "
                             "tie_word_embeddings=False is not supported.")
        super().__init__(config)
        self.ltr = ElectraModel(config)
        self.rtl = ElectraModel(config)
        self.cloze_predictions = ElectraClozePredictions(config)
        self.cloze_lm_head = nn.Linear(config.embedding_size, config.vocab_size)
        self._tied_weights_keys = {"cloze_lm_head.weight": "ltr.embeddings.word_embeddings.weight"}
        if not config.untied_tower_embeddings:
            self._tied_weights_keys.update({f"rtl.embeddings.{name}": f"ltr.embeddings.{name}"
                                            for name, _ in self.ltr.embeddings.named_parameters()})
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.ltr.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.ltr.embeddings.word_embeddings = value

    def get_output_embeddings(self) -> nn.Module:
        return self.cloze_lm_head

    def share_embeddings(self, embeddings: nn.Module) -> None:
        """Make both towers read `embeddings` (e.g. the discriminator's) and tie the output layer to it."""
        self.ltr.embeddings = embeddings
        if not self.config.untied_tower_embeddings:
            self.rtl.embeddings = embeddings
        self.tie_weights()

    def tower_outputs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                      token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """`[ltr(t-1); rtl(t+1)]` at every position t, shifted circularly as the original's `roll`.

        Position 0 therefore takes ltr(L-1) and position L-1 takes rtl(0): both see every token, themselves
        included; they hold [CLS] and [SEP]/padding, which are never cloze targets.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        outputs = []
        for tower, left_to_right in ((self.ltr, True), (self.rtl, False)):
            mask = tower_attention_mask(attention_mask, left_to_right, tower.embeddings.LayerNorm.weight.dtype,
                                        self.config._attn_implementation)
            hidden = tower(input_ids, attention_mask=mask, token_type_ids=token_type_ids).last_hidden_state
            outputs.append(hidden.roll(1 if left_to_right else -1, dims=1))
        return torch.cat(outputs, dim=-1)

    def cloze_hidden(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                     token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """[batch, seq, embedding]: what `cloze_lm_head` projects to the vocabulary at every position."""
        return self.cloze_predictions(self.tower_outputs(input_ids, attention_mask, token_type_ids))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> MaskedLMOutput:
        """`logits` [batch, seq, vocab]: the cloze distribution of every position."""
        return MaskedLMOutput(logits=self.cloze_lm_head(self.cloze_hidden(input_ids, attention_mask, token_type_ids)))


def saved_generator_class(name_or_path: str) -> type[PreTrainedModel]:
    """The class of a saved generator (a directory or Hub id): the two-tower one, or a stock masked LM."""
    model_type = PreTrainedConfig.get_config_dict(name_or_path)[0].get("model_type")
    return ElectraTwoTowerGenerator if model_type == ElectraTwoTowerConfig.model_type else ElectraForMaskedLM
