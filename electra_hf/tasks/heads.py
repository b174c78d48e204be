"""What every fine-tuning model of the original shares: an ELECTRA encoder under task layers initialised as
`tf.layers.dense` initialises them (Glorot-uniform weights, zero biases), not as the encoder's."""

from __future__ import annotations

from transformers import ElectraPreTrainedModel
from transformers import initialization as init


class ElectraWithTaskHead(ElectraPreTrainedModel):
    """Subclasses name their task layers in `head_names`; those get Glorot-uniform weights and zero biases."""

    head_names: tuple[str, ...] = ()

    def _init_weights(self, module):
        if any(module is getattr(self, name, None) for name in self.head_names):
            init.xavier_uniform_(module.weight)
            init.zeros_(module.bias)
        else:
            super()._init_weights(module)
