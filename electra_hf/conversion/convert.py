"""Original ELECTRA TensorFlow checkpoints ⇄ transformers models (names of the original's model/modeling.py and
run_pretraining.py scopes), with no TensorFlow installed.

`tf_to_hf` writes `discriminator/` (ElectraForPreTraining) and `generator/` (ElectraForMaskedLM; Electric's
two-tower generator: ElectraTwoTowerGenerator), safetensors, plus the pair's config so
`ElectraPretrainingModel.from_pretrained` loads both; `hf_to_tf` writes a checkpoint with the original variable
names that the original code and `tf.train.load_checkpoint` read. Sizes come from the variables' shapes; what
shapes cannot tell (attention heads; ELECTRA or Electric for a two-tower generator) from the original's
`--hparams`, else the original's rule (hidden // 64 heads) and default (a two-tower generator is Electric's).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from transformers import (
    AutoTokenizer,
    BertTokenizer,
    ElectraConfig,
    ElectraForMaskedLM,
    ElectraForPreTraining,
    ElectraModel,
    PreTrainedConfig,
)

from ..config import ElectraPretrainingConfig
from ..generator_modes import GDES_DELTAS, MODE_FIELDS, MODES
from ..original_hparams import original_objective, read_original_hparams
from ..modeling import ElectraPretrainingModel
from ..two_tower import ElectraTwoTowerConfig, ElectraTwoTowerGenerator, saved_generator_class
from .names import (
    DISCRIMINATOR_HEAD,
    GENERATOR_HEAD,
    GENERATOR_OUTPUT_BIAS,
    count_layers,
    is_bookkeeping,
    name_table,
    two_tower_table,
)
from .tf_bundle import (
    CheckpointError,
    TFCheckpointReader,
    write_checkpoint_state,
    write_tf_checkpoint,
)

logger = logging.getLogger(__name__)

# The original's model_size -> hidden size (util/training_utils.py), to check --hparams against the shapes.
ORIGINAL_HIDDEN = {"small": 256, "base": 768, "large": 1024}
# The original's debug transformer (run_pretraining.py:45-49), which wins over model_hparam_overrides.
ORIGINAL_DEBUG = {"hidden_size": 144, "num_hidden_layers": 3, "intermediate_size": 576, "num_attention_heads": 4}
OTHER_MODELS = {"bert/": "a BERT checkpoint", "encoder/block_000/": "a T5 checkpoint",
                "shared/embedding": "a T5 checkpoint", "roberta/": "a RoBERTa checkpoint",
                "model/h0/": "a GPT-2 checkpoint"}
TWO_TOWER = tuple(name for name, mode in MODES.items() if mode.two_tower)
# The layouts of the original's checkpoints (those of the generator modes that have variables), in words
LAYOUTS = {**{name: mode.description for name, mode in MODES.items() if mode.tf_scopes},
           None: "no generator variables: a discriminator-only checkpoint, or one pre-trained with "
                 "uniform_generator=True (that generator has no weights, so the two look the same)"}
# Original hparams that are fields of the pair config under the same name (configure_pretraining.py)
PAIR_HPARAMS = ("max_seq_length", "mask_prob", "max_predictions_per_seq", "temperature", "disallow_correct",
                "gen_weight", "disc_weight")


@dataclass
class ConversionReport:
    written: dict[str, str] = field(default_factory=dict)  # half -> directory or checkpoint prefix
    converted: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> variable names
    notes: list[str] = field(default_factory=list)  # the layout found, the pair config written, ...

    def summary(self) -> str:
        lines = [f"converted {self.converted} tensors -> " + ", ".join(f"{k}: {v}" for k, v in self.written.items())]
        lines += self.notes
        for reason, names in self.skipped.items():
            lines.append(f"skipped {len(names)} {reason}" + (f" (e.g. {names[0]})" if names else ""))
        return "\n".join(lines)


@contextmanager
def _atomic_directory(output_dir: str, overwrite: bool):
    """A temporary directory beside `output_dir`, renamed to it only when everything was written."""
    if os.path.exists(output_dir) and os.listdir(output_dir) and not overwrite:
        raise FileExistsError(f"{output_dir} exists and is not empty (pass --overwrite to replace it).")
    parent = os.path.dirname(os.path.abspath(output_dir))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".converting-", dir=parent)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if os.path.exists(output_dir):
        shutil.rmtree(output_dir)
    os.replace(staging, output_dir)


def _shape(reader: TFCheckpointReader, name: str, rank: int = 2) -> tuple[int, ...]:
    if name not in reader:
        raise CheckpointError(f"{reader.prefix}: {name} is missing (not a complete ELECTRA checkpoint).")
    shape = reader.entries[name].shape
    if len(shape) != rank:
        raise CheckpointError(f"{reader.prefix}: {name} has shape {list(shape)}; expected {rank} dimensions.")
    return shape


def _check_hparams(hparams: dict, found: dict[str, int]) -> None:
    """Fail when the user's hparams contradict what the checkpoint's shapes say."""
    overrides = hparams.get("model_hparam_overrides", {}) or {}
    claims = {"vocab_size": hparams.get("vocab_size"), "embedding_size": hparams.get("embedding_size"),
              "hidden_size": overrides.get("hidden_size",
                                           ORIGINAL_HIDDEN.get(hparams.get("model_size")) if not overrides else None),
              "num_hidden_layers": overrides.get("num_hidden_layers"),
              "intermediate_size": overrides.get("intermediate_size")}
    if hparams.get("debug"):
        claims.update({k: v for k, v in ORIGINAL_DEBUG.items() if k in claims})
    if "generator_hidden_size" in hparams and "generator_hidden_size" in found:
        claims["generator_hidden_size"] = int(round(found["hidden_size"] * float(hparams["generator_hidden_size"])))
    for key, claimed in claims.items():
        if claimed is not None and key in found and int(claimed) != found[key]:
            raise ValueError(f"conflicting --hparams: {key} is {claimed} there but {found[key]} in the checkpoint.")


def inspect_names(names) -> dict:
    """What the variable names say: whether the discriminator's head is there, the generator's layout (a key
    of LAYOUTS, "tied" also for the MLM mode: see `discriminator_head`), the fine-tuning heads."""
    names = set(names)
    if "electra/embeddings/word_embeddings" not in names:
        for prefix, what in OTHER_MODELS.items():
            if any(n.startswith(prefix) for n in names):
                raise CheckpointError(f"this is {what}, not an ELECTRA checkpoint (no electra/embeddings/...).")
        raise CheckpointError("not an ELECTRA checkpoint: no electra/embeddings/word_embeddings variable.")
    two_tower = any(n.startswith(("generator_ltr/", "generator_rtl/", "cloze_predictions/")) for n in names)
    masked_lm = any(n.startswith(("generator/", "generator_predictions/")) for n in names)
    if two_tower and masked_lm:
        raise CheckpointError("both a two-tower generator (generator_ltr/, generator_rtl/, cloze_predictions/) and a "
                              "masked-LM generator (generator/, generator_predictions/): the original builds one "
                              "generator, so this is no ELECTRA layout.")
    if two_tower:  # Electric (or ELECTRA with two_tower_generator=True)
        generator = ("two_tower_untied" if any(n.startswith(("generator_ltr/embeddings/", "generator_rtl/embeddings/"))
                                               for n in names) else "two_tower")
    elif set(GDES_DELTAS.values()) <= names:
        generator = "gdes"  # this package's GDES: the generator's embeddings and the discriminator's deltas
    elif any(n.startswith("generator/embeddings/") for n in names):
        generator = "untied"  # untied_generator_embeddings=True: its own embeddings, no projection
    elif any(n.startswith("generator/encoder/") for n in names):
        generator = "separate"
    elif any(n.startswith("generator_predictions/") for n in names):
        generator = "tied"  # the discriminator's encoder with a masked-LM head (tied generator or BERT mode)
    else:
        generator = None  # a discriminator alone; a uniform generator has no variables either
    return {"discriminator_head": "discriminator_predictions/dense_1/kernel" in names, "generator": generator,
            "task_heads": sorted({n.split("/")[1] for n in names if n.startswith("task_specific/")})}


def layout_name(layout: dict) -> str | None:
    """The LAYOUTS key of an `inspect_names` result ("mlm" for a tied generator without a discriminator)."""
    if layout["generator"] == "tied" and not layout["discriminator_head"]:
        return "mlm"
    return layout["generator"]


def pair_fields(layout: dict, hparams: dict | None = None) -> dict | None:
    """The pair config's objective and generator mode (ElectraPretrainingConfig fields) for a checkpoint layout,
    `--hparams` honoured where the names leave a choice (a two-tower generator: Electric unless `electra_objective`
    says ELECTRA; no generator variables: the uniform generator if `uniform_generator`). None when the checkpoint
    makes no pair (no generator variables and no `uniform_generator`). Contradicting hparams are an error."""
    hparams = hparams or {}
    name, said = layout_name(layout), original_objective(hparams)

    def conflict(what: str):
        raise ValueError(f"conflicting --hparams: {what}, but the checkpoint's variables say {LAYOUTS[name]}.")

    # the original's flags as this layout implies them (a flag the original ignores there is absent)
    implied = dict(MODES[name].original_flags) if name else {"two_tower_generator": False}
    for flag, value in implied.items():
        if flag in hparams and bool(hparams[flag]) != value:
            conflict(f"{flag} is {hparams[flag]}")
    if name is None:  # a discriminator alone, or the uniform generator's pair if the hparams say so
        if not hparams.get("uniform_generator"):
            return None
        name = "uniform"
    mode = MODES[name]
    if said is not None and said not in mode.objectives:
        conflict(f"the objective is {said}")
    return {field: getattr(mode, field) for field in MODE_FIELDS[1:]} | {"objective": said or mode.objectives[0]}


def infer_configs(reader: TFCheckpointReader, layout: dict, hparams: dict | None = None,
                  num_attention_heads: int | None = None, generator_num_attention_heads: int | None = None
                  ) -> tuple[ElectraConfig, ElectraConfig | None]:
    """The discriminator's and generator's configs from the shapes (heads: argument, else --hparams, else
    hidden // 64 as the original). The generator's is an ElectraTwoTowerConfig for a two-tower generator."""
    hparams = hparams or {}
    vocab, embedding = _shape(reader, "electra/embeddings/word_embeddings")
    hidden, intermediate = (_shape(reader, "electra/encoder/layer_0/attention/self/query/kernel")[1],
                            _shape(reader, "electra/encoder/layer_0/intermediate/dense/kernel")[1])
    layers = count_layers(reader.entries, "electra")
    found = {"vocab_size": vocab, "embedding_size": embedding, "hidden_size": hidden, "num_hidden_layers": layers,
             "intermediate_size": intermediate}
    generator = layout["generator"]
    scope = "generator_ltr" if generator in TWO_TOWER else "generator"
    if generator not in (None, "tied"):
        found["generator_hidden_size"] = _shape(reader, f"{scope}/encoder/layer_0/attention/self/query/kernel")[1]
    _check_hparams(hparams, found)
    heads = (num_attention_heads or (hparams.get("model_hparam_overrides") or {}).get("num_attention_heads")
             or (ORIGINAL_DEBUG["num_attention_heads"] if hparams.get("debug") else None) or max(1, hidden // 64))
    if hidden % heads:
        raise ValueError(f"hidden size {hidden} is not divisible by {heads} attention heads.")
    common = {"vocab_size": vocab,
              "max_position_embeddings": _shape(reader, "electra/embeddings/position_embeddings")[0],
              "type_vocab_size": _shape(reader, "electra/embeddings/token_type_embeddings")[0],
              "hidden_act": "gelu", "layer_norm_eps": 1e-12}
    disc = ElectraConfig(embedding_size=embedding, hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=heads, intermediate_size=intermediate, **common)
    if generator is None:
        return disc, None
    if generator == "tied":
        return disc, ElectraConfig(**{**disc.to_dict(), "architectures": None})
    gen_hidden = found["generator_hidden_size"]
    gen_heads = generator_num_attention_heads or max(1, gen_hidden // 64)  # the original's generator rule
    if gen_hidden % gen_heads:
        raise ValueError(f"generator hidden size {gen_hidden} is not divisible by {gen_heads} attention heads.")
    gen_layers = count_layers(reader.entries, scope)
    untied = generator in ("untied", "two_tower_untied")
    gen_embedding = _shape(reader, f"{scope}/embeddings/word_embeddings")[1] if untied else embedding
    kwargs = dict(embedding_size=gen_embedding, hidden_size=gen_hidden, num_hidden_layers=gen_layers,
                  num_attention_heads=gen_heads,
                  intermediate_size=_shape(reader, f"{scope}/encoder/layer_0/intermediate/dense/kernel")[1], **common)
    if generator in TWO_TOWER:
        if count_layers(reader.entries, "generator_rtl") != gen_layers:
            raise CheckpointError(f"{reader.prefix}: generator_ltr has {gen_layers} layers but generator_rtl has "
                                  f"{count_layers(reader.entries, 'generator_rtl')}; the towers are the same size.")
        return disc, ElectraTwoTowerConfig(untied_tower_embeddings=untied, **kwargs)
    return disc, ElectraConfig(**kwargs)


def discriminator_names(config: ElectraConfig, with_head: bool = True) -> list[tuple[str, str, bool]]:
    return name_table("electra", "electra", config.num_hidden_layers, config.embedding_size != config.hidden_size,
                      DISCRIMINATOR_HEAD if with_head else [])


def generator_names(config: ElectraConfig, layout: str) -> list[tuple[str, str, bool]]:
    """The generator's (TF name, HF name, transpose) table for a layout: "separate", "untied", "tied" (also the
    MLM mode), "two_tower" or "two_tower_untied"."""
    has_projection = config.embedding_size != config.hidden_size
    if layout in TWO_TOWER:
        return two_tower_table(config.num_hidden_layers, has_projection, layout == "two_tower_untied")
    scope = {"separate": ("electra", "generator"), "untied": ("generator", "generator"),
             "gdes": ("generator", "generator"), "tied": ("electra", "electra")}
    embeddings_scope, encoder_scope = scope[layout]
    return name_table(embeddings_scope, encoder_scope, config.num_hidden_layers, has_projection, GENERATOR_HEAD,
                      output_bias=GENERATOR_OUTPUT_BIAS)


def _tied_keys(model: torch.nn.Module) -> set[str]:
    """Parameters tied to another one (the output layer to the word embeddings, shared tower embeddings)."""
    return set(getattr(model, "all_tied_weights_keys", None) or {})


def _load_half(model: torch.nn.Module, reader: TFCheckpointReader, table) -> None:
    state = {}
    for tf_name, hf_name, transpose in table:
        if tf_name not in reader:
            raise CheckpointError(f"{reader.prefix}: {tf_name} is missing (needed for {type(model).__name__}).")
        tensor = reader.get_tensor(tf_name)
        state[hf_name] = tensor.t().contiguous() if transpose else tensor
    expected = model.state_dict()
    for name, tensor in state.items():
        if tuple(expected[name].shape) != tuple(tensor.shape):
            raise CheckpointError(f"{name}: the checkpoint's shape {list(tensor.shape)} does not fit the inferred "
                                  f"model's {list(expected[name].shape)} (wrong --hparams?).")
    result = model.load_state_dict(state, strict=False)
    missing = set(result.missing_keys) - _tied_keys(model)
    if missing or result.unexpected_keys:
        raise CheckpointError(f"incomplete conversion: missing {sorted(missing)}, unexpected {result.unexpected_keys}.")


def _pair_config(disc_config: ElectraConfig, gen_config: ElectraConfig | None, fields: dict,
                 hparams: dict) -> ElectraPretrainingConfig:
    """The pair's ElectraPretrainingConfig: the layout's fields, the original's pair hparams where given."""
    kwargs = {key: hparams[key] for key in PAIR_HPARAMS if key in hparams}
    kwargs.setdefault("max_seq_length", min(128, disc_config.max_position_embeddings))
    if gen_config is not None:  # MLM mode's generator is the discriminator's size: 1.0 and 1.0
        kwargs["generator_hidden_size"] = gen_config.hidden_size / disc_config.hidden_size
        kwargs["generator_layers"] = gen_config.num_hidden_layers / disc_config.num_hidden_layers
    return ElectraPretrainingConfig(discriminator_config=disc_config, generator_config=gen_config, **fields, **kwargs)


def tf_to_hf(checkpoint: str, output_dir: str, which: str = "both", hparams: dict | str | None = None,
             num_attention_heads: int | None = None, generator_num_attention_heads: int | None = None,
             overwrite: bool = False) -> ConversionReport:
    """Convert an original checkpoint to `output_dir/discriminator` and/or `output_dir/generator` (with both,
    also the pair's config.json for `ElectraPretrainingModel`).

    The generator is an ElectraForMaskedLM (an ElectraTwoTowerGenerator for a two-tower one). An MLM-mode
    checkpoint (no discriminator) gives `generator/` and a pair config with objective "mlm"; a checkpoint with
    no generator variables needs `which="discriminator"`, or `uniform_generator` in `hparams` for a pair.
    """
    if which not in ("both", "discriminator", "generator"):
        raise ValueError(f"which={which!r}: use both, discriminator or generator.")
    reader = TFCheckpointReader(checkpoint)
    layout = inspect_names(reader.entries)
    name = layout_name(layout)
    hparams = read_original_hparams(hparams) if hparams else {}
    fields = pair_fields(layout, hparams)
    if which == "generator" and name is None:
        raise CheckpointError(f"{reader.prefix} has {LAYOUTS[None]}; there is no generator to convert.")
    if which == "both" and fields is None:
        raise CheckpointError(
            f"{reader.prefix} has {LAYOUTS[None]}: use --which discriminator (or, if it was pre-trained with the "
            "uniform generator, --hparams '{\"uniform_generator\": true}' to also write the pair config).")
    disc_config, gen_config = infer_configs(reader, layout, hparams, num_attention_heads, generator_num_attention_heads)
    objective = fields["objective"] if fields else original_objective(hparams)
    if objective in ("electra", "electric"):  # lets a scorer tell an Electric discriminator from an ELECTRA one
        disc_config.pretraining_objective = objective
    report = ConversionReport(notes=[f"checkpoint: {reader.prefix}", f"layout: {LAYOUTS[name]}"])
    if name in TWO_TOWER and original_objective(hparams) is None:
        report.notes.append("objective 'electric' assumed for a two-tower generator; --hparams "
                            "'{\"electric_objective\": false}' converts it as ELECTRA with a two-tower generator")
    halves: dict[str, torch.nn.Module] = {}
    used: set[str] = set()
    if which == "discriminator" or which == "both" and name != "mlm":  # MLM mode: there is no discriminator
        head = layout["discriminator_head"]
        disc = (ElectraForPreTraining if head else ElectraModel)(disc_config)
        table = discriminator_names(disc_config, head)
        if not head:  # a fine-tuning checkpoint: the encoder alone, its task heads skipped
            table = [(tf, hf.removeprefix("electra."), t) for tf, hf, t in table]
        _load_half(disc, reader, table)
        halves["discriminator"] = disc
        used |= {tf for tf, _, _ in table}
    if which in ("both", "generator") and gen_config is not None:
        gen = (ElectraTwoTowerGenerator if name in TWO_TOWER else ElectraForMaskedLM)(gen_config)
        table = generator_names(gen_config, layout["generator"])
        _load_half(gen, reader, table)
        halves["generator"] = gen
        used |= {tf for tf, _, _ in table}
    if name == "gdes" and which == "both":
        used |= set(GDES_DELTAS.values())  # the pair's deltas, read below (one half alone has no use for them)
    own_scopes = {"discriminator": ("electra/", "discriminator_predictions/"),
                  "generator": MODES[name].tf_scopes if name else ()}
    unexpected = [n for n in sorted(set(reader.entries) - used) if not is_bookkeeping(n)
                  and n not in GDES_DELTAS.values() and any(n.startswith(own_scopes[half]) for half in halves)]
    if unexpected:  # e.g. a projection where the shapes say none: the model would silently differ
        raise CheckpointError(f"variables the inferred model has no place for: {unexpected[:5]} "
                              f"({len(unexpected)} in all); is this an ELECTRA layout?")
    for n in sorted(set(reader.entries) - used):
        reason = ("optimizer slots and step counters" if is_bookkeeping(n) else
                  "task-specific (fine-tuning) head variables" if n.startswith("task_specific/") else
                  "generator variables (not requested)" if n.startswith(("generator", "cloze_predictions/")) else
                  "discriminator variables (not requested)" if n.startswith(("discriminator_predictions/", "electra/"))
                  else "unrecognised variables")
        report.skipped.setdefault(reason, []).append(n)
    report.converted = len(used)
    unchecked = [n for n in used if reader.entries[n].crc32c is None]
    report.notes.append(f"CRC-32C verified for {len(used) - len(unchecked)} of the {len(used)} tensors converted"
                        + (f" ({len(unchecked)} carry no checksum)" if unchecked else "")
                        + (f"; the {sum(map(len, report.skipped.values()))} skipped ones (e.g. optimizer slots) "
                           "were not read, so not verified" if report.skipped else ""))

    pair = None
    if which == "both" and name != "mlm" and not layout["discriminator_head"]:
        report.notes.append("no pair config.json: the discriminator has no head (discriminator_predictions/)")
    elif which == "both":
        try:
            pair = _pair_config(disc_config, gen_config, fields, hparams)
        except ValueError as err:  # e.g. a generator larger than the discriminator: the halves still convert
            logger.warning("No pair config.json (%s): the halves are written as separate models.", err)
            report.notes.append(f"no pair config.json ({err})")
    if pair is not None:
        report.notes.append(f"pair config.json: objective {pair.objective!r}, generator mode {pair.mode.name!r}")
    vocab = os.path.join(os.path.dirname(reader.prefix), "vocab.txt")
    tokenizer = BertTokenizer.from_pretrained(os.path.dirname(reader.prefix), do_lower_case=hparams.get(
        "do_lower_case", True)) if os.path.isfile(vocab) else None
    with _atomic_directory(output_dir, overwrite) as staging:
        if pair is not None:
            model = ElectraPretrainingModel(pair, **halves)
            if pair.gradient_disentangled_embeddings:  # the saved deltas, not the halves' rounded difference
                model.load_embedding_deltas({table: reader.get_tensor(tf) for table, tf in GDES_DELTAS.items()})
            model.save_pretrained(staging)
        else:
            for half, model in halves.items():
                model.save_pretrained(os.path.join(staging, half))
        for half in halves:
            if tokenizer is not None:
                tokenizer.save_pretrained(os.path.join(staging, half))
        with open(os.path.join(staging, "conversion.json"), "w") as f:
            json.dump({"source": os.path.abspath(reader.prefix), "layout": {**layout, "name": name},
                       "pair": None if pair is None else {k: getattr(pair, k) for k in MODE_FIELDS},
                       "converted": report.converted,
                       "skipped": {k: len(v) for k, v in report.skipped.items()}}, f, indent=1)
    report.written = {half: os.path.join(output_dir, half) for half in halves}
    return report


def _hf_tensors(model: torch.nn.Module, table) -> dict[str, torch.Tensor]:
    """The TF tensors of a model, floating point in float32 as the original's variables are (a half-precision
    checkpoint would not restore into them)."""
    state = {name: t.float() if t.is_floating_point() else t for name, t in model.state_dict().items()}
    return {tf: (state[hf].t().contiguous() if transpose else state[hf]) for tf, hf, transpose in table}


def _load_complete(cls, path: str):
    """`cls.from_pretrained(path)`, refusing a checkpoint that lacks some of the model's weights (they would be
    written to the TF checkpoint freshly initialised)."""
    model, info = cls.from_pretrained(path, output_loading_info=True)
    missing = set(info["missing_keys"]) - _tied_keys(model)
    if missing:
        raise ValueError(f"{path} is not a complete {cls.__name__}: it has no {sorted(missing)[:3]} "
                         f"({len(missing)} missing).")
    return model


def _write_vocab(model_dir: str, path: str) -> None:
    """The WordPiece vocabulary the original reads (vocab.txt, one token per line in id order), if the model has
    a WordPiece tokenizer."""
    if os.path.isfile(os.path.join(model_dir, "vocab.txt")):
        shutil.copy(os.path.join(model_dir, "vocab.txt"), path)
        return
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    except (OSError, ValueError):
        logger.warning("%s has no tokenizer: no vocab.txt written.", model_dir)
        return
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or type(backend.model).__name__ != "WordPiece":
        logger.warning("%s's tokenizer is not WordPiece: no vocab.txt written.", model_dir)
        return
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(token + "\n" for token, _ in vocab)


def _guess_layout(disc: ElectraForPreTraining, gen) -> str:
    """The layout of two halves given without a pair config: from the generator's class and weights."""
    if isinstance(gen, ElectraTwoTowerGenerator):
        return "two_tower_untied" if gen.config.untied_tower_embeddings else "two_tower"
    disc_encoder, gen_encoder = disc.electra.state_dict(), gen.electra.state_dict()
    if all(k in disc_encoder and disc_encoder[k].shape == t.shape and torch.equal(disc_encoder[k], t)
           for k, t in gen_encoder.items()):
        return "tied"  # the very same encoder: one network (untied_generator=False)
    disc_table = disc.electra.embeddings.word_embeddings.weight
    gen_table = gen.electra.embeddings.word_embeddings.weight
    if gen_table.shape != disc_table.shape and gen.config.embedding_size == gen.config.hidden_size:
        return "untied"  # embeddings of the generator's own width cannot be the shared ones
    return "separate"


def _check_generator(gen, layout: str, path: str) -> None:
    """The ties the original's variables cannot express: the output layer is the (left-to-right tower's) word
    embeddings; shared tower embeddings are one table."""
    output, embeddings = gen.get_output_embeddings().weight, gen.get_input_embeddings().weight
    if output.shape != embeddings.shape or not torch.equal(output, embeddings):
        raise ValueError(f"{path}'s output layer is not tied to its word embeddings; the original ties them, so "
                         "its checkpoint has no place for it.")
    if layout == "two_tower":
        ltr, rtl = gen.ltr.embeddings.state_dict(), gen.rtl.embeddings.state_dict()
        if any(not torch.equal(t, rtl[k]) for k, t in ltr.items()):
            raise ValueError(f"{path}'s towers have different embeddings but its config shares them "
                             "(untied_tower_embeddings=False).")


def hf_to_tf(output_dir: str, discriminator: str | None = None, generator: str | None = None, global_step: int = 0,
             optimizer_slots: bool = False, num_shards: int = 1, overwrite: bool = False,
             pair: str | None = None) -> ConversionReport:
    """Write `output_dir/model.ckpt-<global_step>` (+ `checkpoint`, + `vocab.txt` when the model has one) with
    the original's variable names.

    The model: `pair`, a local directory `ElectraPretrainingModel.save_pretrained` (or `tf_to_hf`) wrote, whose config
    says the layout (Electric's two towers, a tied generator, untied embeddings, MLM mode, ...); or
    `discriminator` (ElectraForPreTraining) and optionally `generator` (ElectraForMaskedLM or
    ElectraTwoTowerGenerator) directories, the layout then read from the generator's class and weights.
    `optimizer_slots` adds zero `adam_m`/`adam_v` slots, which the original's Estimator expects when it resumes
    pre-training from a directory.
    """
    if pair:
        if discriminator or generator:
            raise ValueError("pass either the pair directory or the discriminator (and generator) directories.")
        try:
            model_type = PreTrainedConfig.get_config_dict(pair)[0].get("model_type")
        except OSError:
            model_type = None
        if model_type != ElectraPretrainingConfig.model_type:
            raise ValueError(f"{pair} is not a pair directory (a config.json of model_type "
                             f"{ElectraPretrainingConfig.model_type!r}, discriminator/, generator/): "
                             + ("pass its halves as discriminator/generator." if model_type else "no config.json."))
        config = ElectraPretrainingConfig.from_pretrained(pair)
        layout = config.mode.name if config.mode.tf_scopes else None  # the uniform generator: no variables
        discriminator = os.path.join(pair, "discriminator") if config.objective != "mlm" else None
        gen_cls = config.mode.load_generator_class()
        generator = os.path.join(pair, "generator") if gen_cls is not None else None
    elif not discriminator:
        raise ValueError("hf_to_tf needs the discriminator (its embeddings are the shared ones), or a pair "
                         "directory.")
    else:
        layout = None
        gen_cls = None
        if generator:
            gen_cls = saved_generator_class(generator)
    tensors: dict[str, torch.Tensor] = {}
    disc = None
    if discriminator:
        disc = _load_complete(ElectraForPreTraining, discriminator)
        tensors = _hf_tensors(disc, discriminator_names(disc.config))
    if generator:
        gen = _load_complete(gen_cls, generator)
        layout = layout or _guess_layout(disc, gen)
        _check_generator(gen, layout, generator)
        gen_tensors = _hf_tensors(gen, generator_names(gen.config, "tied" if layout == "mlm" else layout))
        for name in [n for n in gen_tensors if n in tensors]:  # shared embeddings (and a tied encoder): once
            mine = gen_tensors.pop(name)
            if mine.shape != tensors[name].shape or not torch.equal(mine, tensors[name]):
                what = ("the embeddings between them" if name.startswith("electra/embeddings/")
                        else "one encoder between them (a tied generator)")
                raise ValueError(f"the generator's {name} differs from the discriminator's; the original shares "
                                 f"{what} (were these halves trained together? a pair directory says how).")
        tensors.update(gen_tensors)
    if layout == "gdes":  # the discriminator's deltas under this package's names (generator_modes.GDES_DELTAS)
        deltas = ElectraPretrainingModel.from_pretrained(pair).embedding_deltas()
        tensors.update({GDES_DELTAS[table]: delta.float() for table, delta in deltas.items()})
    if optimizer_slots:
        tensors.update({f"{name}/{slot}": torch.zeros_like(t, dtype=torch.float32) for name, t in list(tensors.items())
                        for slot in ("adam_m", "adam_v")})
    tensors["global_step"] = torch.tensor(global_step, dtype=torch.int64)
    report = ConversionReport(converted=len(tensors))
    if generator or pair:
        report.notes.append(f"layout: {LAYOUTS[layout]}")
    with _atomic_directory(output_dir, overwrite) as staging:
        prefix_name = f"model.ckpt-{global_step}"
        write_tf_checkpoint(os.path.join(staging, prefix_name), tensors.items(), num_shards=num_shards)
        write_checkpoint_state(staging, prefix_name)
        _write_vocab(discriminator or generator, os.path.join(staging, "vocab.txt"))
    report.written = {"checkpoint": os.path.join(output_dir, f"model.ckpt-{global_step}")}
    return report
