"""The original checkpoint's variable names and transformers' parameter names (the original's scopes, model/modeling.py
and run_pretraining.py), as one table used in both directions. TensorFlow dense kernels are [in, out]; torch Linear
weights are [out, in]."""

from __future__ import annotations

import re

# (TF scope suffix, HF module suffix, transpose the kernel) for one encoder layer
LAYER_MODULES = [
    ("attention/self/query", "attention.self.query"), ("attention/self/key", "attention.self.key"),
    ("attention/self/value", "attention.self.value"), ("attention/output/dense", "attention.output.dense"),
    ("attention/output/LayerNorm", "attention.output.LayerNorm"), ("intermediate/dense", "intermediate.dense"),
    ("output/dense", "output.dense"), ("output/LayerNorm", "output.LayerNorm"),
]
EMBEDDING_TABLES = [(name, f"{name}.weight") for name in
                    ("word_embeddings", "position_embeddings", "token_type_embeddings")]
# TF variable leaf -> torch parameter leaf, per kind of module
DENSE = {"kernel": "weight", "bias": "bias"}
LAYER_NORM = {"gamma": "weight", "beta": "bias"}

# The heads: (TF scope, HF module, leaf map); the output biases (their output weights are the word embeddings)
DISCRIMINATOR_HEAD = [("discriminator_predictions/dense", "discriminator_predictions.dense", DENSE),
                      ("discriminator_predictions/dense_1", "discriminator_predictions.dense_prediction", DENSE)]
GENERATOR_HEAD = [("generator_predictions/dense", "generator_predictions.dense", DENSE),
                  ("generator_predictions/LayerNorm", "generator_predictions.LayerNorm", LAYER_NORM)]
GENERATOR_OUTPUT_BIAS = ("generator_predictions/output_bias", "generator_lm_head.bias")
# Electric's two-tower generator (run_pretraining.py:243-251, 288-315): towers `generator_ltr` / `generator_rtl`,
# the cloze head on [ltr; rtl] (dense kernel [2h, E]) and its output bias
TOWERS = (("generator_ltr", "ltr"), ("generator_rtl", "rtl"))
CLOZE_HEAD = [("cloze_predictions/dense", "cloze_predictions.dense", DENSE),
              ("cloze_predictions/LayerNorm", "cloze_predictions.LayerNorm", LAYER_NORM)]
CLOZE_OUTPUT_BIAS = ("cloze_predictions/output_bias", "cloze_lm_head.bias")


def head_table(head: list[tuple[str, str, dict]], output_bias: tuple[str, str] | None = None
               ) -> list[tuple[str, str, bool]]:
    """(TF name, HF name, transpose) for a head's modules and its output bias (TF name, HF name)."""
    table = [(f"{tf_module}/{tf}", f"{hf_module}.{hf}", tf == "kernel")
             for tf_module, hf_module, leaves in head for tf, hf in leaves.items()]
    return table + ([(*output_bias, False)] if output_bias else [])


def name_table(embeddings_scope: str | None, encoder_scope: str, num_layers: int, has_projection: bool,
               head: list[tuple[str, str, dict]], output_bias: tuple[str, str] | None = None,
               hf_prefix: str = "electra") -> list[tuple[str, str, bool]]:
    """(TF name, HF name, transpose) for every tensor of one network.

    `embeddings_scope`: "electra" (the shared embeddings), the network's own scope (untied embeddings) or None
    (embeddings tied to another table's in transformers, e.g. the right-to-left tower's shared ones);
    `encoder_scope`: where its `embeddings_project` and `encoder` live ("electra", "generator", "generator_ltr", ...);
    `hf_prefix`: the transformers module holding the encoder ("electra", or a tower: "ltr", "rtl");
    `output_bias`: (TF name, HF name) of the head's output bias.
    """
    table = []
    if embeddings_scope is not None:
        table += [(f"{embeddings_scope}/embeddings/{tf}", f"{hf_prefix}.embeddings.{hf}", False)
                  for tf, hf in EMBEDDING_TABLES]
        table += [(f"{embeddings_scope}/embeddings/LayerNorm/{tf}", f"{hf_prefix}.embeddings.LayerNorm.{hf}", False)
                  for tf, hf in LAYER_NORM.items()]
    if has_projection:
        table += [(f"{encoder_scope}/embeddings_project/{tf}", f"{hf_prefix}.embeddings_project.{hf}",
                   tf == "kernel") for tf, hf in DENSE.items()]
    for i in range(num_layers):
        for tf_module, hf_module in LAYER_MODULES:
            leaves = LAYER_NORM if tf_module.endswith("LayerNorm") else DENSE
            table += [(f"{encoder_scope}/encoder/layer_{i}/{tf_module}/{tf}",
                       f"{hf_prefix}.encoder.layer.{i}.{hf_module}.{hf}", tf == "kernel") for tf, hf in leaves.items()]
    return table + head_table(head, output_bias)


def two_tower_table(num_layers: int, has_projection: bool, untied_embeddings: bool) -> list[tuple[str, str, bool]]:
    """(TF name, HF name, transpose) for every tensor of Electric's two-tower generator
    (`ElectraTwoTowerGenerator`). Shared embeddings are `electra/embeddings/*`, read by the left-to-right tower
    (the right-to-left tower's are tied to them); untied ones are `generator_ltr/embeddings/*` and
    `generator_rtl/embeddings/*`, each tower's own."""
    table = []
    for tf_scope, hf_tower in TOWERS:
        embeddings = tf_scope if untied_embeddings else ("electra" if hf_tower == "ltr" else None)
        table += name_table(embeddings, tf_scope, num_layers, has_projection, [], hf_prefix=hf_tower)
    return table + head_table(CLOZE_HEAD, CLOZE_OUTPUT_BIAS)


def count_layers(names, encoder_scope: str) -> int:
    """Encoder layers under `encoder_scope` (`<scope>/encoder/layer_<i>/...`)."""
    pattern = re.compile(rf"^{re.escape(encoder_scope)}/encoder/layer_(\d+)/")
    indices = {int(m.group(1)) for name in names if (m := pattern.match(name))}
    if indices and indices != set(range(len(indices))):
        raise ValueError(f"{encoder_scope}/encoder has layers {sorted(indices)}: some are missing.")
    return len(indices)


def is_bookkeeping(name: str) -> bool:
    """Optimizer slots, the step counter and other training state (never model weights)."""
    return (name.endswith(("/adam_m", "/adam_v", "/Adam", "/Adam_1", "/Momentum")) or "global_step" in name
            or name in ("beta1_power", "beta2_power") or "temperature" in name)
