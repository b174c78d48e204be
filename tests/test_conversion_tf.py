"""TensorFlow as the oracle for the converter (runs when tensorflow is installed; CI installs tensorflow-cpu):
checkpoints TF writes are read identically, checkpoints we write are read identically by TF, and an ELECTRA
written by TF and run with TF ops in the original's layout (model/modeling.py) gives the outputs of the converted
transformers models."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from transformers import ElectraForMaskedLM, ElectraForPreTraining  # noqa: E402

from electra_hf import ElectraPretrainingModel  # noqa: E402
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


def dense_arrays(rng, scope, n_in, n_out):
    return {f"{scope}/kernel": rng.normal(0, 0.1, (n_in, n_out)), f"{scope}/bias": rng.normal(0, 0.1, n_out)}


def layer_norm_arrays(rng, scope, n):
    return {f"{scope}/gamma": 1 + rng.normal(0, 0.1, n), f"{scope}/beta": rng.normal(0, 0.1, n)}


def embedding_arrays(rng, scope, width):
    return {f"{scope}/embeddings/word_embeddings": rng.normal(0, 0.5, (V, width)),
            f"{scope}/embeddings/position_embeddings": rng.normal(0, 0.1, (P, width)),
            f"{scope}/embeddings/token_type_embeddings": rng.normal(0, 0.1, (T, width)),
            **layer_norm_arrays(rng, f"{scope}/embeddings/LayerNorm", width)}


def encoder_arrays(rng, scope, hidden, inner, width_in=E):
    arrays = dense_arrays(rng, f"{scope}/embeddings_project", width_in, hidden) if width_in != hidden else {}
    for i in range(L):
        layer = f"{scope}/encoder/layer_{i}"
        for part in ("query", "key", "value"):
            arrays.update(dense_arrays(rng, f"{layer}/attention/self/{part}", hidden, hidden))
        arrays.update({**dense_arrays(rng, f"{layer}/attention/output/dense", hidden, hidden),
                       **layer_norm_arrays(rng, f"{layer}/attention/output/LayerNorm", hidden),
                       **dense_arrays(rng, f"{layer}/intermediate/dense", hidden, inner),
                       **dense_arrays(rng, f"{layer}/output/dense", inner, hidden),
                       **layer_norm_arrays(rng, f"{layer}/output/LayerNorm", hidden)})
    return arrays


def as_checkpoint(arrays: dict) -> dict[str, np.ndarray]:
    """float32 variables, Adam's adam_m slots and the step, as pre-training leaves them."""
    arrays = {**arrays, "global_step": np.int64(1000)}
    arrays.update({f"{name}/adam_m": np.zeros_like(value) for name, value in list(arrays.items())
                   if name != "global_step"})
    return {k: np.asarray(v, dtype=np.float32) if k != "global_step" else v for k, v in arrays.items()}


def electra_arrays(rng) -> dict[str, np.ndarray]:
    return as_checkpoint({
        **embedding_arrays(rng, "electra", E), **encoder_arrays(rng, "electra", H, INNER),
        **encoder_arrays(rng, "generator", GH, GI),
        **dense_arrays(rng, "discriminator_predictions/dense", H, H),
        **dense_arrays(rng, "discriminator_predictions/dense_1", H, 1),
        **dense_arrays(rng, "generator_predictions/dense", GH, E),
        **layer_norm_arrays(rng, "generator_predictions/LayerNorm", E),
        "generator_predictions/output_bias": rng.normal(0, 0.1, V)})


def gelu(x):
    return 0.5 * x * (1.0 + tf.math.erf(x / np.sqrt(2.0)))


def tf_layer_norm(w, x, scope):
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + 1e-12) * w[f"{scope}/gamma"] + w[f"{scope}/beta"]


def tf_dense(w, x, scope, activation=None):
    y = tf.matmul(x, w[f"{scope}/kernel"]) + w[f"{scope}/bias"]
    return activation(y) if activation else y


def tf_encoder(w, scope, heads, input_ids, token_type_ids, input_mask, embeddings="electra", causal=None):
    """modeling.py's BertModel: embeddings (`<embeddings>/embeddings`), the projection when there is one,
    post-LN layers, the -10000 attention mask times the causal band of an Electric tower (`causal`: "ltr" or
    "rtl", modeling.py:239-245), erf GELU."""
    x = (tf.gather(w[f"{embeddings}/embeddings/word_embeddings"], input_ids)
         + w[f"{embeddings}/embeddings/position_embeddings"][:input_ids.shape[1]]
         + tf.gather(w[f"{embeddings}/embeddings/token_type_embeddings"], token_type_ids))
    x = tf_layer_norm(w, x, f"{embeddings}/embeddings/LayerNorm")
    if f"{scope}/embeddings_project/kernel" in w:
        x = tf_dense(w, x, f"{scope}/embeddings_project")
    batch, length, hidden = x.shape
    size = hidden // heads
    mask = tf.cast(input_mask[:, None, None, :], tf.float32) * tf.ones((1, 1, length, 1))
    if causal:
        band = tf.ones((length, length))
        mask *= tf.linalg.band_part(band, -1, 0) if causal == "ltr" else tf.linalg.band_part(band, 0, -1)
    adder = (1.0 - mask) * -10000.0
    for i in range(L):
        layer = f"{scope}/encoder/layer_{i}"

        def split(t):
            return tf.transpose(tf.reshape(t, [batch, length, heads, size]), [0, 2, 1, 3])
        q, k, v = (split(tf_dense(w, x, f"{layer}/attention/self/{p}")) for p in ("query", "key", "value"))
        scores = tf.matmul(q, k, transpose_b=True) / np.sqrt(size) + adder
        context = tf.transpose(tf.matmul(tf.nn.softmax(scores), v), [0, 2, 1, 3])
        context = tf.reshape(context, [batch, length, hidden])
        x = tf_layer_norm(w, tf_dense(w, context, f"{layer}/attention/output/dense") + x,
                          f"{layer}/attention/output/LayerNorm")
        inner = tf_dense(w, x, f"{layer}/intermediate/dense", gelu)
        x = tf_layer_norm(w, tf_dense(w, inner, f"{layer}/output/dense") + x, f"{layer}/output/LayerNorm")
    return x


def tf_discriminator(w, *inputs):
    hidden = tf_dense(w, tf_encoder(w, "electra", HEADS, *inputs), "discriminator_predictions/dense", gelu)
    return tf.squeeze(tf_dense(w, hidden, "discriminator_predictions/dense_1"), -1).numpy()


def tf_token_logits(w, hidden, scope, table):
    """run_pretraining.py's get_token_logits: dense + GELU, LayerNorm, the tied output layer, output_bias."""
    hidden = tf_layer_norm(w, tf_dense(w, hidden, f"{scope}/dense", gelu), f"{scope}/LayerNorm")
    return (tf.matmul(hidden, w[table], transpose_b=True) + w[f"{scope}/output_bias"]).numpy()


def tf_forward(w, input_ids, token_type_ids, input_mask):
    """modeling.py's BertModel and run_pretraining.py's heads, written with TF ops on the checkpoint's variables."""
    inputs = (input_ids, token_type_ids, input_mask)
    gen = tf_encoder(w, "generator", 1, *inputs)
    return (tf_discriminator(w, *inputs),
            tf_token_logits(w, gen, "generator_predictions", "electra/embeddings/word_embeddings"))


def tf_electric_cloze(w, input_ids, token_type_ids, input_mask, untied):
    """TwoTowerClozeTransformer (run_pretraining.py:288-335) and the cloze head (243-251): the towers read the
    text, [roll(ltr, -1); roll(rtl, 1)] with the original's `roll`, the output layer tied to the ltr table."""
    def roll(arr, direction):
        return tf.concat([arr[:, direction:, :], arr[:, :direction, :]], axis=1)

    towers = [tf_encoder(w, scope, 1, input_ids, token_type_ids, input_mask,
                         embeddings=scope if untied else "electra", causal=causal)
              for scope, causal in (("generator_ltr", "ltr"), ("generator_rtl", "rtl"))]
    table = f"{'generator_ltr' if untied else 'electra'}/embeddings/word_embeddings"
    return tf_token_logits(w, tf.concat([roll(towers[0], -1), roll(towers[1], 1)], -1), "cloze_predictions", table)


def sample_inputs():
    rng = np.random.default_rng(1)
    input_ids = rng.integers(1, V, (3, 12))
    token_type_ids = np.concatenate([np.zeros((3, 5), int), np.ones((3, 7), int)], 1)
    input_mask = np.ones((3, 12), int)
    input_mask[1, 8:] = 0  # a padded row
    input_ids[1, 8:] = 0
    return input_ids, token_type_ids, input_mask


def test_converted_models_match_tensorflow_outputs(tmp_path):
    arrays = electra_arrays(np.random.default_rng(0))
    tf_save(str(tmp_path / "tf" / "model.ckpt-1000"), arrays)
    report = tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "hf"))
    assert len(report.skipped["optimizer slots and step counters"]) == len(arrays) // 2 + 1

    input_ids, token_type_ids, input_mask = sample_inputs()
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


@pytest.mark.parametrize("untied", [False, True], ids=["shared", "untied_embeddings"])
def test_converted_electric_pair_matches_tensorflow_outputs(tmp_path, untied):
    """Electric as the original saves it (run_pretraining.py:288-335): towers generator_ltr/generator_rtl, shared
    electra/embeddings with a projection per tower or each tower's own embeddings, cloze_predictions/*."""
    rng = np.random.default_rng(0)
    width = GH if untied else E
    arrays = {**embedding_arrays(rng, "electra", E), **encoder_arrays(rng, "electra", H, INNER),
              **dense_arrays(rng, "discriminator_predictions/dense", H, H),
              **dense_arrays(rng, "discriminator_predictions/dense_1", H, 1),
              **dense_arrays(rng, "cloze_predictions/dense", 2 * GH, width),
              **layer_norm_arrays(rng, "cloze_predictions/LayerNorm", width),
              "cloze_predictions/output_bias": rng.normal(0, 0.1, V)}
    for scope in ("generator_ltr", "generator_rtl"):
        arrays.update(encoder_arrays(rng, scope, GH, GI, width_in=width))
        if untied:
            arrays.update(embedding_arrays(rng, scope, GH))
    arrays = as_checkpoint(arrays)
    tf_save(str(tmp_path / "tf" / "model.ckpt-1000"), arrays)
    tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "hf"))

    input_ids, token_type_ids, input_mask = sample_inputs()
    tf_cloze = tf_electric_cloze(arrays, input_ids, token_type_ids, input_mask, untied)
    tf_disc = tf_discriminator(arrays, input_ids, token_type_ids, input_mask)
    pair = ElectraPretrainingModel.from_pretrained(tmp_path / "hf").eval()
    assert pair.config.objective == "electric"
    inputs = {"input_ids": torch.tensor(input_ids), "token_type_ids": torch.tensor(token_type_ids),
              "attention_mask": torch.tensor(input_mask)}
    with torch.no_grad():
        cloze, disc = pair.generator(**inputs).logits.numpy(), pair.discriminator(**inputs).logits.numpy()
    keep = input_mask.astype(bool)
    np.testing.assert_allclose(disc[keep], tf_disc[keep], atol=1e-5, rtol=1e-5)
    # the last real token of the padded row reads the right-to-left tower at a pad, a query that sees no key:
    # TF's -10000 on every key (float32: rounded scores) against an unmasked row, equal to ~1e-4 only
    last = np.zeros_like(keep)
    last[1, 7] = True
    np.testing.assert_allclose(cloze[keep & ~last], tf_cloze[keep & ~last], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(cloze[last], tf_cloze[last], atol=1e-3, rtol=1e-3)

    # and back: TensorFlow reads our Electric checkpoint as the same variables
    hf_to_tf(str(tmp_path / "back"), pair=str(tmp_path / "hf"), global_step=1000)
    reader = tf.train.load_checkpoint(str(tmp_path / "back"))
    weights = {k: v for k, v in arrays.items() if not k.endswith("adam_m")}
    assert set(reader.get_variable_to_shape_map()) == set(weights)
    for name, value in weights.items():
        np.testing.assert_array_equal(reader.get_tensor(name), value)
