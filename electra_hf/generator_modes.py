"""The generator modes: one table that the pair config (validation), the model (the generator's class and how
the two halves share), the model cards and the TF converter (variable scopes, the original's flags) read.

A mode is one valid combination of the pair config's `objective`, `generator_type`, `tie_generator`,
`untied_generator_embeddings` and `gradient_disentangled_embeddings`; its name is also the layout of the original's
checkpoint that it corresponds to (`gdes` has no counterpart in the original: this package's layout).
A new mode is a row here (and, if it computes something new, the code that computes it).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

OBJECTIVES = ("electra", "electric", "mlm")
# The pair config's fields that choose the mode (a checkpoint of another mode cannot be resumed).
MODE_FIELDS = ("objective", "generator_type", "tie_generator", "untied_generator_embeddings",
               "gradient_disentangled_embeddings")
# DeBERTaV3's names for how the two halves share embeddings (He et al. 2021, Table 4): ES the original's one module,
# GDES gradient-disentangled (the generator's tables plus the discriminator's own difference, no gradient from the
# discriminator into the generator's), NES none (the original's untied_generator_embeddings)
EMBEDDING_SHARING = {  # each sets both fields: the flag wins over --config_overrides and --hparams
    "es": {"untied_generator_embeddings": False, "gradient_disentangled_embeddings": False},
    "gdes": {"untied_generator_embeddings": False, "gradient_disentangled_embeddings": True},
    "none": {"untied_generator_embeddings": True, "gradient_disentangled_embeddings": False}}


@dataclass(frozen=True)
class GeneratorMode:
    name: str
    description: str  # in words: conversion summaries and errors
    objectives: tuple[str, ...]  # the objectives this generator can train with
    generator_type: str
    generator_class: str | None  # "module.Class" that loads the generator half; None: it has no weights
    card: tuple[str, str | None] | None  # the generator half's model card: what it is, its Hub pipeline tag
    tie_generator: bool = False
    untied_generator_embeddings: bool = False
    gradient_disentangled_embeddings: bool = False
    # The original's checkpoint: the TF scopes this generator owns, and the original's flags this mode implies
    # (a flag the original ignores in this mode is absent).
    tf_scopes: tuple[str, ...] = ()
    original_flags: tuple[tuple[str, bool], ...] = ()

    @property
    def one_network(self) -> bool:
        """The generator is a full-size network the discriminator's encoder is (tied) or there is no discriminator
        (MLM): it is not shrunk by generator_hidden_size (run_pretraining.py:87-93)."""
        return self.tie_generator or self.objectives == ("mlm",)

    @property
    def shares_embeddings(self) -> bool:
        """Whether the generator reads the discriminator's embeddings module."""
        return (self.generator_class is not None and self.objectives != ("mlm",)
                and not self.untied_generator_embeddings and not self.gradient_disentangled_embeddings)

    @property
    def embedding_sharing(self) -> str | None:
        """"es", "gdes" or "none" (EMBEDDING_SHARING) for a generator beside a discriminator; None otherwise."""
        if self.generator_class is None or self.objectives == ("mlm",) or self.tie_generator:
            return None
        return ("gdes" if self.gradient_disentangled_embeddings else "none" if self.untied_generator_embeddings
                else "es")

    @property
    def two_tower(self) -> bool:
        return self.generator_type == "two_tower"

    def load_generator_class(self):
        if self.generator_class is None:
            return None
        module, name = self.generator_class.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)


_MASKED_LM = "transformers.ElectraForMaskedLM"
# GDES: the discriminator's tables that are the generator's plus a difference, and the TF variable of each
# difference (this package's name; the original has no GDES). Token types and the LayerNorm are the discriminator's
# own, as in DeBERTaV3 (microsoft/DeBERTa, apps/tasks/rtd_task.py: word and position embeddings).
GDES_DELTAS = {"word_embeddings": "electra/embeddings/word_embeddings_delta",
               "position_embeddings": "electra/embeddings/position_embeddings_delta"}
_TWO_TOWER = "electra_hf.ElectraTwoTowerGenerator"
_GENERATOR_CARD = ("the masked-LM generator trained alongside the discriminator", "fill-mask")
_TWO_TOWER_CARD = ("Electric's two-tower cloze generator trained alongside the discriminator (its `logits` are each "
                   "position's distribution given the other tokens)", None)

MODES = {mode.name: mode for mode in (
    GeneratorMode("separate", "ELECTRA: a generator network sharing the discriminator's embeddings "
                  "(generator/encoder/*)", ("electra",), "masked_lm", _MASKED_LM, _GENERATOR_CARD,
                  tf_scopes=("generator/", "generator_predictions/", "electra/embeddings/"),
                  original_flags=(("two_tower_generator", False), ("uniform_generator", False),
                                  ("untied_generator", True), ("untied_generator_embeddings", False))),
    GeneratorMode("untied", "ELECTRA with untied generator embeddings (generator/embeddings/*)", ("electra",),
                  "masked_lm", _MASKED_LM, _GENERATOR_CARD, untied_generator_embeddings=True,
                  tf_scopes=("generator/", "generator_predictions/"),
                  original_flags=(("two_tower_generator", False), ("uniform_generator", False),
                                  ("untied_generator", True), ("untied_generator_embeddings", True))),
    GeneratorMode("gdes", "ELECTRA with gradient-disentangled embedding sharing (DeBERTaV3): the generator's own "
                  "embeddings (generator/embeddings/*), the discriminator's = theirs + a difference "
                  "(electra/embeddings/*_delta) that the discriminator alone trains", ("electra",), "masked_lm",
                  _MASKED_LM, _GENERATOR_CARD, gradient_disentangled_embeddings=True,
                  tf_scopes=("generator/", "generator_predictions/", *GDES_DELTAS.values()),
                  original_flags=(("two_tower_generator", False), ("uniform_generator", False),
                                  ("untied_generator", True))),
    GeneratorMode("tied", "a tied generator: the discriminator's own encoder with a masked-LM head (electra/* and "
                  "generator_predictions/*)", ("electra",), "masked_lm", _MASKED_LM, _GENERATOR_CARD,
                  tie_generator=True, tf_scopes=("electra/", "generator_predictions/"),
                  original_flags=(("two_tower_generator", False), ("uniform_generator", False),
                                  ("untied_generator", False))),
    GeneratorMode("mlm", "a masked LM, the original's BERT-style mode (electra/* and generator_predictions/*, no "
                  "discriminator)", ("mlm",), "masked_lm", _MASKED_LM,
                  ("the masked-LM baseline (BERT-style pre-training of the ELECTRA architecture): the encoder to "
                   "fine-tune", "fill-mask"),
                  tf_scopes=("electra/", "generator_predictions/"),
                  original_flags=(("two_tower_generator", False), ("uniform_generator", False))),
    GeneratorMode("two_tower", "Electric's two-tower generator sharing the discriminator's embeddings "
                  "(generator_ltr/*, generator_rtl/*, cloze_predictions/*)", ("electric", "electra"), "two_tower",
                  _TWO_TOWER, _TWO_TOWER_CARD,
                  tf_scopes=("generator_ltr/", "generator_rtl/", "cloze_predictions/", "electra/embeddings/"),
                  original_flags=(("two_tower_generator", True), ("uniform_generator", False),
                                  ("untied_generator", True), ("untied_generator_embeddings", False))),
    GeneratorMode("two_tower_untied", "Electric's two-tower generator with untied tower embeddings "
                  "(generator_ltr/embeddings/*, generator_rtl/embeddings/*)", ("electric", "electra"), "two_tower",
                  _TWO_TOWER, _TWO_TOWER_CARD, untied_generator_embeddings=True,
                  tf_scopes=("generator_ltr/", "generator_rtl/", "cloze_predictions/"),
                  original_flags=(("two_tower_generator", True), ("uniform_generator", False),
                                  ("untied_generator", True), ("untied_generator_embeddings", True))),
    GeneratorMode("uniform", "the uniform generator: no network, fakes drawn uniformly over the vocabulary "
                  "(run_pretraining.py:167-173)", ("electra",), "uniform", None, None,
                  original_flags=(("two_tower_generator", False), ("uniform_generator", True))),
)}
GENERATOR_TYPES = tuple(dict.fromkeys(mode.generator_type for mode in MODES.values()))
# An objective's generator when generator_type is not given (configure_pretraining.py:133: Electric's is the
# two-tower one).
DEFAULT_GENERATOR_TYPE = {"electra": "masked_lm", "electric": "two_tower", "mlm": "masked_lm"}


def _fields(generator_type: str, tie_generator: bool, untied_generator_embeddings: bool,
            gradient_disentangled_embeddings: bool = False) -> str:
    flags = {"tie_generator": tie_generator, "untied_generator_embeddings": untied_generator_embeddings,
             "gradient_disentangled_embeddings": gradient_disentangled_embeddings}
    return ", ".join([f"generator_type={generator_type!r}", *(f"{flag}=True" for flag, on in flags.items() if on)])


def mode_of(objective: str, generator_type: str, tie_generator: bool = False,
            untied_generator_embeddings: bool = False, gradient_disentangled_embeddings: bool = False
            ) -> GeneratorMode:
    """The mode of these config fields; a clear error naming the modes the objective has when none fits."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective={objective!r}: use one of {', '.join(map(repr, OBJECTIVES))}.")
    if generator_type not in GENERATOR_TYPES:
        raise ValueError(f"generator_type={generator_type!r}: use one of {', '.join(map(repr, GENERATOR_TYPES))}.")
    for mode in MODES.values():
        if objective in mode.objectives and (mode.generator_type, mode.tie_generator, mode.untied_generator_embeddings,
                                             mode.gradient_disentangled_embeddings) == (
                generator_type, bool(tie_generator), bool(untied_generator_embeddings),
                bool(gradient_disentangled_embeddings)):
            return mode
    given = _fields(generator_type, tie_generator, untied_generator_embeddings, gradient_disentangled_embeddings)
    choices = "; ".join(f"{mode.name}: {_fields(*(getattr(mode, name) for name in MODE_FIELDS[1:]))}"
                        for mode in MODES.values() if objective in mode.objectives)
    raise ValueError(f"objective={objective!r} with {given} is not a generator mode. The modes of {objective!r} "
                     f"are {choices}.")


def config_mode(config) -> GeneratorMode:
    """The mode of a pair config (anything with the MODE_FIELDS attributes)."""
    return mode_of(*(getattr(config, name) for name in MODE_FIELDS))
