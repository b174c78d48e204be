"""ElectraPretrainingConfig: the generator and discriminator configs plus the ELECTRA hyper-parameters
(the original: configure_pretraining.py, util/training_utils.py:96-112, run_pretraining.py:338-348). The presets are
in presets.py, the translation of the original's --hparams in original_hparams.py.
"""

from __future__ import annotations

from typing import Any

from transformers import ElectraConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .generator_modes import DEFAULT_GENERATOR_TYPE, GeneratorMode, config_mode
from .masking import MaskingConfig, max_predictions_for
from .original_hparams import original_model_hparams, split_original_hparams
from .presets import PRESETS, check_preset
from .two_tower import ElectraTwoTowerConfig

def derive_generator_config(discriminator_config: ElectraConfig, generator_hidden_size: float,
                            generator_layers: float = 1.0, untied_embeddings: bool = False) -> ElectraConfig:
    """The original rule (run_pretraining.py:338-348): hidden, heads and FFN shrink, layers do not by default.

    The embedding size stays the discriminator's: the embeddings are shared and the generator gets its own
    `embeddings_project` when its hidden size differs. Untied embeddings are as wide as the generator
    (modeling.py: `embedding_size=None`), so there is no projection.
    """
    config = ElectraConfig(**discriminator_config.to_dict())
    config.hidden_size = int(round(discriminator_config.hidden_size * generator_hidden_size))
    config.num_hidden_layers = int(round(discriminator_config.num_hidden_layers * generator_layers))
    config.intermediate_size = 4 * config.hidden_size
    config.num_attention_heads = max(1, config.hidden_size // 64)
    if untied_embeddings:
        config.embedding_size = config.hidden_size
    config.architectures = None
    return config


SAMPLING_METHODS = ("inverse_cdf", "gumbel")  # how fakes are drawn: see modeling.sample_tokens


class ElectraPretrainingConfig(PreTrainedConfig):
    r"""Everything that defines an ELECTRA pre-training model: the two networks and the objective.

    Args:
        discriminator_config: an `ElectraConfig` (or dict) for the discriminator.
        generator_config: an `ElectraConfig` (or dict) for the generator; derived from the discriminator with
            `generator_hidden_size` / `generator_layers` by the original rule when not given.
        objective: `"electra"` (replaced token detection), `"electric"` (Electric: the discriminator as an
            energy-based cloze model trained by noise-contrastive estimation against a two-tower generator,
            run_pretraining.py:194-201) or `"mlm"` (the BERT-style baseline: the full-size generator alone, same
            masking).
        generator_type: `"masked_lm"` (a small masked LM, ELECTRA's default), `"two_tower"` (Electric's cloze
            generator; the default and the only choice for `"electric"`) or `"uniform"` (no network: fakes drawn
            uniformly from the vocabulary, run_pretraining.py:167-173).
        tie_generator: the generator is the discriminator's encoder with an MLM head (one full-size network, the
            original's `untied_generator=False`).
        untied_generator_embeddings: the generator has embeddings of its own, of its hidden width, instead of
            sharing the discriminator's (the original's `untied_generator_embeddings`; DeBERTaV3's NES).
        gradient_disentangled_embeddings: DeBERTaV3's GDES (not in the original): the generator has embeddings of
            its own (the discriminator's width), and the discriminator's word and position tables are
            `stop_gradient(generator's) + delta`, the deltas its own parameters, zero at the start; the masked-LM
            loss alone trains the generator's tables. `embedding_sharing` names the three choices.
        max_seq_length: sequence length the data is built for; `max_predictions_per_seq` is derived from it.
        mask_prob, max_predictions_per_seq (default: derived from mask_prob and max_seq_length as the original),
            mask_replace_prob, random_replace_prob, position_sampling: the masking settings, read together as
            `config.masking` (see `masking.MaskingConfig`, which documents and validates them).
        gen_weight / disc_weight: loss weights (1.0 / 50.0).
        temperature: generator sampling temperature.
        disallow_correct: forbid sampling the original token.
        sampling: how fakes are drawn from the generator: "inverse_cdf" (one random number per slot) or "gumbel"
            (the original's Gumbel-max, one per vocabulary entry): the same distribution.
        fused_vocab_head: project the generator's hidden states to the vocabulary fused with the loss, a few rows
            at a time (electra_hf/vocab_head.py): the same results to float rounding, faster on a CPU, and
            Electric's [batch, seq, vocab] logits are never held. False computes the logits whole.
        generator_hidden_size / generator_layers: the fractions the generator was derived with (the original's
            names), kept for reference.
        mask_token_id / cls_token_id / sep_token_id: the tokenizer's special ids (default: the BERT uncased
            vocab's), used when the model masks a batch itself.
    """

    model_type = "electra_pretraining"
    sub_configs_defaults = {
        "discriminator_config": ElectraConfig,
        "generator_config": SubConfigSpec(config_class=ElectraConfig, optional=True),
    }

    discriminator_config: dict | ElectraConfig | None = None
    generator_config: dict | ElectraConfig | None = None
    objective: str = "electra"
    generator_type: str | None = None
    tie_generator: bool = False
    untied_generator_embeddings: bool = False
    gradient_disentangled_embeddings: bool = False
    max_seq_length: int = 128
    mask_prob: float = 0.15
    max_predictions_per_seq: int | None = None
    mask_replace_prob: float = 0.85
    random_replace_prob: float = 0.0
    position_sampling: str = "with_replacement"
    gen_weight: float = 1.0
    disc_weight: float = 50.0
    temperature: float = 1.0
    disallow_correct: bool = False
    sampling: str = "inverse_cdf"
    fused_vocab_head: bool = True
    generator_hidden_size: float = 0.25
    generator_layers: float = 1.0
    mask_token_id: int = 103
    cls_token_id: int = 101
    sep_token_id: int = 102

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.generator_type is None:
            self.generator_type = DEFAULT_GENERATOR_TYPE.get(self.objective)
        mode = self.mode  # validates the combination
        if mode.generator_class is None:
            self.generator_config = None
        elif self.generator_config is None:
            self.generator_config = derive_generator_config(
                self.discriminator_config, 1.0 if mode.one_network else self.generator_hidden_size,
                1.0 if mode.one_network else self.generator_layers, self.untied_generator_embeddings)
        if mode.two_tower and not isinstance(self.generator_config, ElectraTwoTowerConfig):
            self.generator_config = ElectraTwoTowerConfig(**{
                **{k: v for k, v in self.generator_config.to_dict().items() if k != "model_type"},
                "untied_tower_embeddings": self.untied_generator_embeddings})
        if mode.two_tower and self.generator_config.untied_tower_embeddings != self.untied_generator_embeddings:
            raise ValueError(f"the two-tower generator_config has untied_tower_embeddings="
                             f"{self.generator_config.untied_tower_embeddings} but untied_generator_embeddings="
                             f"{self.untied_generator_embeddings}: they must agree.")
        if self.objective != "mlm":  # lets a scorer tell an Electric discriminator from an ELECTRA one
            self.discriminator_config.pretraining_objective = self.objective
        if self.max_predictions_per_seq is None:
            self.max_predictions_per_seq = max_predictions_for(self.mask_prob, self.max_seq_length)
        self._validate()

    @property
    def mode(self) -> GeneratorMode:
        """The generator mode (generator_modes.MODES) these fields choose."""
        return config_mode(self)

    @property
    def shares_embeddings(self) -> bool:
        """Whether the generator reads the discriminator's embeddings module."""
        return self.mode.shares_embeddings

    @property
    def embedding_sharing(self) -> str | None:
        """"es" (one module, the original's default), "gdes" or "none"; None without a generator beside a
        discriminator (MLM, tied, uniform)."""
        return self.mode.embedding_sharing

    def _validate(self):
        disc, gen = self.discriminator_config, self.generator_config
        self.masking  # noqa: B018 - building it validates the masking settings
        if self.sampling not in SAMPLING_METHODS:
            raise ValueError(f"sampling={self.sampling!r}: use 'inverse_cdf' or 'gumbel' (the original's Gumbel-max).")
        if not self.temperature > 0:
            raise ValueError(f"temperature={self.temperature} must be > 0 (the original uses 1.0).")
        if self.max_seq_length > disc.max_position_embeddings:
            raise ValueError(
                f"max_seq_length={self.max_seq_length} is longer than max_position_embeddings="
                f"{disc.max_position_embeddings}: shorten the sequences or raise max_position_embeddings.")
        if not 1 <= self.max_predictions_per_seq <= self.max_seq_length:
            raise ValueError(f"max_predictions_per_seq={self.max_predictions_per_seq} must be in [1, max_seq_length="
                             f"{self.max_seq_length}].")
        for name, cfg in (("discriminator", disc), ("generator", gen)):
            if cfg is not None and cfg.hidden_size % cfg.num_attention_heads:
                raise ValueError(f"{name} hidden_size={cfg.hidden_size} is not a multiple of num_attention_heads="
                                 f"{cfg.num_attention_heads}.")
        if gen is None or self.objective == "mlm":
            return
        if gen.hidden_size > disc.hidden_size or gen.num_hidden_layers > disc.num_hidden_layers:
            raise ValueError(
                f"the generator (hidden {gen.hidden_size}, {gen.num_hidden_layers} layers) is larger than the "
                f"discriminator (hidden {disc.hidden_size}, {disc.num_hidden_layers} layers): use "
                "generator_hidden_size <= 1.0 (the paper: 1/4 to 1/3; the released small++: 1.0).")
        same_size = (gen.hidden_size, gen.num_hidden_layers) == (disc.hidden_size, disc.num_hidden_layers)
        if self.tie_generator and not same_size:
            raise ValueError("tie_generator=True: the generator is the discriminator's encoder, so its config must "
                             "have the discriminator's size (leave generator_config unset).")
        fields = ("vocab_size", "max_position_embeddings", "type_vocab_size")
        for field in fields + (("embedding_size",) if self.shares_embeddings else ()):
            if getattr(gen, field) != getattr(disc, field):
                raise ValueError(
                    f"generator {field}={getattr(gen, field)} differs from the discriminator's "
                    f"{getattr(disc, field)}: the two share their embeddings and fake tokens, so they must agree.")

    @classmethod
    def from_preset(cls, name: str, tokenizer=None, **overrides) -> "ElectraPretrainingConfig":
        """A preset (`small`, `small++`, `base`, `large`, `tiny`) with overrides.

        Overrides take the original's hparam names (`generator_hidden_size`, `embedding_size`,
        `model_hparam_overrides`, `mask_prob`, `electra_objective`, ...), this class's field names, or any
        `ElectraConfig` field (applied to the discriminator like `model_hparam_overrides`). A `tokenizer`
        sets the vocabulary size and the special token ids.
        """
        check_preset(name)
        if tokenizer is not None:
            overrides = {"vocab_size": len(tokenizer), "mask_token_id": tokenizer.mask_token_id,
                         "cls_token_id": tokenizer.cls_token_id, "sep_token_id": tokenizer.sep_token_id, **overrides}
        hparams = dict(PRESETS[name]["model"])
        model_overrides = dict(hparams.pop("model_hparam_overrides", {}))
        model_overrides.update(overrides.pop("model_hparam_overrides", {}) or {})
        electra_fields = set(ElectraConfig.default_config_fields())
        for key in list(overrides):
            if key in electra_fields and key not in ("vocab_size", "embedding_size"):
                model_overrides[key] = overrides.pop(key)
        hparams.update(overrides)
        hparams["model_hparam_overrides"] = model_overrides
        return cls._from_hparams(hparams)

    @classmethod
    def from_original_hparams(cls, hparams: dict | str, tokenizer=None, **overrides
                              ) -> tuple["ElectraPretrainingConfig", dict]:
        """Translate the original's `--hparams` (a dict, a JSON string or a .json path); `overrides` win.

        Returns the config and the training hparams translated to `ElectraTrainingArguments` names (those
        without a counterpart, such as TPU settings, are dropped).
        """
        preset, hparams, training = split_original_hparams(hparams)
        return cls.from_preset(preset, tokenizer=tokenizer, **{**hparams, **overrides}), training

    @classmethod
    def _from_hparams(cls, hparams: dict[str, Any]) -> "ElectraPretrainingConfig":
        model, hparams = original_model_hparams(hparams)
        known = set(cls.__dataclass_fields__)
        unknown = [k for k in hparams if k not in known or k in ("discriminator_config", "generator_config")]
        if unknown:
            raise ValueError(f"unknown hparam(s) {unknown}: ElectraPretrainingConfig takes the original's model "
                             f"hparams and {sorted(k for k in known if not k.startswith('_'))}; training hparams "
                             "(learning_rate, num_train_steps, ...) go to ElectraTrainingArguments.")
        return cls(discriminator_config=ElectraConfig(**model), **hparams)

    def get_text_config(self, decoder=None, encoder=None) -> ElectraConfig:
        """The network that reads the text: the discriminator (the generator in MLM mode)."""
        return self.discriminator_config if self.objective != "mlm" else self.generator_config

    @property
    def masking(self) -> MaskingConfig:
        """The masking settings (saved with the config as its own fields; MaskingConfig owns and validates them)."""
        return MaskingConfig(mask_prob=self.mask_prob, max_predictions_per_seq=self.max_predictions_per_seq,
                             mask_replace_prob=self.mask_replace_prob, random_replace_prob=self.random_replace_prob,
                             position_sampling=self.position_sampling)

    def masking_vocabulary(self) -> dict[str, Any]:
        """The token ids `masking.mask_tokens` needs besides the settings."""
        return {"never_masked_ids": (self.cls_token_id, self.sep_token_id, self.mask_token_id),
                "mask_token_id": self.mask_token_id, "vocab_size": self.discriminator_config.vocab_size}

    def check_tokenizer(self, tokenizer) -> None:
        """Fail early when the tokenizer does not fit the model's vocabulary or special tokens."""
        if tokenizer.mask_token_id is None or tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
            raise ValueError(f"the tokenizer {tokenizer.name_or_path!r} has no [CLS], [SEP] or [MASK] token; ELECTRA "
                             "masking needs all three (a BERT-style WordPiece tokenizer has them).")
        if len(tokenizer) != self.discriminator_config.vocab_size:
            raise ValueError(
                f"the tokenizer has {len(tokenizer)} tokens but the model's vocab_size is "
                f"{self.discriminator_config.vocab_size}: build the config with vocab_size={len(tokenizer)}.")
        for name in ("mask_token_id", "cls_token_id", "sep_token_id"):
            if getattr(tokenizer, name) != getattr(self, name):
                raise ValueError(f"the tokenizer's {name} is {getattr(tokenizer, name)} but the config's is "
                                 f"{getattr(self, name)}: build the config with {name}={getattr(tokenizer, name)}.")

