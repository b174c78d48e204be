"""Model cards for a pre-trained pair, and pushing its halves to the Hub as two repositories."""

from __future__ import annotations

import json
import os

from huggingface_hub import HfApi, ModelCard, ModelCardData

from .modeling import ElectraPretrainingModel

HALF_USAGE = {
    "discriminator": ("ElectraForPreTraining", "the replaced-token-detection discriminator: the encoder to "
                      "fine-tune (load it in `ElectraForSequenceClassification`, `AutoModel`, ...)"),
    "generator": ("ElectraForMaskedLM", "the masked-LM generator trained alongside the discriminator"),
}
TWO_TOWER_USAGE = ("electra_hf.ElectraTwoTowerGenerator", "Electric's two-tower cloze generator trained alongside "
                   "the discriminator (its `logits` are each position's distribution given the other tokens)")


def _metrics_table(metrics: dict[str, float]) -> str:
    rows = "\n".join(f"| {k} | {v:.4g} |" for k, v in sorted(metrics.items()) if isinstance(v, (int, float)))
    return "| metric | value |\n|---|---|\n" + rows if rows else "(none recorded)"


def write_model_cards(output_dir: str, model: ElectraPretrainingModel, *, steps: int, data: str,
                      metrics: dict[str, float], base_model: str | None = None) -> None:
    """README.md for the pair directory and for each half (each half is a repository of its own on the Hub)."""
    config = model.config
    hparams = {k: getattr(config, k) for k in (
        "objective", "generator_type", "tie_generator", "untied_generator_embeddings", "max_seq_length", "mask_prob",
        "max_predictions_per_seq", "mask_replace_prob", "random_replace_prob", "position_sampling", "gen_weight",
        "disc_weight", "temperature", "disallow_correct")}
    sizes = {name: {k: getattr(half.config, k) for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                                          "intermediate_size", "embedding_size", "vocab_size")}
             for name, half in model.halves().items()}
    body = (f"Pre-trained with electra-hf for {steps} steps on {data}.\n\n"
            f"## Networks\n```json\n{json.dumps(sizes, indent=1)}\n```\n\n"
            f"## ELECTRA hyper-parameters\n```json\n{json.dumps(hparams, indent=1)}\n```\n\n"
            f"## Final evaluation (held-out examples)\n{_metrics_table(metrics)}\n")
    cards = {"": ("ELECTRA pair (discriminator and generator)", "Load both with "
                  "`electra_hf.ElectraPretrainingModel.from_pretrained(...)`, or each sub-folder on its own.")}
    usage = dict(HALF_USAGE, **({"generator": TWO_TOWER_USAGE} if config.generator_type == "two_tower" else {}))
    cards.update({name: (f"ELECTRA {name}", f"`{cls}`: {what}.") for name, (cls, what) in usage.items()
                  if name in model.halves()})
    for sub, (title, usage) in cards.items():
        data_card = ModelCardData(library_name="transformers", tags=["electra", "electra-hf", "pretraining"],
                                  base_model=base_model)
        content = f"---\n{data_card.to_yaml()}\n---\n\n# {title}\n\n{usage}\n\n{body}"
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
