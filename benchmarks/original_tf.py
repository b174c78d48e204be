"""The original ELECTRA's pre-training step (google-research/electra, TensorFlow 1) as a benchmark baseline.

The original code is not part of this project: point `ELECTRA_ORIG_SRC` at a local work tree of
google-research/electra (e.g. `git clone https://github.com/google-research/electra`). It needs TensorFlow 2.x
and tf-keras (`pip install -e .[benchmarks]`) and runs in `tf.compat.v1` graph mode, unmodified, once two
things TF 2 removed are put back here:
- `tensorflow.contrib.layers.layer_norm`: variable scope `LayerNorm` (or the name given), variables `beta` and
  `gamma`, moments over the last axis, epsilon 1e-12 (what contrib's layer_norm did for these arguments);
- `tf.estimator.SessionRunHook` (the base of `util/training_utils.ETAHook`), which is `tf.train.SessionRunHook`.

`build_train_step(config, rows, vocab_file)` returns a callable that runs one training step of the sizes of an
`ElectraPretrainingConfig`: the original's in-graph masking, generator, Gumbel sampling, discriminator, losses and
its AdamWeightDecay update (run_pretraining.py `PretrainingModel` + model/optimization.py `create_optimizer`).
"""

from __future__ import annotations

import os
import sys
import tempfile
import types

import numpy as np


def _import_original():
    source = os.environ.get("ELECTRA_ORIG_SRC")
    if not source or not os.path.exists(os.path.join(source, "run_pretraining.py")):
        raise SystemExit("set ELECTRA_ORIG_SRC to a work tree of google-research/electra "
                         "(the folder holding run_pretraining.py)")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.layers.dense needs Keras 2 (tf-keras)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()

    def layer_norm(inputs, begin_norm_axis=-1, begin_params_axis=-1, scope=None):
        with tf.variable_scope(scope, "LayerNorm", [inputs]):
            size = inputs.shape[-1:]
            beta = tf.get_variable("beta", shape=size, initializer=tf.zeros_initializer())
            gamma = tf.get_variable("gamma", shape=size, initializer=tf.ones_initializer())
            mean, variance = tf.nn.moments(inputs, [-1], keepdims=True)
            return tf.nn.batch_normalization(inputs, mean, variance, offset=beta, scale=gamma,
                                             variance_epsilon=1e-12)

    contrib = types.ModuleType("tensorflow.contrib")
    contrib.layers = types.ModuleType("tensorflow.contrib.layers")
    contrib.layers.layer_norm = layer_norm
    sys.modules["tensorflow.contrib"] = contrib
    sys.modules["tensorflow.contrib.layers"] = contrib.layers
    if not hasattr(tf, "estimator"):
        tf.estimator = types.SimpleNamespace()
    if not hasattr(tf.estimator, "SessionRunHook"):
        tf.estimator.SessionRunHook = tf.train.SessionRunHook
    sys.path.insert(0, source)
    import configure_pretraining
    import run_pretraining
    from model import optimization

    return tf, configure_pretraining, run_pretraining, optimization


def build_train_step(ours, rows: dict[str, np.ndarray], vocab_file: str):
    """One original training step per call on the same `rows` (input_ids, attention_mask, token_type_ids), with
    the network sizes and masking of `ours` (an ElectraPretrainingConfig)."""
    tf, configure_pretraining, run_pretraining, optimization = _import_original()
    data_dir = tempfile.mkdtemp(prefix="electra_orig_")
    os.symlink(os.path.abspath(vocab_file), os.path.join(data_dir, "vocab.txt"))
    disc = ours.discriminator_config
    batch_size, seq_len = rows["input_ids"].shape
    config = configure_pretraining.PretrainingConfig(
        "benchmark", data_dir, max_seq_length=seq_len, train_batch_size=batch_size, use_tpu=False,
        num_train_steps=10_000, num_warmup_steps=10, vocab_size=disc.vocab_size, embedding_size=disc.embedding_size,
        generator_hidden_size=ours.generator_hidden_size, generator_layers=ours.generator_layers,
        mask_prob=ours.mask_prob, electric_objective=ours.objective == "electric", model_hparam_overrides={
            name: getattr(disc, name) for name in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                                   "intermediate_size")})
    graph = tf.Graph()
    with graph.as_default():
        features = {"input_ids": tf.constant(rows["input_ids"], tf.int32),
                    "input_mask": tf.constant(rows["attention_mask"], tf.int32),
                    "segment_ids": tf.constant(rows["token_type_ids"], tf.int32)}
        model = run_pretraining.PretrainingModel(config, features, is_training=True)
        train_op = optimization.create_optimizer(
            model.total_loss, config.learning_rate, config.num_train_steps,
            weight_decay_rate=config.weight_decay_rate, warmup_steps=config.num_warmup_steps,
            lr_decay_power=config.lr_decay_power)
        init = tf.global_variables_initializer()
    session = tf.Session(graph=graph)
    session.run(init)

    def step() -> float:
        loss, _ = session.run([model.total_loss, train_op])
        return float(loss)

    return step
