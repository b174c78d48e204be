"""TF checkpoints without TensorFlow (the original's variable names): the bundle reader/writer, the name tables,
tf2hf/hf2tf, the layouts, bad input. TensorFlow as the oracle is in test_conversion_tf.py."""

import json
import os
import shutil

import pytest
import torch
from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

import convert_tf_checkpoint
from electra_hf import ElectraPretrainingConfig, ElectraPretrainingModel
from electra_hf.conversion.convert import discriminator_names, generator_names, hf_to_tf, tf_to_hf
from electra_hf.conversion.tf_bundle import (
    CheckpointError,
    TensorEntry,
    TFCheckpointReader,
    _write_table,
    write_checkpoint_state,
    write_tf_checkpoint,
)
from electra_hf.two_tower import ElectraTwoTowerGenerator

DTYPES = [torch.float32, torch.float64, torch.int32, torch.uint8, torch.int16, torch.int8, torch.int64, torch.bool,
          torch.bfloat16, torch.float16]


def sample_tensors():
    torch.manual_seed(0)
    tensors = {f"dtype/{str(d).replace('torch.', '')}": (torch.randn(3, 5) * 50).to(d) for d in DTYPES}
    tensors.update({"shape/scalar": torch.tensor(3.5), "shape/empty": torch.zeros(0, 4),
                    "shape/4d": torch.randn(2, 3, 4, 5), "big/tensor": torch.randn(1024, 3000)})  # 12 MB
    tensors.update({f"many/layer_{i}/kernel": torch.full((2,), float(i)) for i in range(300)})  # several blocks
    return tensors


@pytest.mark.parametrize("shards", [1, 3])
def test_writer_reader_round_trip(tmp_path, shards):
    tensors = sample_tensors()
    write_tf_checkpoint(str(tmp_path / "model.ckpt-7"), tensors.items(), num_shards=shards)
    write_checkpoint_state(str(tmp_path), "model.ckpt-7")
    reader = TFCheckpointReader(str(tmp_path))  # through the `checkpoint` file
    assert reader.num_shards == shards and set(reader.entries) == set(tensors)
    for name, tensor in tensors.items():
        read = reader.get_tensor(name)
        assert read.dtype == tensor.dtype and read.shape == tensor.shape and torch.equal(read, tensor), name
    assert TFCheckpointReader(str(tmp_path / "model.ckpt-7.index")).prefix == str(tmp_path / "model.ckpt-7")


def write_small(tmp_path):
    write_tf_checkpoint(str(tmp_path / "model.ckpt-1"), [("a", torch.arange(10.0)), ("b", torch.ones(3, 3))])
    return str(tmp_path / "model.ckpt-1")


def test_corrupted_checkpoints_fail_clearly(tmp_path):
    prefix = write_small(tmp_path)
    index, data = prefix + ".index", prefix + ".data-00000-of-00001"
    original_index, original_data = open(index, "rb").read(), open(data, "rb").read()

    def expect(message, index_bytes=original_index, data_bytes=original_data):
        open(index, "wb").write(index_bytes)
        open(data, "wb").write(data_bytes)
        with pytest.raises(CheckpointError, match=message):
            reader = TFCheckpointReader(prefix)
            for name in reader.entries:
                reader.get_tensor(name)

    expect("bad magic number", index_bytes=original_index[:-3])
    expect("too short", index_bytes=original_index[:10])
    flipped = bytearray(original_index)
    flipped[20] ^= 0xFF
    expect("block checksum mismatch", index_bytes=bytes(flipped))
    corrupted = bytearray(original_data)
    corrupted[5] ^= 0x01
    expect("checksum mismatch for 'a'", data_bytes=bytes(corrupted))
    expect("ends at byte 76 but .* has 50", data_bytes=original_data[:50])
    os.remove(data)
    with pytest.raises(CheckpointError, match="missing data file"):
        TFCheckpointReader(prefix)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        TFCheckpointReader(str(tmp_path / "nothing"))
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(CheckpointError, match="no TensorFlow checkpoint"):
        TFCheckpointReader(str(tmp_path / "empty_dir"))


def test_an_index_that_lies_about_sizes_is_refused_before_reading(tmp_path):
    prefix = write_small(tmp_path)
    huge = TensorEntry("a", 1, (2**40,), 0, 0, 4 * 2**40, 0)  # 4 TiB claimed in a 76-byte file
    header = bytes([0x08, 0x01, 0x1A, 0x02, 0x08, 0x01])
    _write_table(prefix + ".index", [(b"", header), (b"a", huge.serialize())])
    with pytest.raises(CheckpointError, match="ends at byte 4398046511104"):
        TFCheckpointReader(prefix)
    wrong = TensorEntry("a", 1, (3, 3), 0, 0, 8, 0)  # 8 bytes for 9 floats
    _write_table(prefix + ".index", [(b"", header), (b"a", wrong.serialize())])
    with pytest.raises(CheckpointError, match="has 8 bytes for shape"):
        TFCheckpointReader(prefix)


def test_crafted_indexes_are_refused_cheaply(tmp_path):
    prefix = write_small(tmp_path)
    header = bytes([0x08, 0x01, 0x1A, 0x02, 0x08, 0x01])
    entry = TensorEntry("a", 1, (0,), 0, 0, 0, 0).serialize()
    growing = [(b"a" * n, entry) for n in range(1, 4200)]  # each key one byte longer: quadratic if built
    _write_table(prefix + ".index", [(b"", header), *growing])
    with pytest.raises(CheckpointError, match="corrupted (block entry|index)"):
        TFCheckpointReader(prefix)
    _write_table(prefix + ".index", [(b"", header), (b"b", entry), (b"a", entry)])
    with pytest.raises(CheckpointError, match="keys out of order"):
        TFCheckpointReader(prefix)
    shape_as_number = bytes([0x08, 0x01, 0x10, 0x05])  # dtype 1, then field 2 (the shape) as a varint
    _write_table(prefix + ".index", [(b"", header), (b"a", shape_as_number)])
    with pytest.raises(CheckpointError, match="wrong wire type"):
        TFCheckpointReader(prefix)


@pytest.fixture
def pair_dir(tmp_path, tokenizer):
    torch.manual_seed(0)
    model = ElectraPretrainingModel(ElectraPretrainingConfig.from_preset(
        "tiny", model_hparam_overrides={"num_hidden_layers": 2}))
    model.save_pretrained(tmp_path / "pair")
    tokenizer.save_pretrained(tmp_path / "pair" / "discriminator")
    return tmp_path / "pair", model


def test_hf_to_tf_to_hf_is_lossless(pair_dir, tmp_path):
    pair, model = pair_dir
    hf_to_tf(str(tmp_path / "tf"), str(pair / "discriminator"), str(pair / "generator"), global_step=42)
    assert sorted(os.listdir(tmp_path / "tf")) == ["checkpoint", "model.ckpt-42.data-00000-of-00001",
                                                    "model.ckpt-42.index", "vocab.txt"]
    reader = TFCheckpointReader(str(tmp_path / "tf"))
    assert reader.get_tensor("global_step").item() == 42
    # the original's names and layouts: [in, out] kernels, shared embeddings stored once, tied output weight absent
    kernel = reader.get_tensor("electra/encoder/layer_1/intermediate/dense/kernel")
    assert torch.equal(kernel, model.discriminator.electra.encoder.layer[1].intermediate.dense.weight.t())
    assert "generator/embeddings/word_embeddings" not in reader and "generator_predictions/output_bias" in reader
    assert not any(name.startswith("generator_lm_head") for name in reader.entries)

    report = tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "hf"))
    assert report.skipped == {"optimizer slots and step counters": ["global_step"]}
    for half, cls in (("discriminator", ElectraForPreTraining), ("generator", ElectraForMaskedLM)):
        loaded, info = cls.from_pretrained(tmp_path / "hf" / half, output_loading_info=True)
        assert not info["missing_keys"] and not info["unexpected_keys"]
        assert os.path.exists(tmp_path / "hf" / half / "tokenizer.json")  # from the vocab.txt beside it
    again = ElectraPretrainingModel.from_pretrained(tmp_path / "hf")
    before, after = model.state_dict(), again.state_dict()
    assert set(before) == set(after) and all(torch.equal(before[k], after[k]) for k in before)
    assert again.generator.electra.embeddings is again.discriminator.electra.embeddings  # shared again


def test_hf_to_tf_writes_float32_and_refuses_an_untied_output_layer(pair_dir, tmp_path):
    pair, model = pair_dir
    model.discriminator.half().save_pretrained(tmp_path / "half")  # a half-precision upload
    hf_to_tf(str(tmp_path / "tf"), str(tmp_path / "half"))
    reader = TFCheckpointReader(str(tmp_path / "tf"))
    assert {reader.entries[n].dtype_name for n in reader.entries} == {"float32", "int64"}  # int64: global_step
    generator = ElectraForMaskedLM.from_pretrained(pair / "generator", tie_word_embeddings=False)
    with torch.no_grad():
        generator.generator_lm_head.weight.add_(1.0)
    generator.save_pretrained(tmp_path / "untied_head")
    with pytest.raises(ValueError, match="output layer is not tied"):
        hf_to_tf(str(tmp_path / "tf2"), str(pair / "discriminator"), str(tmp_path / "untied_head"))


def test_optimizer_slots_shards_and_heads_from_hparams(pair_dir, tmp_path):
    pair, _ = pair_dir
    hf_to_tf(str(tmp_path / "tf"), str(pair / "discriminator"), str(pair / "generator"), optimizer_slots=True,
             num_shards=2)
    reader = TFCheckpointReader(str(tmp_path / "tf"))
    assert reader.num_shards == 2
    assert torch.count_nonzero(reader.get_tensor("electra/embeddings/word_embeddings/adam_m")) == 0
    hparams = {"model_size": "small", "model_hparam_overrides": {"hidden_size": 144, "num_attention_heads": 3}}
    report = tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "hf"), which="discriminator", hparams=json.dumps(hparams))
    assert len(report.skipped["optimizer slots and step counters"]) == 2 * report.converted + 2 * len(
        report.skipped["generator variables (not requested)"]) + 1
    assert ElectraConfig.from_pretrained(tmp_path / "hf" / "discriminator").num_attention_heads == 3
    assert sorted(os.listdir(tmp_path / "hf")) == ["conversion.json", "discriminator"]
    with pytest.raises(ValueError, match="conflicting --hparams: hidden_size is 256 there but 144"):
        tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "hf2"), hparams={"model_size": "small"})
    assert not os.path.exists(tmp_path / "hf2")


def write_layout(path, tables_and_models, extra=()):
    tensors = {}
    for table, model in tables_and_models:
        state = model.state_dict()
        tensors.update({tf: state[hf].t().contiguous() if t else state[hf] for tf, hf, t in table})
    tensors.update(extra)
    write_tf_checkpoint(str(path / "model.ckpt-1"), tensors.items())
    return str(path / "model.ckpt-1")


def assert_same_checkpoint(path, other):
    """The same variables with the same values (global_step aside)."""
    ours, theirs = TFCheckpointReader(path), TFCheckpointReader(other)
    assert set(ours.entries) - {"global_step"} == set(theirs.entries) - {"global_step"}
    for name in set(theirs.entries) - {"global_step"}:
        assert torch.equal(ours.get_tensor(name), theirs.get_tensor(name)), name


def test_other_generator_layouts_and_fine_tuning_checkpoints(tmp_path):
    torch.manual_seed(0)
    disc_config = ElectraConfig(vocab_size=100, embedding_size=32, hidden_size=64, num_hidden_layers=2,
                                num_attention_heads=1, intermediate_size=128)
    disc = ElectraForPreTraining(disc_config)
    # a tied generator (one network; also BERT/MLM mode): the discriminator's encoder + a masked-LM head
    tied = ElectraForMaskedLM(disc_config)
    tied.electra.load_state_dict(disc.electra.state_dict())
    prefix = write_layout(tmp_path / "tied", [(discriminator_names(disc_config), disc),
                                              (generator_names(disc_config, "tied"), tied)])
    report = tf_to_hf(prefix, str(tmp_path / "tied_hf"))
    assert "generator mode 'tied'" in report.summary()
    loaded = ElectraForMaskedLM.from_pretrained(tmp_path / "tied_hf" / "generator")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), tied.state_dict().values()))
    pair = ElectraPretrainingModel.from_pretrained(tmp_path / "tied_hf")  # one network again
    assert pair.config.tie_generator and pair.generator.electra is pair.discriminator.electra
    # BERT-style MLM mode: the same names without discriminator_predictions/ -> the generator, objective "mlm"
    prefix = write_layout(tmp_path / "mlm", [(generator_names(disc_config, "tied"), tied)])
    report = tf_to_hf(prefix, str(tmp_path / "mlm_hf"))
    assert "objective 'mlm'" in report.summary() and set(report.written) == {"generator"}
    assert sorted(os.listdir(tmp_path / "mlm_hf")) == ["config.json", "conversion.json", "generator"]
    mlm = ElectraPretrainingModel.from_pretrained(tmp_path / "mlm_hf")
    assert mlm.config.objective == "mlm" and mlm.discriminator is None
    assert all(torch.equal(a, b) for a, b in zip(mlm.generator.state_dict().values(), tied.state_dict().values()))
    with pytest.raises(ValueError, match="conflicting --hparams: the objective is electra"):
        tf_to_hf(prefix, str(tmp_path / "mlm_hf2"), hparams={"electra_objective": True})
    hf_to_tf(str(tmp_path / "mlm_tf"), pair=str(tmp_path / "mlm_hf"))  # and back: the same names
    assert set(TFCheckpointReader(str(tmp_path / "mlm_tf")).entries) == set(TFCheckpointReader(prefix).entries) | {
        "global_step"}
    # untied generator embeddings: its own tables at its own width, no projection
    untied_config = ElectraConfig(vocab_size=100, embedding_size=16, hidden_size=16, num_hidden_layers=2,
                                  num_attention_heads=1, intermediate_size=64)
    untied = ElectraForMaskedLM(untied_config)
    prefix = write_layout(tmp_path / "untied", [(discriminator_names(disc_config), disc),
                                                (generator_names(untied_config, "untied"), untied)])
    tf_to_hf(prefix, str(tmp_path / "untied_hf"))  # both halves, each with its own embeddings, and the pair config
    loaded = ElectraForMaskedLM.from_pretrained(tmp_path / "untied_hf" / "generator")
    assert loaded.config.embedding_size == 16 and torch.equal(
        loaded.electra.embeddings.word_embeddings.weight, untied.electra.embeddings.word_embeddings.weight)
    assert torch.equal(ElectraForPreTraining.from_pretrained(tmp_path / "untied_hf" / "discriminator")
                       .electra.embeddings.word_embeddings.weight, disc.electra.embeddings.word_embeddings.weight)
    pair = ElectraPretrainingModel.from_pretrained(tmp_path / "untied_hf")
    assert pair.config.untied_generator_embeddings and not pair.config.shares_embeddings
    assert pair.generator.electra.embeddings is not pair.discriminator.electra.embeddings
    assert torch.equal(pair.generator.electra.embeddings.word_embeddings.weight,
                       untied.electra.embeddings.word_embeddings.weight)
    for source in ({"pair": str(tmp_path / "untied_hf")},  # back, from the pair or from the two halves
                   {"discriminator": str(tmp_path / "untied_hf" / "discriminator"),
                    "generator": str(tmp_path / "untied_hf" / "generator")}):
        hf_to_tf(str(tmp_path / "untied_tf"), **source, overwrite=True)
        assert_same_checkpoint(str(tmp_path / "untied_tf"), prefix)
    # a fine-tuning checkpoint: the encoder and a task head; the encoder converts, the head is reported
    head = {"task_specific/mnli/classification_predictions/output_weights": torch.zeros(3, 64)}
    prefix = write_layout(tmp_path / "ft", [(discriminator_names(disc_config, with_head=False), disc)], head)
    report = tf_to_hf(prefix, str(tmp_path / "ft_hf"), which="discriminator")
    assert report.skipped["task-specific (fine-tuning) head variables"] == list(head)
    assert json.load(open(tmp_path / "ft_hf" / "discriminator" / "config.json"))["architectures"] == ["ElectraModel"]
    # no generator variables: a discriminator alone, or the uniform generator (no weights): only the hparams tell
    prefix = write_layout(tmp_path / "uniform", [(discriminator_names(disc_config), disc)])
    with pytest.raises(CheckpointError, match="no generator variables.*uniform_generator=True.*--which discriminator"):
        tf_to_hf(prefix, str(tmp_path / "uniform_hf"))
    report = tf_to_hf(prefix, str(tmp_path / "uniform_hf"), which="discriminator")
    assert "discriminator-only checkpoint, or one pre-trained with uniform_generator=True" in report.summary()
    report = tf_to_hf(prefix, str(tmp_path / "uniform_pair"), hparams={"uniform_generator": True})
    assert "generator mode 'uniform'" in report.summary() and set(report.written) == {"discriminator"}
    uniform = ElectraPretrainingModel.from_pretrained(tmp_path / "uniform_pair")
    assert uniform.config.generator_type == "uniform" and uniform.generator is None


def test_other_models_and_bad_requests_are_refused(tmp_path, pair_dir):
    def checkpoint(folder, names):
        return write_layout(tmp_path / folder, [], {name: torch.zeros(2) for name in names})

    with pytest.raises(CheckpointError, match="this is a BERT checkpoint"):
        tf_to_hf(checkpoint("bert", ["bert/embeddings/word_embeddings"]), str(tmp_path / "o"))
    with pytest.raises(CheckpointError, match="this is a T5 checkpoint"):
        tf_to_hf(checkpoint("t5", ["shared/embedding", "encoder/block_000/layer_000/x"]), str(tmp_path / "o"))
    with pytest.raises(CheckpointError, match="both a two-tower generator .* and a masked-LM generator"):
        tf_to_hf(checkpoint("electric", ["electra/embeddings/word_embeddings", "generator_ltr/encoder/x",
                                         "generator/encoder/x"]), str(tmp_path / "o"))
    pair, _ = pair_dir
    hf_to_tf(str(tmp_path / "disc_only"), str(pair / "discriminator"))
    reader = TFCheckpointReader(str(tmp_path / "disc_only"))
    extra = {name: reader.get_tensor(name) for name in reader.entries}
    extra["discriminator_predictions/dense_2/kernel"] = torch.zeros(2, 2)  # a layer the model has no place for
    with pytest.raises(CheckpointError, match="no place for: \\['discriminator_predictions/dense_2/kernel'\\]"):
        tf_to_hf(write_layout(tmp_path / "extra", [], extra), str(tmp_path / "o"), which="discriminator")
    with pytest.raises(CheckpointError, match="no generator variables.*no generator to convert"):
        tf_to_hf(str(tmp_path / "disc_only"), str(tmp_path / "o"), which="generator")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(FileExistsError, match="--overwrite"):
        tf_to_hf(str(tmp_path / "disc_only"), str(tmp_path / "taken"), which="discriminator")
    assert not os.path.exists(tmp_path / "o")  # nothing half-written
    assert [n for n in os.listdir(tmp_path) if n.startswith(".converting-")] == []


def test_cli(pair_dir, tmp_path, capsys, monkeypatch):
    pair, _ = pair_dir
    uploads = []

    class FakeApi:
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, private=None, exist_ok=False):
            return type("Repo", (), {"repo_id": repo_id, "url": f"https://hf.co/{repo_id}"})()

        def upload_folder(self, repo_id, folder_path, commit_message):
            uploads.append((repo_id, sorted(os.listdir(folder_path))))

    monkeypatch.setattr("electra_hf.hub.HfApi", FakeApi)
    convert_tf_checkpoint.main(["hf2tf", "--discriminator", str(pair / "discriminator"), "--generator",
                                str(pair / "generator"), "--output_dir", str(tmp_path / "tf")])
    convert_tf_checkpoint.main(["tf2hf", "--checkpoint", str(tmp_path / "tf" / "model.ckpt-0"), "--output_dir",
                                str(tmp_path / "hf"), "--which", "discriminator"])
    assert "converted" in capsys.readouterr().out and os.path.isdir(tmp_path / "hf" / "discriminator")
    convert_tf_checkpoint.main(["tf2hf", "--checkpoint", str(tmp_path / "tf"), "--output_dir", str(tmp_path / "both"),
                                "--push_to_hub", "me/electra"])
    assert [repo for repo, _ in uploads] == ["me/electra-discriminator", "me/electra-generator"]
    assert all({"config.json", "model.safetensors", "tokenizer.json"} <= set(files) for _, files in uploads)
    convert_tf_checkpoint.main(["hf2tf", "--model", str(pair), "--output_dir", str(tmp_path / "tf_pair")])
    assert_same_checkpoint(str(tmp_path / "tf_pair"), str(tmp_path / "tf"))
    with pytest.raises((ValueError, OSError), match="pass either the pair directory or"):
        convert_tf_checkpoint.main(["hf2tf", "--model", str(pair), "--discriminator", str(pair / "discriminator"),
                                    "--output_dir", str(tmp_path / "wrong")])
    with pytest.raises((ValueError, OSError), match=".*discriminator is not a pair directory .*pass its halves"):
        convert_tf_checkpoint.main(["hf2tf", "--model", str(pair / "discriminator"), "--output_dir",
                                    str(tmp_path / "wrong")])
    with pytest.raises((ValueError, OSError), match="hf_to_tf needs the discriminator"):
        convert_tf_checkpoint.main(["hf2tf", "--output_dir", str(tmp_path / "wrong")])
    with pytest.raises((ValueError, OSError), match=".*is not a complete ElectraForMaskedLM"):
        convert_tf_checkpoint.main(["hf2tf", "--discriminator", str(pair / "discriminator"), "--generator",
                                    str(pair / "discriminator"), "--output_dir", str(tmp_path / "wrong")])
    with pytest.raises((ValueError, OSError), match=".*exists and is not empty"):
        convert_tf_checkpoint.main(["tf2hf", "--checkpoint", str(tmp_path / "tf"), "--output_dir",
                                    str(tmp_path / "hf")])
    shutil.copy(tmp_path / "tf" / "model.ckpt-0.index", tmp_path / "broken.index")
    with open(tmp_path / "broken.index", "r+b") as f:
        f.truncate(30)
    with pytest.raises((ValueError, OSError), match=".*too short"):
        convert_tf_checkpoint.main(["tf2hf", "--checkpoint", str(tmp_path / "broken"), "--output_dir",
                                    str(tmp_path / "x")])


# ---- Electric (two-tower generator) and tied-generator pairs --------------------------------------------------

def spec_names(layers: int, generator: str, untied: bool = False) -> set[str]:
    """The original's variable names (model/modeling.py and run_pretraining.py scopes), written out here independently
    of the converter's tables, for a discriminator with a projection and a generator ("two_tower": Electric's, with a
    projection when shared; "tied": the discriminator's encoder)."""
    def encoder(scope, projection=True):
        names = {f"{scope}/embeddings_project/{leaf}" for leaf in ("kernel", "bias")} if projection else set()
        for i in range(layers):
            for module in ("attention/self/query", "attention/self/key", "attention/self/value",
                           "attention/output/dense", "intermediate/dense", "output/dense"):
                names |= {f"{scope}/encoder/layer_{i}/{module}/kernel", f"{scope}/encoder/layer_{i}/{module}/bias"}
            for module in ("attention/output/LayerNorm", "output/LayerNorm"):
                names |= {f"{scope}/encoder/layer_{i}/{module}/gamma", f"{scope}/encoder/layer_{i}/{module}/beta"}
        return names

    def embeddings(scope):
        return {f"{scope}/embeddings/{table}" for table in (
            "word_embeddings", "position_embeddings", "token_type_embeddings", "LayerNorm/gamma", "LayerNorm/beta")}

    names = embeddings("electra") | encoder("electra") | {
        f"discriminator_predictions/{dense}/{leaf}" for dense in ("dense", "dense_1") for leaf in ("kernel", "bias")}
    if generator == "two_tower":
        for tower in ("generator_ltr", "generator_rtl"):
            names |= encoder(tower, projection=not untied) | (embeddings(tower) if untied else set())
        names |= {"cloze_predictions/dense/kernel", "cloze_predictions/dense/bias", "cloze_predictions/LayerNorm/gamma",
                  "cloze_predictions/LayerNorm/beta", "cloze_predictions/output_bias"}
    else:
        names |= {"generator_predictions/dense/kernel", "generator_predictions/dense/bias",
                  "generator_predictions/LayerNorm/gamma", "generator_predictions/LayerNorm/beta",
                  "generator_predictions/output_bias"}
    return names | {"global_step"}


def tiny_pair(path, **overrides) -> ElectraPretrainingModel:
    torch.manual_seed(0)
    model = ElectraPretrainingModel(ElectraPretrainingConfig.from_preset(
        "tiny", max_seq_length=32, vocab_size=200, model_hparam_overrides={"num_hidden_layers": 2}, **overrides))
    with torch.no_grad():  # no zero biases / unit LayerNorms: a swapped gamma/beta or bias must show
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    model.save_pretrained(path)
    return model.eval()


def inputs():
    torch.manual_seed(1)
    ids = torch.randint(5, 200, (2, 12))
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": (torch.arange(12) >= 6).long().expand(2, -1)}


def t(reader, name):
    return reader.get_tensor(name)


@pytest.mark.parametrize("untied", [False, True], ids=["shared", "untied_embeddings"])
def test_electric_pair_round_trips_with_the_original_names(tmp_path, untied):
    model = tiny_pair(tmp_path / "pair", objective="electric", untied_generator_embeddings=untied)
    gen, disc = model.generator, model.discriminator
    report = hf_to_tf(str(tmp_path / "tf"), pair=str(tmp_path / "pair"), global_step=3)
    assert "Electric's two-tower generator" in report.summary()
    reader = TFCheckpointReader(str(tmp_path / "tf"))
    assert set(reader.entries) == spec_names(2, "two_tower", untied)
    h, e = gen.config.hidden_size, gen.config.embedding_size
    assert reader.entries["cloze_predictions/dense/kernel"].shape == (2 * h, e) and e == (h if untied else 128)
    # each tower's weights under its own scope (a swap of the towers or a missing transpose fails here)
    for tower, scope in ((gen.ltr, "generator_ltr"), (gen.rtl, "generator_rtl")):
        layer = tower.encoder.layer[1]
        assert torch.equal(t(reader, f"{scope}/encoder/layer_1/attention/self/query/kernel"),
                           layer.attention.self.query.weight.t())
        assert torch.equal(t(reader, f"{scope}/encoder/layer_1/output/LayerNorm/gamma"), layer.output.LayerNorm.weight)
        if untied:
            assert torch.equal(t(reader, f"{scope}/embeddings/word_embeddings"),
                               tower.embeddings.word_embeddings.weight)
        else:
            assert torch.equal(t(reader, f"{scope}/embeddings_project/kernel"), tower.embeddings_project.weight.t())
    assert not torch.equal(gen.ltr.encoder.layer[1].attention.self.query.weight,
                           gen.rtl.encoder.layer[1].attention.self.query.weight)
    assert torch.equal(t(reader, "cloze_predictions/dense/kernel"), gen.cloze_predictions.dense.weight.t())
    assert torch.equal(t(reader, "cloze_predictions/LayerNorm/beta"), gen.cloze_predictions.LayerNorm.bias)
    assert torch.equal(t(reader, "cloze_predictions/output_bias"), gen.cloze_lm_head.bias)
    assert torch.equal(t(reader, "electra/embeddings/word_embeddings"), disc.electra.embeddings.word_embeddings.weight)

    report = tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "hf"), num_attention_heads=4)
    mode = "two_tower_untied" if untied else "two_tower"
    assert f"pair config.json: objective 'electric', generator mode '{mode}'" in report.summary()
    again = ElectraPretrainingModel.from_pretrained(tmp_path / "hf").eval()
    assert again.config.objective == "electric" and again.config.untied_generator_embeddings == untied
    assert isinstance(again.generator, ElectraTwoTowerGenerator)
    before, after = model.state_dict(), again.state_dict()
    assert set(before) == set(after) and all(torch.equal(before[k], after[k]) for k in before)
    shared = again.generator.ltr.embeddings is again.discriminator.electra.embeddings
    assert shared == (not untied) and (again.generator.rtl.embeddings is again.generator.ltr.embeddings) == shared
    with torch.no_grad():
        torch.testing.assert_close(again.generator(**inputs()).logits, gen(**inputs()).logits, rtol=0, atol=1e-6)
        torch.testing.assert_close(again.discriminator(**inputs()).logits, disc(**inputs()).logits, rtol=0, atol=1e-6)
    assert json.load(open(tmp_path / "hf" / "discriminator" / "config.json"))["pretraining_objective"] == "electric"
    # and back again, from the two halves this time: the same checkpoint
    hf_to_tf(str(tmp_path / "tf2"), str(tmp_path / "hf" / "discriminator"), str(tmp_path / "hf" / "generator"))
    assert_same_checkpoint(str(tmp_path / "tf2"), str(tmp_path / "tf"))


def test_tied_generator_pair_round_trips(tmp_path):
    model = tiny_pair(tmp_path / "pair", tie_generator=True)
    hf_to_tf(str(tmp_path / "tf"), pair=str(tmp_path / "pair"))
    reader = TFCheckpointReader(str(tmp_path / "tf"))
    assert set(reader.entries) == spec_names(2, "tied")  # one electra/* set, no generator/ scope
    assert torch.equal(t(reader, "generator_predictions/dense/kernel"),
                       model.generator.generator_predictions.dense.weight.t())
    report = tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "hf"), num_attention_heads=4)
    assert "generator mode 'tied'" in report.summary()
    again = ElectraPretrainingModel.from_pretrained(tmp_path / "hf").eval()
    assert again.config.tie_generator and again.generator.electra is again.discriminator.electra
    before, after = model.state_dict(), again.state_dict()
    assert set(before) == set(after) and all(torch.equal(before[k], after[k]) for k in before)
    with torch.no_grad():
        torch.testing.assert_close(again.generator(**inputs()).logits, model.generator(**inputs()).logits)
    hf_to_tf(str(tmp_path / "tf2"), str(tmp_path / "hf" / "discriminator"), str(tmp_path / "hf" / "generator"))
    assert_same_checkpoint(str(tmp_path / "tf2"), str(tmp_path / "tf"))  # the shared encoder seen as tied


def original_electric_arrays(untied: bool) -> dict[str, torch.Tensor]:
    """An Electric checkpoint as the original writes it, by hand: V=50, E=16, discriminator H=32 (2 layers,
    FFN 64), towers h=8 (FFN 32); Adam slots and global_step as pre-training leaves them."""
    gen = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=gen)

    def encoder(scope, width_in, hidden, inner):
        arrays = {f"{scope}/embeddings_project/kernel": rand(width_in, hidden),
                  f"{scope}/embeddings_project/bias": rand(hidden)} if width_in != hidden else {}
        for i in range(2):
            layer = f"{scope}/encoder/layer_{i}"
            shapes = {"attention/self/query": (hidden, hidden), "attention/self/key": (hidden, hidden),
                      "attention/self/value": (hidden, hidden), "attention/output/dense": (hidden, hidden),
                      "intermediate/dense": (hidden, inner), "output/dense": (inner, hidden)}
            for name, (n_in, n_out) in shapes.items():
                arrays.update({f"{layer}/{name}/kernel": rand(n_in, n_out), f"{layer}/{name}/bias": rand(n_out)})
            for name in ("attention/output/LayerNorm", "output/LayerNorm"):
                arrays.update({f"{layer}/{name}/gamma": rand(hidden), f"{layer}/{name}/beta": rand(hidden)})
        return arrays

    def embeddings(scope, width):
        return {f"{scope}/embeddings/word_embeddings": rand(50, width),
                f"{scope}/embeddings/position_embeddings": rand(40, width),
                f"{scope}/embeddings/token_type_embeddings": rand(2, width),
                f"{scope}/embeddings/LayerNorm/gamma": rand(width), f"{scope}/embeddings/LayerNorm/beta": rand(width)}

    table = 8 if untied else 16
    arrays = {**embeddings("electra", 16), **encoder("electra", 16, 32, 64),
              "discriminator_predictions/dense/kernel": rand(32, 32),
              "discriminator_predictions/dense/bias": rand(32),
              "discriminator_predictions/dense_1/kernel": rand(32, 1),
              "discriminator_predictions/dense_1/bias": rand(1),
              "cloze_predictions/dense/kernel": rand(16, table), "cloze_predictions/dense/bias": rand(table),
              "cloze_predictions/LayerNorm/gamma": rand(table), "cloze_predictions/LayerNorm/beta": rand(table),
              "cloze_predictions/output_bias": rand(50)}
    for tower in ("generator_ltr", "generator_rtl"):
        arrays.update(encoder(tower, table, 8, 32))
        if untied:
            arrays.update(embeddings(tower, 8))
    arrays.update({f"{name}/{slot}": torch.zeros_like(value) for name, value in list(arrays.items())
                   for slot in ("adam_m", "adam_v")})
    return {**arrays, "global_step": torch.tensor(1000)}


@pytest.mark.parametrize("untied", [False, True], ids=["shared", "untied_embeddings"])
def test_an_electric_checkpoint_in_the_original_layout_converts(tmp_path, untied):
    arrays = original_electric_arrays(untied)
    write_tf_checkpoint(str(tmp_path / "tf" / "model.ckpt-1000"), arrays.items())
    report = tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "hf"))
    assert report.converted == (len(arrays) - 1) // 3
    pair = ElectraPretrainingModel.from_pretrained(tmp_path / "hf")
    gen = pair.generator
    assert (pair.config.objective, pair.config.generator_type) == ("electric", "two_tower")
    assert (gen.config.hidden_size, gen.config.num_hidden_layers, gen.config.num_attention_heads,
            gen.config.intermediate_size, gen.config.embedding_size) == (8, 2, 1, 32, 8 if untied else 16)
    assert pair.config.generator_hidden_size == 0.25
    for tower, scope in ((gen.ltr, "generator_ltr"), (gen.rtl, "generator_rtl")):
        assert torch.equal(tower.encoder.layer[0].attention.self.key.weight,
                           arrays[f"{scope}/encoder/layer_0/attention/self/key/kernel"].t())
        assert torch.equal(tower.encoder.layer[1].attention.output.LayerNorm.bias,
                           arrays[f"{scope}/encoder/layer_1/attention/output/LayerNorm/beta"])
        embeddings = f"{scope if untied else 'electra'}/embeddings"
        assert torch.equal(tower.embeddings.position_embeddings.weight, arrays[f"{embeddings}/position_embeddings"])
        assert torch.equal(tower.embeddings.LayerNorm.weight, arrays[f"{embeddings}/LayerNorm/gamma"])
        if not untied:
            assert torch.equal(tower.embeddings_project.bias, arrays[f"{scope}/embeddings_project/bias"])
    assert torch.equal(gen.cloze_predictions.dense.weight, arrays["cloze_predictions/dense/kernel"].t())
    assert torch.equal(gen.cloze_lm_head.weight, gen.ltr.embeddings.word_embeddings.weight)  # tied to ltr's table
    assert torch.equal(gen.cloze_lm_head.bias, arrays["cloze_predictions/output_bias"])
    assert torch.equal(pair.discriminator.discriminator_predictions.dense_prediction.weight,
                       arrays["discriminator_predictions/dense_1/kernel"].t())
    # ELECTRA trained with the two-tower generator: the same names, the objective from --hparams
    report = tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "electra"), hparams={"electra_objective": True,
                                                                               "two_tower_generator": True})
    assert ElectraPretrainingConfig.from_pretrained(tmp_path / "electra").objective == "electra"
    with pytest.raises(ValueError, match="conflicting --hparams: the objective is mlm"):
        tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "x"), hparams={"electra_objective": False})
    with pytest.raises(ValueError, match="conflicting --hparams: untied_generator_embeddings is"):
        tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "x"), hparams={"untied_generator_embeddings": not untied})
    with pytest.raises(ValueError, match="conflicting --hparams: generator_hidden_size is 16"):
        tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "x"), hparams={"generator_hidden_size": 0.5})
    # a variable the towers have no place for is an error, never a silent drop
    extra = "generator_rtl/embeddings_project/kernel" if untied else "cloze_predictions/dense_1/kernel"
    write_tf_checkpoint(str(tmp_path / "bad" / "model.ckpt-1"), [*arrays.items(), (extra, torch.zeros(8, 8))])
    with pytest.raises(CheckpointError, match=f"no place for: \\['{extra}'\\]"):
        tf_to_hf(str(tmp_path / "bad"), str(tmp_path / "x"))
    assert not os.path.exists(tmp_path / "x")
    # one half alone
    tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "gen_only"), which="generator")
    assert isinstance(ElectraTwoTowerGenerator.from_pretrained(tmp_path / "gen_only" / "generator"),
                      ElectraTwoTowerGenerator)
    report = tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "disc_only"), which="discriminator")
    assert report.skipped["generator variables (not requested)"] == sorted(
        n for n in arrays if n.startswith(("generator_", "cloze_predictions/")) and "/adam_" not in n)
