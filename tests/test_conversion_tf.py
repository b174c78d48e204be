"""TensorFlow as the oracle for the converter (runs when tensorflow is installed; CI installs tensorflow-cpu):
checkpoints TF writes are read identically, checkpoints we write are read identically by TF, and an ELECTRA
written by TF and run with TF ops in the original's layout (spec §5, §12) gives the outputs of the converted
transformers models."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from transformers import ElectraForMaskedLM, ElectraForPreTraining  # noqa: E402

from electra_hf.conversion.convert import hf_to_tf, tf_to_hf  # noqa: E402
from electra_hf.conversion.tf_bundle import TFCheckpointReader, write_tf_checkpoint  # noqa: E402

tf = pytest.importorskip("tensorflow")
tf1 = tf.compat.v1


def tf_save(prefix: str, arrays: dict[str, np.ndarray], dtypes: dict[str, object] | None = None) -> str:
    """Save `arrays` as variables with these names through TF1's Saver, as the original code does."""
    graph = tf.Graph()
    with graph.as_default():
        for name, value in arrays.items():
            tf1.get_variable(name, initializer=tf.constant(value, dtype=(dtypes or {}).get(name)))
        saver = tf1.train.Saver()
        with tf1.Session(graph=graph) as session:
            session.run(tf1.global_variables_initializer())
            return saver.save(session, prefix)


def as_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.float().numpy() if tensor.dtype == torch.bfloat16 else tensor.numpy()


def test_reads_what_tensorflow_writes(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"electra/embeddings/word_embeddings": rng.standard_normal((300, 40)).astype(np.float32),
              "f64": rng.standard_normal(7), "i32": np.arange(5, dtype=np.int32), "i64": np.int64(123456789012),
              "i8": np.array([-3, 4], dtype=np.int8), "f16": np.array([0.5, -2.0], dtype=np.float16),
              "bf16": np.array([1.5, -0.25, 3.0], dtype=np.float32), "flag": np.array([True, False]),
              "scalar": np.float32(2.5), **{f"many/layer_{i}/kernel": np.full((3,), i, np.float32) for i in range(200)}}
    prefix = tf_save(str(tmp_path / "model.ckpt"), arrays, {"bf16": tf.bfloat16})
    reader = TFCheckpointReader(str(tmp_path))
    assert set(reader.entries) == set(arrays)
    for name, value in arrays.items():
        ours = reader.get_tensor(name)
        assert ours.dtype == (torch.bfloat16 if name == "bf16" else torch.from_numpy(np.asarray(value)).dtype), name
        np.testing.assert_array_equal(as_numpy(ours), np.asarray(value, dtype=as_numpy(ours).dtype))
    assert reader.prefix == prefix


@pytest.mark.parametrize("shards", [1, 2])
def test_tensorflow_reads_what_we_write(tmp_path, shards):
    torch.manual_seed(0)
    tensors = {"a/kernel": torch.randn(64, 33), "b/bf16": torch.randn(5).bfloat16(), "c/half": torch.randn(3).half(),
               "d/int64": torch.tensor([1, -2, 3]), "e/int32": torch.arange(6, dtype=torch.int32).reshape(2, 3),
               "f/double": torch.randn(2, dtype=torch.float64), "g/bool": torch.tensor([True, False]),
               "global_step": torch.tensor(9), **{f"many/{i:03d}": torch.full((2,), float(i)) for i in range(150)}}
    write_tf_checkpoint(str(tmp_path / "model.ckpt-9"), tensors.items(), num_shards=shards)
    reader = tf.train.load_checkpoint(str(tmp_path / "model.ckpt-9"))
    assert set(reader.get_variable_to_shape_map()) == set(tensors)
    for name, tensor in tensors.items():
        np.testing.assert_array_equal(np.asarray(reader.get_tensor(name), dtype=as_numpy(tensor).dtype),
                                      as_numpy(tensor))


# ---- an ELECTRA in TensorFlow ops, the original's layout -------------------------------------------------

V, P, T, E, H, INNER, L, HEADS = 100, 32, 2, 64, 128, 256, 2, 2  # H // 64 = 2 heads, as the converter assumes
GH, GI = 32, 128  # generator: 1 head, a projection from E


def electra_arrays(rng) -> dict[str, np.ndarray]:
    def dense(scope, n_in, n_out):
        return {f"{scope}/kernel": rng.normal(0, 0.1, (n_in, n_out)), f"{scope}/bias": rng.normal(0, 0.1, n_out)}

    def layer_norm(scope, n):
        return {f"{scope}/gamma": 1 + rng.normal(0, 0.1, n), f"{scope}/beta": rng.normal(0, 0.1, n)}

    def encoder(scope, hidden, inner):
        arrays = dense(f"{scope}/embeddings_project", E, hidden)
        for i in range(L):
            layer = f"{scope}/encoder/layer_{i}"
            for part in ("query", "key", "value"):
                arrays.update(dense(f"{layer}/attention/self/{part}", hidden, hidden))
            arrays.update({**dense(f"{layer}/attention/output/dense", hidden, hidden),
                           **layer_norm(f"{layer}/attention/output/LayerNorm", hidden),
                           **dense(f"{layer}/intermediate/dense", hidden, inner),
                           **dense(f"{layer}/output/dense", inner, hidden),
                           **layer_norm(f"{layer}/output/LayerNorm", hidden)})
        return arrays

    arrays = {"electra/embeddings/word_embeddings": rng.normal(0, 0.5, (V, E)),
              "electra/embeddings/position_embeddings": rng.normal(0, 0.1, (P, E)),
              "electra/embeddings/token_type_embeddings": rng.normal(0, 0.1, (T, E)),
              **layer_norm("electra/embeddings/LayerNorm", E), **encoder("electra", H, INNER),
              **encoder("generator", GH, GI),
              **dense("discriminator_predictions/dense", H, H), **dense("discriminator_predictions/dense_1", H, 1),
              **dense("generator_predictions/dense", GH, E), **layer_norm("generator_predictions/LayerNorm", E),
              "generator_predictions/output_bias": rng.normal(0, 0.1, V), "global_step": np.int64(1000)}
    arrays.update({f"{name}/adam_m": np.zeros_like(value) for name, value in list(arrays.items())
                   if name != "global_step"})
    return {k: np.asarray(v, dtype=np.float32) if k != "global_step" else v for k, v in arrays.items()}


def tf_forward(w, input_ids, token_type_ids, input_mask):
    """modeling.py's BertModel (embeddings, projection, post-LN layers, -10000 attention mask, erf GELU) and
    run_pretraining.py's heads, written with TF ops on the checkpoint's variables."""
    def gelu(x):
        return 0.5 * x * (1.0 + tf.math.erf(x / np.sqrt(2.0)))

    def layer_norm(x, scope):
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + 1e-12) * w[f"{scope}/gamma"] + w[f"{scope}/beta"]

    def dense(x, scope, activation=None):
        y = tf.matmul(x, w[f"{scope}/kernel"]) + w[f"{scope}/bias"]
        return activation(y) if activation else y

    def encoder(scope, heads):
        x = (tf.gather(w["electra/embeddings/word_embeddings"], input_ids)
             + w["electra/embeddings/position_embeddings"][:input_ids.shape[1]]
             + tf.gather(w["electra/embeddings/token_type_embeddings"], token_type_ids))
        x = dense(layer_norm(x, "electra/embeddings/LayerNorm"), f"{scope}/embeddings_project")
        batch, length, hidden = x.shape
        size = hidden // heads
        adder = (1.0 - tf.cast(input_mask[:, None, None, :], tf.float32)) * -10000.0
        for i in range(L):
            layer = f"{scope}/encoder/layer_{i}"

            def split(t):
                return tf.transpose(tf.reshape(t, [batch, length, heads, size]), [0, 2, 1, 3])
            q, k, v = (split(dense(x, f"{layer}/attention/self/{p}")) for p in ("query", "key", "value"))
            scores = tf.matmul(q, k, transpose_b=True) / np.sqrt(size) + adder
            context = tf.transpose(tf.matmul(tf.nn.softmax(scores), v), [0, 2, 1, 3])
            context = tf.reshape(context, [batch, length, hidden])
            x = layer_norm(dense(context, f"{layer}/attention/output/dense") + x, f"{layer}/attention/output/LayerNorm")
            inner = dense(x, f"{layer}/intermediate/dense", gelu)
            x = layer_norm(dense(inner, f"{layer}/output/dense") + x, f"{layer}/output/LayerNorm")
        return x

    disc = tf.squeeze(dense(dense(encoder("electra", HEADS), "discriminator_predictions/dense", gelu),
                            "discriminator_predictions/dense_1"), -1)
    gen = layer_norm(dense(encoder("generator", 1), "generator_predictions/dense", gelu),
                     "generator_predictions/LayerNorm")
    gen_logits = tf.matmul(gen, w["electra/embeddings/word_embeddings"], transpose_b=True) + w[
        "generator_predictions/output_bias"]
    return disc.numpy(), gen_logits.numpy()


def test_converted_models_match_tensorflow_outputs(tmp_path):
    arrays = electra_arrays(np.random.default_rng(0))
    tf_save(str(tmp_path / "tf" / "model.ckpt-1000"), arrays)
    report = tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "hf"))
    assert len(report.skipped["optimizer slots and step counters"]) == len(arrays) // 2 + 1

    rng = np.random.default_rng(1)
    input_ids = rng.integers(1, V, (3, 12))
    token_type_ids = np.concatenate([np.zeros((3, 5), int), np.ones((3, 7), int)], 1)
    input_mask = np.ones((3, 12), int)
    input_mask[1, 8:] = 0  # a padded row
    input_ids[1, 8:] = 0
    tf_disc, tf_gen = tf_forward(arrays, input_ids, token_type_ids, input_mask)

    inputs = {"input_ids": torch.tensor(input_ids), "token_type_ids": torch.tensor(token_type_ids),
              "attention_mask": torch.tensor(input_mask)}
    with torch.no_grad():
        disc = ElectraForPreTraining.from_pretrained(tmp_path / "hf" / "discriminator").eval()(**inputs).logits
        gen = ElectraForMaskedLM.from_pretrained(tmp_path / "hf" / "generator").eval()(**inputs).logits
    keep = input_mask.astype(bool)  # padded positions are not compared: their values are meaningless in both
    np.testing.assert_allclose(disc.numpy()[keep], tf_disc[keep], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(gen.numpy()[keep], tf_gen[keep], atol=1e-5, rtol=1e-5)

    # and back: hf2tf writes what TensorFlow reads as the same variables, slots and step aside
    hf_to_tf(str(tmp_path / "back"), str(tmp_path / "hf" / "discriminator"), str(tmp_path / "hf" / "generator"),
             global_step=1000)
    reader = tf.train.load_checkpoint(str(tmp_path / "back"))
    weights = {k: v for k, v in arrays.items() if not k.endswith("adam_m")}
    assert set(reader.get_variable_to_shape_map()) == set(weights)
    for name, value in weights.items():
        np.testing.assert_array_equal(reader.get_tensor(name), value)
