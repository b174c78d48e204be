"""Embedding sharing between the generator and the discriminator (DeBERTaV3's ES / GDES / NES): GDES's gradients,
its stock discriminator export, its exact resume, its converter variables; the --embedding_sharing flag."""

import shutil

import pytest
import torch
from transformers import ElectraForPreTraining

import run_pretraining
from electra_hf import ElectraPretrainingConfig, ElectraPretrainingModel
from electra_hf.conversion.convert import hf_to_tf, tf_to_hf
from electra_hf.conversion.tf_bundle import TFCheckpointReader
from electra_hf.generator_modes import EMBEDDING_SHARING, GDES_DELTAS
from electra_hf.modeling import GDES_DELTAS_FILE

from .test_run_pretraining import args_for, corpus, losses  # noqa: F401 - corpus is a fixture


def gdes_config(vocab_size: int = 300):
    return ElectraPretrainingConfig.from_preset("tiny", vocab_size=vocab_size, gradient_disentangled_embeddings=True,
                                                model_hparam_overrides={"num_hidden_layers": 2})


def tables(model):
    """The generator's word/position tables and the discriminator's deltas of them, by table name."""
    gen = model.generator.electra.embeddings
    disc = model.discriminator.electra.embeddings
    return ({t: getattr(gen, t).weight for t in GDES_DELTAS},
            {t: getattr(disc, t).parametrizations.weight.original for t in GDES_DELTAS})


def test_the_three_choices_are_three_modes():
    modes = {name: ElectraPretrainingConfig.from_preset("tiny", **fields).mode.name
             for name, fields in EMBEDDING_SHARING.items()}
    assert modes == {"es": "separate", "gdes": "gdes", "none": "untied"}
    for name, fields in EMBEDDING_SHARING.items():
        assert ElectraPretrainingConfig.from_preset("tiny", **fields).embedding_sharing == name
    with pytest.raises(ValueError, match="is not a generator mode"):
        ElectraPretrainingConfig.from_preset("tiny", gradient_disentangled_embeddings=True,
                                             untied_generator_embeddings=True)


def test_gdes_starts_equal_and_each_loss_moves_only_its_own_tables():
    torch.manual_seed(0)
    model = ElectraPretrainingModel(gdes_config())
    gen, deltas = tables(model)
    disc = model.discriminator.electra.embeddings
    assert all(torch.equal(getattr(disc, t).weight, gen[t]) for t in GDES_DELTAS)
    assert all(not delta.any() for delta in deltas.values())
    # token types and the LayerNorm are the discriminator's own, as in DeBERTaV3
    assert disc.token_type_embeddings is not model.generator.electra.embeddings.token_type_embeddings
    assert disc.LayerNorm is not model.generator.electra.embeddings.LayerNorm
    batch = torch.randint(5, 300, (4, 32))

    torch.manual_seed(1)
    model(batch).generator_loss.backward()
    assert all(gen[t].grad is not None and gen[t].grad.abs().sum() > 0 for t in GDES_DELTAS)
    assert all(d.grad is None or not d.grad.any() for d in deltas.values())
    model.zero_grad(set_to_none=True)

    torch.manual_seed(1)
    model(batch).discriminator_loss.backward()
    assert all(gen[t].grad is None or not gen[t].grad.any() for t in GDES_DELTAS)
    assert all(d.grad is not None and d.grad.abs().sum() > 0 for d in deltas.values())


def trained(steps: int = 3) -> ElectraPretrainingModel:
    torch.manual_seed(0)
    model = ElectraPretrainingModel(gdes_config())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        model(torch.randint(5, 300, (4, 32))).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model


def test_the_saved_discriminator_is_a_stock_model_with_the_merged_tables(tmp_path):
    model = trained().eval()
    _, deltas = tables(model)
    assert all(d.abs().sum() > 0 for d in deltas.values())
    model.save_pretrained(tmp_path)
    stock = ElectraForPreTraining.from_pretrained(tmp_path / "discriminator").eval()
    batch = torch.randint(5, 300, (2, 20))
    with torch.no_grad():
        assert torch.equal(stock(batch).logits, model.discriminator(batch).logits)
    back = ElectraPretrainingModel.from_pretrained(tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(tables(back)[1].values(), deltas.values()))  # the saved deltas
    model.save_pretrained(tmp_path / "sharded", max_shard_size="100KB")  # a resume reads shards the same way
    assert (tmp_path / "sharded" / "discriminator" / "model.safetensors.index.json").exists()
    resumed = ElectraPretrainingModel(gdes_config())
    resumed.load_pair_weights(tmp_path / "sharded")
    assert all(torch.equal(a, b) for a, b in zip(resumed.state_dict().values(), model.state_dict().values()))
    (tmp_path / GDES_DELTAS_FILE).unlink()
    with pytest.raises(ValueError, match=GDES_DELTAS_FILE):
        ElectraPretrainingModel(gdes_config()).load_pair_weights(tmp_path)


def test_a_resumed_gdes_run_equals_the_uninterrupted_one(corpus, tmp_path):  # noqa: F811
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    argv = dict(embedding_sharing="gdes", eval_steps=100, weight_decay=0.01)
    run_pretraining.main(args_for(corpus, whole, **argv))
    stopped.mkdir()
    shutil.copytree(whole / "checkpoint-3", stopped / "checkpoint-3")  # a run stopped after step 3
    assert (stopped / "checkpoint-3" / GDES_DELTAS_FILE).is_file()
    run_pretraining.main(args_for(corpus, stopped, **argv))
    assert losses(stopped) == pytest.approx(losses(whole), rel=1e-5)
    ends = [ElectraPretrainingModel.from_pretrained(run) for run in (whole, stopped)]
    assert ends[0].config.mode.name == "gdes"
    for (name, a), b in zip(ends[0].state_dict().items(), ends[1].state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    assert all(delta.abs().sum() > 0 for delta in tables(ends[0])[1].values())


def test_the_deltas_are_decayed_as_embedding_tables_are():
    from electra_hf.optimization import electra_parameter_groups

    model = ElectraPretrainingModel(gdes_config())
    groups = electra_parameter_groups(model.named_parameters(), 1e-3, 0.01)
    decayed = {id(p) for group in groups if group["weight_decay"] > 0 for p in group["params"]}
    gen, deltas = tables(model)
    assert all(id(t) in decayed for t in [*gen.values(), *deltas.values()])


def test_the_converter_writes_and_reads_the_deltas(tmp_path):
    model = trained()
    model.save_pretrained(tmp_path / "pair")
    hf_to_tf(str(tmp_path / "tf"), pair=str(tmp_path / "pair"))
    reader = TFCheckpointReader(str(tmp_path / "tf"))
    gen, deltas = tables(model)
    for table, name in GDES_DELTAS.items():
        assert torch.equal(reader.get_tensor(name), deltas[table])
        assert torch.equal(reader.get_tensor(f"generator/embeddings/{table}"), gen[table])
        merged = getattr(model.discriminator.electra.embeddings, table).weight
        assert torch.equal(reader.get_tensor(f"electra/embeddings/{table}"), merged)  # what the original reads
    report = tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "back"))
    assert "generator mode 'gdes'" in report.summary()
    back = ElectraPretrainingModel.from_pretrained(tmp_path / "back")
    for (name, a), b in zip(model.state_dict().items(), back.state_dict().values()):
        assert torch.equal(a, b), name


def test_the_flag():
    def config(*argv):
        model_args, data_args, _ = run_pretraining.parse_arguments(list(argv))
        return ElectraPretrainingConfig.from_preset("tiny", **run_pretraining.config_overrides(model_args, data_args))

    assert config().embedding_sharing == "es"
    assert config("--embedding_sharing", "gdes").mode.name == "gdes"
    assert config("--embedding_sharing", "none").untied_generator_embeddings
    overridden = '{"untied_generator_embeddings": true}'
    assert config("--embedding_sharing", "es", "--config_overrides", overridden).embedding_sharing == "es"
    with pytest.raises(ValueError, match="--untied_generator_embeddings is --embedding_sharing none"):
        config("--embedding_sharing", "gdes", "--untied_generator_embeddings")
