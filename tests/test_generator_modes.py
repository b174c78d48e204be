"""The table of generator modes (electra_hf/generator_modes.py) against what the config, the model, the model cards
and the converter do with each mode."""

import itertools
import os

import pytest
import torch

from electra_hf import ElectraPretrainingConfig, ElectraPretrainingModel
from electra_hf.conversion.convert import hf_to_tf, inspect_names, layout_name, tf_to_hf
from electra_hf.conversion.tf_bundle import TFCheckpointReader
from electra_hf.generator_modes import GENERATOR_TYPES, MODE_FIELDS, MODES, OBJECTIVES, mode_of
from electra_hf.hub import write_model_cards

CASES = [(mode, objective) for mode in MODES.values() for objective in mode.objectives]


def build(mode, objective):
    torch.manual_seed(0)
    config = ElectraPretrainingConfig.from_preset(
        "tiny", objective=objective, generator_hidden_size=0.5,
        **{name: getattr(mode, name) for name in MODE_FIELDS[1:]})
    return ElectraPretrainingModel(config)


@pytest.mark.parametrize("mode, objective", CASES, ids=[f"{m.name}-{o}" for m, o in CASES])
def test_each_mode_builds_the_model_its_row_describes(mode, objective, tmp_path):
    model = build(mode, objective)
    config = model.config
    assert config.mode is mode
    generator_class = mode.load_generator_class()
    assert (model.generator is None) == (generator_class is None)
    if generator_class is not None:
        assert type(model.generator) is generator_class
        gen_embeddings = (model.generator.ltr if mode.two_tower else model.generator.electra).embeddings
        assert (gen_embeddings is model.embeddings) == (mode.shares_embeddings or mode.objectives == ("mlm",))
        full_size = config.generator_config.hidden_size == config.discriminator_config.hidden_size
        assert full_size == mode.one_network
    assert (model.discriminator is None) == (objective == "mlm")
    if mode.tie_generator:
        assert model.generator.electra is model.discriminator.electra
    batch = torch.randint(5, config.discriminator_config.vocab_size, (2, 16))
    assert torch.isfinite(model(batch).loss)

    model.save_pretrained(tmp_path / "pair")
    write_model_cards(str(tmp_path / "pair"), model, steps=1, data="nothing", metrics={})
    if mode.card is not None:
        card = open(tmp_path / "pair" / "generator" / "README.md").read()
        assert mode.generator_class.rsplit(".", 1)[1] in card and mode.card[0] in card

    # The converter writes the layout of this mode, and reads it back as this mode.
    hf_to_tf(str(tmp_path / "tf"), pair=str(tmp_path / "pair"))
    names = TFCheckpointReader(str(tmp_path / "tf")).entries
    found = layout_name(inspect_names(names))
    assert found == (mode.name if mode.tf_scopes else None)
    generator_names = {n for n in names if not n.startswith(("electra/", "discriminator_predictions/", "global"))}
    assert all(n.startswith(mode.tf_scopes) for n in generator_names)
    hparams = {"electra_objective": objective == "electra", "electric_objective": objective == "electric",
               "uniform_generator": mode.generator_type == "uniform"}
    tf_to_hf(str(tmp_path / "tf"), str(tmp_path / "back"), hparams=hparams)
    back = ElectraPretrainingConfig.from_pretrained(tmp_path / "back")
    assert back.mode is mode and back.objective == objective
    assert os.path.isdir(tmp_path / "back" / "generator") == (generator_class is not None)


def test_every_combination_outside_the_table_is_refused():
    valid = {(objective, *(getattr(mode, name) for name in MODE_FIELDS[1:])) for mode, objective in CASES}
    for fields in itertools.product(OBJECTIVES, GENERATOR_TYPES, *[(False, True)] * (len(MODE_FIELDS) - 2)):
        if fields in valid:
            assert mode_of(*fields).objectives.count(fields[0]) == 1
        else:
            with pytest.raises(ValueError, match="is not a generator mode. The modes of"):
                mode_of(*fields)
    assert MODE_FIELDS[0] == "objective"
