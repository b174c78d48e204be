"""Model cards for a pre-trained pair, and pushing its halves to the Hub as two repositories."""

from __future__ import annotations

import json
import os

from huggingface_hub import HfApi, ModelCard, ModelCardData

from .generator_modes import MODE_FIELDS
from .modeling import ElectraPretrainingModel
from .report import metrics_table

# The discriminator half's card: the class that loads it, what it is, its Hub pipeline tag (the generator's is its
# mode's: generator_modes.MODES).
DISCRIMINATOR_CARD = ("transformers.ElectraForPreTraining", "the replaced-token-detection discriminator: the encoder "
                      "to fine-tune (`ElectraForSequenceClassification`, `AutoModel`, ... load it too)",
                      "feature-extraction")
TOY_WARNING = ("> **A toy model.** It was trained for minutes on a CPU to show the pipeline and what the "
               "objective learns; it is not a useful encoder for real tasks. Pre-train a `small`, `base` or `large` "
               "preset on a large corpus, or start from the released google/electra-* checkpoints.\n\n")


def _metrics_table(metrics: dict[str, float], baselines: dict[str, float]) -> str:
    rows = metrics_table(metrics, baselines)
    if not rows:
        return "(none recorded)"
    return "| metric | what it is | this model | trivial baseline |\n|---|---|---|---|\n" + "\n".join(
        f"| `{key}` | {reading} | {value:.4f} | {baseline:.4f} |" for key, reading, value, baseline in rows)


def _usage(cls: str, sub: str) -> str:
    module, name = cls.rsplit(".", 1)
    return (f"```python\nfrom {module} import {name}\nfrom transformers import AutoTokenizer\n\n"
            f"model = {name}.from_pretrained(\"path/to/{sub}\")  # this folder, or its Hub id\n"
            f"tokenizer = AutoTokenizer.from_pretrained(\"path/to/{sub}\")\n```\n")


def write_model_cards(output_dir: str, model: ElectraPretrainingModel, *, steps: int, data: str,
                      metrics: dict[str, float], baselines: dict[str, float] | None = None,
                      base_model: str | None = None, toy: bool = False) -> None:
    """README.md for the pair directory and for each half (each half is a repository of its own on the Hub):
    what the model is, its data and steps, the held-out metrics beside trivial baselines, how to load it."""
    config = model.config
    hparams = {k: getattr(config, k) for k in (
        *MODE_FIELDS, "max_seq_length", "mask_prob",
        "max_predictions_per_seq", "mask_replace_prob", "random_replace_prob", "position_sampling", "gen_weight",
        "disc_weight", "temperature", "disallow_correct")}
    sizes = {name: {k: getattr(half.config, k) for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                                          "intermediate_size", "embedding_size", "vocab_size")}
             for name, half in model.halves().items()}
    objective = {"electra": "ELECTRA (replaced token detection)", "electric": "Electric (an energy-based cloze "
                 "model trained by noise-contrastive estimation)", "mlm": "masked language modelling (the BERT-style "
                 "baseline)"}[config.objective]
    body = (f"Pre-trained with electra-hf by {objective}, for {steps} "
            f"steps on {data}.\n\n"
            f"## Held-out evaluation\nMetrics of the original ELECTRA code on examples held out from training, each "
            f"beside what a model that learned nothing scores.\n\n{_metrics_table(metrics, baselines or {})}\n\n"
            f"## Networks\n```json\n{json.dumps(sizes, indent=1)}\n```\n\n"
            f"## Pre-training hyper-parameters\n```json\n{json.dumps(hparams, indent=1)}\n```\n")
    mode = config.mode
    usage = {"discriminator": DISCRIMINATOR_CARD}
    if mode.card is not None:
        usage["generator"] = (mode.generator_class, *mode.card)
    pair = ("ELECTRA pair (discriminator and generator)",
            "Both halves, as training left them: `electra_hf.ElectraPretrainingModel.from_pretrained(this_folder)` "
            "continues pre-training; each sub-folder loads on its own.\n", None)
    cards = {"": pair}
    cards.update({name: (f"ELECTRA {name}" if config.objective != "mlm" else "Masked-LM baseline",
                         f"`{cls}`: {what}.\n\n{_usage(cls, name)}", tag)
                  for name, (cls, what, tag) in usage.items() if name in model.halves()})
    for sub, (title, text, pipeline_tag) in cards.items():
        data_card = ModelCardData(library_name="transformers", license="apache-2.0", pipeline_tag=pipeline_tag,
                                  tags=["electra", "electra-hf", "pretraining", config.objective],
                                  base_model=base_model)
        warning = TOY_WARNING if toy else ""
        content = f"---\n{data_card.to_yaml()}\n---\n\n# {title}\n\n{warning}{text}\n{body}"
        ModelCard(content).save(os.path.join(output_dir, sub, "README.md"))


def push_folder_to_hub(folder: str, repo_id: str, *, token: str | None = None, private: bool | None = None,
                       commit_message: str = "Upload with electra-hf") -> str:
    """Create `repo_id` if needed and upload `folder` to it; returns the repository's URL."""
    api = HfApi(token=token)
    repo = api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(repo_id=repo.repo_id, folder_path=folder, commit_message=commit_message)
    return repo.url if hasattr(repo, "url") else str(repo)


def push_pair_to_hub(output_dir: str, model: ElectraPretrainingModel, repo_ids: dict[str, str], *,
                     token: str | None = None, private: bool | None = None, commit_message: str = "ELECTRA pre-training"
                     ) -> list[str]:
    """Upload each half's folder (weights, config, tokenizer, card) to its own repository; returns the URLs."""
    missing = [name for name in model.halves() if name not in repo_ids]
    if missing:
        raise ValueError(f"no repository named for the {missing[0]}: pass one for each of {list(model.halves())}.")
    return [push_folder_to_hub(os.path.join(output_dir, name), repo_ids[name], token=token, private=private,
                               commit_message=commit_message) for name in model.halves()]
