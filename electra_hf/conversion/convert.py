"""Original ELECTRA TensorFlow checkpoints ⇄ transformers models (spec §12), with no TensorFlow installed.

`tf_to_hf` writes `discriminator/` (ElectraForPreTraining) and `generator/` (ElectraForMaskedLM), safetensors,
plus the pair's config so `ElectraPretrainingModel.from_pretrained` loads both; `hf_to_tf` writes a checkpoint
with the original variable names that the original code and `tf.train.load_checkpoint` read. Sizes come from
the variables' shapes; what shapes cannot tell (attention heads) from the original's `--hparams` or the
original's rule (hidden // 64).
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
)

from ..config import read_original_hparams
from ..modeling import ElectraPretrainingModel
from .names import (
    DISCRIMINATOR_HEAD,
    GENERATOR_HEAD,
    count_layers,
    is_bookkeeping,
    name_table,
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
OTHER_MODELS = {"bert/": "a BERT checkpoint", "encoder/block_000/": "a T5 checkpoint",
                "shared/embedding": "a T5 checkpoint", "roberta/": "a RoBERTa checkpoint",
                "model/h0/": "a GPT-2 checkpoint"}


@dataclass
class ConversionReport:
    written: dict[str, str] = field(default_factory=dict)  # half -> directory or checkpoint prefix
    converted: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> variable names

    def summary(self) -> str:
        lines = [f"converted {self.converted} tensors -> " + ", ".join(f"{k}: {v}" for k, v in self.written.items())]
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
    for key, claimed in claims.items():
        if claimed is not None and key in found and int(claimed) != found[key]:
            raise ValueError(f"conflicting --hparams: {key} is {claimed} there but {found[key]} in the checkpoint.")


def inspect_names(names) -> dict:
    """What the variable names say: which halves there are, the generator's layout, what will be skipped."""
    names = set(names)
    if "electra/embeddings/word_embeddings" not in names:
        for prefix, what in OTHER_MODELS.items():
            if any(n.startswith(prefix) for n in names):
                raise CheckpointError(f"this is {what}, not an ELECTRA checkpoint (no electra/embeddings/...).")
        raise CheckpointError("not an ELECTRA checkpoint: no electra/embeddings/word_embeddings variable.")
    if any(n.startswith(("generator_ltr/", "generator_rtl/", "cloze_predictions/")) for n in names):
        raise CheckpointError("this is an Electric checkpoint (generator_ltr/, generator_rtl/, cloze_predictions/): "
                              "its two-tower generator has no transformers class; it is not converted yet.")
    if any(n.startswith("generator/embeddings/") for n in names):
        generator = "untied"  # untied_generator_embeddings=True: its own embeddings, no projection
    elif any(n.startswith("generator/encoder/") for n in names):
        generator = "separate"
    elif any(n.startswith("generator_predictions/") for n in names):
        generator = "tied"  # the discriminator's encoder with a masked-LM head (tied generator or BERT mode)
    else:
        generator = None
    return {"discriminator_head": "discriminator_predictions/dense_1/kernel" in names, "generator": generator,
            "task_heads": sorted({n.split("/")[1] for n in names if n.startswith("task_specific/")})}


def infer_configs(reader: TFCheckpointReader, layout: dict, hparams: dict | None = None,
                  num_attention_heads: int | None = None, generator_num_attention_heads: int | None = None
                  ) -> tuple[ElectraConfig, ElectraConfig | None]:
    """The discriminator's and generator's ElectraConfig from the shapes (heads: argument, else --hparams,
    else hidden // 64 as the original)."""
    hparams = hparams or {}
    vocab, embedding = _shape(reader, "electra/embeddings/word_embeddings")
    hidden, intermediate = (_shape(reader, "electra/encoder/layer_0/attention/self/query/kernel")[1],
                            _shape(reader, "electra/encoder/layer_0/intermediate/dense/kernel")[1])
    layers = count_layers(reader.entries, "electra")
    found = {"vocab_size": vocab, "embedding_size": embedding, "hidden_size": hidden, "num_hidden_layers": layers,
             "intermediate_size": intermediate}
    _check_hparams(hparams, found)
    heads = num_attention_heads or (hparams.get("model_hparam_overrides") or {}).get("num_attention_heads") or max(
        1, hidden // 64)
    if hidden % heads:
        raise ValueError(f"hidden size {hidden} is not divisible by {heads} attention heads.")
    common = {"vocab_size": vocab,
              "max_position_embeddings": _shape(reader, "electra/embeddings/position_embeddings")[0],
              "type_vocab_size": _shape(reader, "electra/embeddings/token_type_embeddings")[0],
              "hidden_act": "gelu", "layer_norm_eps": 1e-12}
    disc = ElectraConfig(embedding_size=embedding, hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=heads, intermediate_size=intermediate, **common)
    if layout["generator"] is None:
        return disc, None
    if layout["generator"] == "tied":
        return disc, ElectraConfig(**{**disc.to_dict(), "architectures": None})
    gen_hidden = _shape(reader, "generator/encoder/layer_0/attention/self/query/kernel")[1]
    gen_heads = generator_num_attention_heads or max(1, gen_hidden // 64)  # the original's generator rule
    gen_embedding = (_shape(reader, "generator/embeddings/word_embeddings")[1] if layout["generator"] == "untied"
                     else embedding)
    gen = ElectraConfig(embedding_size=gen_embedding, hidden_size=gen_hidden,
                        num_hidden_layers=count_layers(reader.entries, "generator"), num_attention_heads=gen_heads,
                        intermediate_size=_shape(reader, "generator/encoder/layer_0/intermediate/dense/kernel")[1],
                        **common)
    if gen_hidden % gen_heads:
        raise ValueError(f"generator hidden size {gen_hidden} is not divisible by {gen_heads} attention heads.")
    return disc, gen


def discriminator_names(config: ElectraConfig, with_head: bool = True) -> list[tuple[str, str, bool]]:
    return name_table("electra", "electra", config.num_hidden_layers, config.embedding_size != config.hidden_size,
                      DISCRIMINATOR_HEAD if with_head else [])


def generator_names(config: ElectraConfig, layout: str) -> list[tuple[str, str, bool]]:
    scope = {"separate": ("electra", "generator"), "untied": ("generator", "generator"), "tied": ("electra", "electra")}
    embeddings_scope, encoder_scope = scope[layout]
    return name_table(embeddings_scope, encoder_scope, config.num_hidden_layers,
                      config.embedding_size != config.hidden_size, GENERATOR_HEAD, output_bias=True)


def _load_half(model: torch.nn.Module, reader: TFCheckpointReader, table, tied: set[str]) -> None:
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
    missing = set(result.missing_keys) - tied
    if missing or result.unexpected_keys:
        raise CheckpointError(f"incomplete conversion: missing {sorted(missing)}, unexpected {result.unexpected_keys}.")


def tf_to_hf(checkpoint: str, output_dir: str, which: str = "both", hparams: dict | str | None = None,
             num_attention_heads: int | None = None, generator_num_attention_heads: int | None = None,
             overwrite: bool = False) -> ConversionReport:
    """Convert an original checkpoint to `output_dir/discriminator` and/or `output_dir/generator` (stock
    transformers classes; with both, also the pair's config.json for `ElectraPretrainingModel`)."""
    if which not in ("both", "discriminator", "generator"):
        raise ValueError(f"which={which!r}: use both, discriminator or generator.")
    reader = TFCheckpointReader(checkpoint)
    layout = inspect_names(reader.entries)
    hparams = read_original_hparams(hparams) if hparams else {}
    if which in ("both", "generator") and layout["generator"] is None:
        raise CheckpointError(f"{reader.prefix} has no generator variables (generator/..., generator_predictions/...): "
                              "use --which discriminator.")
    disc_config, gen_config = infer_configs(reader, layout, hparams, num_attention_heads, generator_num_attention_heads)
    report = ConversionReport()
    halves: dict[str, torch.nn.Module] = {}
    used: set[str] = set()
    if which in ("both", "discriminator"):
        head = layout["discriminator_head"]
        disc = (ElectraForPreTraining if head else ElectraModel)(disc_config)
        table = discriminator_names(disc_config, head)
        if not head:  # a fine-tuning checkpoint: the encoder alone, its task heads skipped
            table = [(tf, hf.removeprefix("electra."), t) for tf, hf, t in table]
        _load_half(disc, reader, table, set())
        halves["discriminator"] = disc
        used |= {tf for tf, _, _ in table}
    if which in ("both", "generator"):
        gen = ElectraForMaskedLM(gen_config)
        table = generator_names(gen_config, layout["generator"])
        _load_half(gen, reader, table, {"generator_lm_head.weight"})
        halves["generator"] = gen
        used |= {tf for tf, _, _ in table}
    generator_scopes = {"separate": ("generator/", "generator_predictions/", "electra/embeddings/"),
                        "untied": ("generator/", "generator_predictions/"),
                        "tied": ("electra/", "generator_predictions/")}
    own_scopes = {"discriminator": ("electra/", "discriminator_predictions/"),
                  "generator": generator_scopes.get(layout["generator"], ())}
    unexpected = [name for name in sorted(set(reader.entries) - used) if not is_bookkeeping(name)
                  and any(name.startswith(own_scopes[half]) for half in halves)]
    if unexpected:  # e.g. a projection where the shapes say none: the model would silently differ
        raise CheckpointError(f"variables the inferred model has no place for: {unexpected[:5]} "
                              f"({len(unexpected)} in all); is this an ELECTRA layout?")
    for name in sorted(set(reader.entries) - used):
        reason = ("optimizer slots and step counters" if is_bookkeeping(name) else
                  "task-specific (fine-tuning) head variables" if name.startswith("task_specific/") else
                  "generator variables (not requested)" if name.startswith("generator") else
                  "discriminator head variables (not requested)" if name.startswith("discriminator_predictions/")
                  else "unrecognised variables")
        report.skipped.setdefault(reason, []).append(name)
    report.converted = len(used)

    vocab = os.path.join(os.path.dirname(reader.prefix), "vocab.txt")
    tokenizer = BertTokenizer.from_pretrained(os.path.dirname(reader.prefix), do_lower_case=hparams.get(
        "do_lower_case", True)) if os.path.isfile(vocab) else None
    with _atomic_directory(output_dir, overwrite) as staging:
        paired = (set(halves) == {"discriminator", "generator"} and layout["generator"] != "untied"
                  and isinstance(halves["discriminator"], ElectraForPreTraining))
        if not paired and len(halves) == 2:  # ElectraPretrainingModel shares embeddings: untied ones are not
            logger.warning("No pair config.json: untied generator embeddings are converted as two separate models.")
        if paired:
            length = hparams.get("max_seq_length", min(128, disc_config.max_position_embeddings))
            ElectraPretrainingModel.from_discriminator_and_generator(
                halves["discriminator"], halves["generator"], max_seq_length=length).save_pretrained(staging)
        else:
            for name, model in halves.items():
                model.save_pretrained(os.path.join(staging, name))
        for name in halves:
            if tokenizer is not None:
                tokenizer.save_pretrained(os.path.join(staging, name))
        with open(os.path.join(staging, "conversion.json"), "w") as f:
            json.dump({"source": os.path.abspath(reader.prefix), "layout": layout, "converted": report.converted,
                       "skipped": {k: len(v) for k, v in report.skipped.items()}}, f, indent=1)
    report.written = {name: os.path.join(output_dir, name) for name in halves}
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
    missing = set(info["missing_keys"]) - {"generator_lm_head.weight"}
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


def hf_to_tf(output_dir: str, discriminator: str | None = None, generator: str | None = None, global_step: int = 0,
             optimizer_slots: bool = False, num_shards: int = 1, overwrite: bool = False) -> ConversionReport:
    """Write `output_dir/model.ckpt-<global_step>` (+ `checkpoint`, + `vocab.txt` when the discriminator has
    one) with the original's variable names. `optimizer_slots` adds zero `adam_m`/`adam_v` slots, which the
    original's Estimator expects when it resumes pre-training from a directory."""
    if not discriminator:
        raise ValueError("hf_to_tf needs the discriminator (its embeddings are the shared ones).")
    disc = _load_complete(ElectraForPreTraining, discriminator)
    tensors = _hf_tensors(disc, discriminator_names(disc.config))
    if generator:
        gen = _load_complete(ElectraForMaskedLM, generator)
        if not torch.equal(gen.generator_lm_head.weight, gen.electra.embeddings.word_embeddings.weight):
            raise ValueError(f"{generator}'s output layer is not tied to its word embeddings; the original ties "
                             "them, so its checkpoint has no place for it.")
        gen_tensors = _hf_tensors(gen, generator_names(gen.config, "separate"))
        for name in [n for n in gen_tensors if n.startswith("electra/embeddings/")]:
            shared = gen_tensors.pop(name)
            if shared.shape != tensors[name].shape or not torch.equal(shared, tensors[name]):
                raise ValueError(f"the generator's {name} differs from the discriminator's; the original shares the "
                                 "embeddings between them (were these halves trained together?).")
        tensors.update(gen_tensors)
    if optimizer_slots:
        tensors.update({f"{name}/{slot}": torch.zeros_like(t, dtype=torch.float32) for name, t in list(tensors.items())
                        for slot in ("adam_m", "adam_v")})
    tensors["global_step"] = torch.tensor(global_step, dtype=torch.int64)
    report = ConversionReport(converted=len(tensors))
    with _atomic_directory(output_dir, overwrite) as staging:
        prefix_name = f"model.ckpt-{global_step}"
        write_tf_checkpoint(os.path.join(staging, prefix_name), tensors.items(), num_shards=num_shards)
        write_checkpoint_state(staging, prefix_name)
        _write_vocab(discriminator, os.path.join(staging, "vocab.txt"))
    report.written = {"checkpoint": os.path.join(output_dir, f"model.ckpt-{global_step}")}
    return report
