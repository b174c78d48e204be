"""TF checkpoints without TensorFlow (spec §12): the bundle reader/writer, the name tables, tf2hf/hf2tf, the
layouts, bad input. TensorFlow as the oracle is in test_conversion_tf.py."""

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
    tf_to_hf(prefix, str(tmp_path / "tied_hf"))
    loaded = ElectraForMaskedLM.from_pretrained(tmp_path / "tied_hf" / "generator")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), tied.state_dict().values()))
    # untied generator embeddings: its own tables at its own width, no projection
    untied_config = ElectraConfig(vocab_size=100, embedding_size=16, hidden_size=16, num_hidden_layers=2,
                                  num_attention_heads=1, intermediate_size=64)
    untied = ElectraForMaskedLM(untied_config)
    prefix = write_layout(tmp_path / "untied", [(discriminator_names(disc_config), disc),
                                                (generator_names(untied_config, "untied"), untied)])
    tf_to_hf(prefix, str(tmp_path / "untied_hf"))  # both halves, each with its own embeddings, no pair config
    loaded = ElectraForMaskedLM.from_pretrained(tmp_path / "untied_hf" / "generator")
    assert loaded.config.embedding_size == 16 and torch.equal(
        loaded.electra.embeddings.word_embeddings.weight, untied.electra.embeddings.word_embeddings.weight)
    assert torch.equal(ElectraForPreTraining.from_pretrained(tmp_path / "untied_hf" / "discriminator")
                       .electra.embeddings.word_embeddings.weight, disc.electra.embeddings.word_embeddings.weight)
    assert not os.path.exists(tmp_path / "untied_hf" / "config.json")
    # a fine-tuning checkpoint: the encoder and a task head; the encoder converts, the head is reported
    head = {"task_specific/mnli/classification_predictions/output_weights": torch.zeros(3, 64)}
    prefix = write_layout(tmp_path / "ft", [(discriminator_names(disc_config, with_head=False), disc)], head)
    report = tf_to_hf(prefix, str(tmp_path / "ft_hf"), which="discriminator")
    assert report.skipped["task-specific (fine-tuning) head variables"] == list(head)
    assert json.load(open(tmp_path / "ft_hf" / "discriminator" / "config.json"))["architectures"] == ["ElectraModel"]


def test_other_models_and_bad_requests_are_refused(tmp_path, pair_dir):
    def checkpoint(folder, names):
        return write_layout(tmp_path / folder, [], {name: torch.zeros(2) for name in names})

    with pytest.raises(CheckpointError, match="this is a BERT checkpoint"):
        tf_to_hf(checkpoint("bert", ["bert/embeddings/word_embeddings"]), str(tmp_path / "o"))
    with pytest.raises(CheckpointError, match="this is a T5 checkpoint"):
        tf_to_hf(checkpoint("t5", ["shared/embedding", "encoder/block_000/layer_000/x"]), str(tmp_path / "o"))
    with pytest.raises(CheckpointError, match="Electric checkpoint"):
        tf_to_hf(checkpoint("electric", ["electra/embeddings/word_embeddings", "generator_ltr/encoder/x"]),
                 str(tmp_path / "o"))
    pair, _ = pair_dir
    hf_to_tf(str(tmp_path / "disc_only"), str(pair / "discriminator"))
    reader = TFCheckpointReader(str(tmp_path / "disc_only"))
    extra = {name: reader.get_tensor(name) for name in reader.entries}
    extra["discriminator_predictions/dense_2/kernel"] = torch.zeros(2, 2)  # a layer the model has no place for
    with pytest.raises(CheckpointError, match="no place for: \\['discriminator_predictions/dense_2/kernel'\\]"):
        tf_to_hf(write_layout(tmp_path / "extra", [], extra), str(tmp_path / "o"), which="discriminator")
    with pytest.raises(CheckpointError, match="no generator variables"):
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
    with pytest.raises(SystemExit, match="error: .*is not a complete ElectraForMaskedLM"):
        convert_tf_checkpoint.main(["hf2tf", "--discriminator", str(pair / "discriminator"), "--generator",
                                    str(pair / "discriminator"), "--output_dir", str(tmp_path / "wrong")])
    with pytest.raises(SystemExit, match="error: .*exists and is not empty"):
        convert_tf_checkpoint.main(["tf2hf", "--checkpoint", str(tmp_path / "tf"), "--output_dir",
                                    str(tmp_path / "hf")])
    shutil.copy(tmp_path / "tf" / "model.ckpt-0.index", tmp_path / "broken.index")
    with open(tmp_path / "broken.index", "r+b") as f:
        f.truncate(30)
    with pytest.raises(SystemExit, match="error: .*too short"):
        convert_tf_checkpoint.main(["tf2hf", "--checkpoint", str(tmp_path / "broken"), "--output_dir",
                                    str(tmp_path / "x")])
