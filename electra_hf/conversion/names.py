"""The original checkpoint's variable names and transformers' parameter names (spec §12), as one table used in
both directions. TensorFlow dense kernels are [in, out]; torch Linear weights are [out, in]."""

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

# What each half reads: (TF scope of the shared or own embeddings, TF scope of its encoder, its head modules)
DISCRIMINATOR_HEAD = [("discriminator_predictions/dense", "discriminator_predictions.dense", DENSE),
                      ("discriminator_predictions/dense_1", "discriminator_predictions.dense_prediction", DENSE)]
GENERATOR_HEAD = [("generator_predictions/dense", "generator_predictions.dense", DENSE),
                  ("generator_predictions/LayerNorm", "generator_predictions.LayerNorm", LAYER_NORM)]
GENERATOR_OUTPUT_BIAS = ("generator_predictions/output_bias", "generator_lm_head.bias")


def name_table(embeddings_scope: str, encoder_scope: str, num_layers: int, has_projection: bool,
               head: list[tuple[str, str, dict]], output_bias: bool = False) -> list[tuple[str, str, bool]]:
    """(TF name, HF name, transpose) for every tensor of one half.

    `embeddings_scope`: "electra" (the shared embeddings) or "generator" (untied generator embeddings);
    `encoder_scope`: "electra" (the discriminator, or a generator tied to it) or "generator".
    """
    table = [(f"{embeddings_scope}/embeddings/{tf}", f"electra.embeddings.{hf}", False) for tf, hf in EMBEDDING_TABLES]
    table += [(f"{embeddings_scope}/embeddings/LayerNorm/{tf}", f"electra.embeddings.LayerNorm.{hf}", False)
              for tf, hf in LAYER_NORM.items()]
    if has_projection:
        table += [(f"{encoder_scope}/embeddings_project/{tf}", f"electra.embeddings_project.{hf}", tf == "kernel")
                  for tf, hf in DENSE.items()]
    for i in range(num_layers):
        for tf_module, hf_module in LAYER_MODULES:
            leaves = LAYER_NORM if tf_module.endswith("LayerNorm") else DENSE
            table += [(f"{encoder_scope}/encoder/layer_{i}/{tf_module}/{tf}",
                       f"electra.encoder.layer.{i}.{hf_module}.{hf}", tf == "kernel") for tf, hf in leaves.items()]
    for tf_module, hf_module, leaves in head:
        table += [(f"{tf_module}/{tf}", f"{hf_module}.{hf}", tf == "kernel") for tf, hf in leaves.items()]
    if output_bias:
        table.append((*GENERATOR_OUTPUT_BIAS, False))
    return table


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
