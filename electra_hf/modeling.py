"""ElectraPretrainingModel: generator and discriminator trained together as the original (run_pretraining.py,
pretrain/pretrain_helpers.py, model/modeling.py).

`.discriminator` is a stock `ElectraForPreTraining` and `.generator` a stock `ElectraForMaskedLM` (Electric's
two-tower generator: `ElectraTwoTowerGenerator`; the uniform generator: none), so each half saves and loads on
its own; the pair shares the whole embeddings module unless told otherwise.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import safetensors.torch
import torch
import torch.nn.functional as F
from torch import nn
from transformers import ElectraForMaskedLM, ElectraForPreTraining, PreTrainedModel
from transformers.trainer_utils import load_sharded_checkpoint
from transformers.utils import ModelOutput

from .config import ElectraPretrainingConfig
from .masking import mask_tokens
from .two_tower import ElectraTwoTowerGenerator, saved_generator_class

logger = logging.getLogger(__name__)

HUB_KWARGS = ("cache_dir", "force_download", "local_files_only", "token", "revision", "proxies")


@dataclass
class ElectraPretrainingOutput(ModelOutput):
    """What one pre-training forward pass returns: the losses and what the original's metrics need
    (run_pretraining.py:111-162).

    loss: `gen_weight * generator_loss + disc_weight * discriminator_loss`.
    generator_loss: the generator's training loss: the NLL averaged over the weighted masked slots (duplicates
    count each time), or for the two-tower generator the cloze NLL averaged over every candidate position.
    masked_lm_loss: the NLL averaged over the weighted masked slots (what the original reports as masked_lm_loss).
    discriminator_loss: sigmoid cross-entropy averaged over every non-pad token, [CLS]/[SEP] included.
    masked_lm_ids / masked_lm_weights: the slots' original tokens and weights (the batch's, or the masks drawn
    in `forward`), [batch, slots].
    masked_lm_predictions: the generator's argmax at each slot, [batch, slots].
    sampled_ids: the sampled token at each slot, [batch, slots] (None for `objective="mlm"`).
    discriminator_logits / discriminator_labels: [batch, seq] (label 1 = replaced; for Electric, every position a
    slot selected, even where the sample equals the original). For Electric the logits are the corrected ones the
    loss sees, `s + stop_grad(log q) + log(mask_prob / (1 - mask_prob))`.
    """

    loss: torch.Tensor | None = None
    generator_loss: torch.Tensor | None = None
    masked_lm_loss: torch.Tensor | None = None
    discriminator_loss: torch.Tensor | None = None
    masked_lm_ids: torch.Tensor | None = None
    masked_lm_weights: torch.Tensor | None = None
    masked_lm_predictions: torch.Tensor | None = None
    sampled_ids: torch.Tensor | None = None
    discriminator_logits: torch.Tensor | None = None
    discriminator_labels: torch.Tensor | None = None


def gumbel_max_sample(logits: torch.Tensor, temperature: float = 1.0,
                      disallowed_ids: torch.Tensor | None = None) -> torch.Tensor:
    """A categorical sample from softmax(logits / temperature), in fp32 (pretrain_helpers.py:222-229).

    `disallowed_ids` (same leading shape, one id per row) get -1000 added after the temperature, as the
    original's `disallow_correct` does.
    """
    logits = logits.detach().float()
    if temperature != 1.0:
        logits = logits / temperature
    if disallowed_ids is not None:
        logits = logits.scatter_add(-1, disallowed_ids.unsqueeze(-1), torch.full_like(logits[..., :1], -1000.0))
    # g = -log(-log(u + 1e-9) + 1e-9), computed in place: this runs over [slots, vocab] every step
    gumbel = torch.rand_like(logits).add_(1e-9).log_().neg_().add_(1e-9).log_().neg_()
    return gumbel.add_(logits).argmax(-1)


def slot_counts(input_ids: torch.Tensor, positions: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """[batch, seq]: how many weighted slots selected each position (> 0: the original's `updated_mask`)."""
    return torch.zeros_like(input_ids).scatter_add_(1, positions, (weights > 0).long())


def scatter_samples(input_ids: torch.Tensor, positions: torch.Tensor, sampled_ids: torch.Tensor,
                    weights: torch.Tensor) -> torch.Tensor:
    """Write sampled ids into the clean sequence at the weighted slot positions.

    A position drawn by two slots gets the integer mean of their samples, as the original's scatter_update
    does (pretrain_helpers.py:100-106, a quirk kept for parity).
    """
    sums = torch.zeros_like(input_ids).scatter_add_(1, positions, sampled_ids * (weights > 0).long())
    counts = slot_counts(input_ids, positions, weights)
    return torch.where(counts > 0, sums // counts.clamp(min=1), input_ids)


def electric_logits(scores: torch.Tensor, cloze_log_probs: torch.Tensor, input_ids: torch.Tensor,
                    mask_prob: float) -> torch.Tensor:
    """Electric's discriminator logit (run_pretraining.py:194-201): `s + stop_grad(log q(x_t)) + log(k / (n - k))`.

    `log q` is the cloze model's log-probability of the token actually at each position of the discriminator's
    input; with the prior `log(mask_prob / (1 - mask_prob))` the sigmoid is NCE's posterior of "noise".
    """
    log_q = cloze_log_probs.detach().gather(-1, input_ids.unsqueeze(-1)).squeeze(-1)
    return scores.float() + log_q + math.log(mask_prob / (1 - mask_prob))


def generator_class(config: ElectraPretrainingConfig) -> type[PreTrainedModel] | None:
    """The class of a pair's generator half (None for the uniform generator)."""
    return {"masked_lm": ElectraForMaskedLM, "two_tower": ElectraTwoTowerGenerator}.get(config.generator_type)


class ElectraPretrainingModel(PreTrainedModel):
    """ELECTRA's generator and discriminator as one trainable model.

    Build it from a config (`ElectraPretrainingModel(ElectraPretrainingConfig.from_preset("small"))`), from a
    saved pair (`from_pretrained`), or from two existing checkpoints (`from_discriminator_and_generator`).
    """

    config_class = ElectraPretrainingConfig
    base_model_prefix = "discriminator"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    def __init__(self, config: ElectraPretrainingConfig, discriminator: ElectraForPreTraining | None = None,
                 generator: ElectraForMaskedLM | ElectraTwoTowerGenerator | None = None):
        super().__init__(config)
        fresh = discriminator is None and generator is None
        # The generator first: parameter order (and so optimizer state in checkpoints) stays as it always was.
        self.generator = generator
        if generator is None and generator_class(config) is not None:
            self.generator = generator_class(config)(config.generator_config)
        self.discriminator = None
        if config.objective != "mlm":
            self.discriminator = (discriminator if discriminator is not None
                                  else ElectraForPreTraining(config.discriminator_config))
        if config.tie_generator:  # one network (run_pretraining.py:87-93): the generator is the discriminator's
            self.generator.electra = self.discriminator.electra
            self.generator.tie_weights()
        elif config.shares_embeddings:
            self._share_embeddings(check_equal=not fresh)
        # The original looks up every row, [PAD] included, with a gradient (HF freezes the padding row).
        for module in self.modules():
            if isinstance(module, nn.Embedding):
                module.padding_idx = None
        self.post_init()
        if fresh:
            self.init_weights_like_original()

    @property
    def embeddings(self) -> nn.Module:
        """The discriminator's embeddings module (the generator's in MLM mode), shared unless untied
        (model/modeling.py:185-218)."""
        return (self.discriminator or self.generator).electra.embeddings

    def _share_embeddings(self, check_equal: bool) -> None:
        """One embeddings module (tables and LayerNorm) for both; the generator's output layer is tied to it.

        With `check_equal`, say so when two given checkpoints bring different embeddings (the discriminator's win).
        """
        disc_embeddings = self.discriminator.electra.embeddings
        gen_embeddings = (self.generator.ltr if isinstance(self.generator, ElectraTwoTowerGenerator)
                          else self.generator.electra).embeddings
        if check_equal and disc_embeddings is not gen_embeddings:
            disc_state = disc_embeddings.state_dict()
            for name, tensor in gen_embeddings.state_dict().items():
                other = disc_state[name]
                if tensor.shape != other.shape:
                    raise ValueError(f"generator embeddings {name} has shape {tuple(tensor.shape)} but the "
                                     f"discriminator's has {tuple(other.shape)}: they cannot be shared.")
                if not torch.equal(tensor, other):
                    logger.warning("generator and discriminator embeddings differ (%s, max |diff| %.3g); "
                                   "sharing the discriminator's.", name, (tensor - other).abs().max().item())
                    break
        if isinstance(self.generator, ElectraTwoTowerGenerator):
            self.generator.share_embeddings(disc_embeddings)
        else:
            self.generator.electra.embeddings = disc_embeddings
            self.generator.tie_weights()

    @torch.no_grad()
    def init_weights_like_original(self) -> None:
        """The original's initialisation (model/modeling.py's initializers).

        TF's truncated normal (std 0.02, redrawn beyond 2 std, not rescaled) for embeddings and dense kernels,
        Glorot-uniform for every `embeddings_project` and the discriminator's output layer, zero biases, unit
        LayerNorm.
        """
        std = self.config.discriminator_config.initializer_range
        tied_output = self.generator.get_output_embeddings() if self.generator is not None else None
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                if module is not tied_output:  # tied to the embeddings
                    nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        glorot = [module for name, module in self.named_modules() if name.endswith("embeddings_project")]
        if self.discriminator is not None:
            glorot.append(self.discriminator.discriminator_predictions.dense_prediction)
        for module in glorot:
            nn.init.xavier_uniform_(module.weight)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        masked_input_ids: torch.Tensor | None = None,
        masked_lm_positions: torch.Tensor | None = None,
        masked_lm_ids: torch.Tensor | None = None,
        masked_lm_weights: torch.Tensor | None = None,
    ) -> ElectraPretrainingOutput:
        """One pre-training step on a `DataCollatorForElectra` batch (run_pretraining.py:183-285); an unmasked batch is
        masked here."""
        max_positions = self.config.discriminator_config.max_position_embeddings
        if input_ids.shape[1] > max_positions:
            raise ValueError(f"a batch of length {input_ids.shape[1]} is longer than max_position_embeddings="
                             f"{max_positions}: build the data with max_seq_length <= {max_positions}.")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        config = self.config
        if masked_lm_positions is None:
            masking = mask_tokens(input_ids, attention_mask, **config.masking_kwargs())
            masked_input_ids, masked_lm_positions = masking["masked_input_ids"], masking["masked_lm_positions"]
            masked_lm_ids, masked_lm_weights = masking["masked_lm_ids"], masking["masked_lm_weights"]
        weights = masked_lm_weights.float()

        cloze_log_probs = None
        if config.generator_type == "uniform":  # all-zero logits (run_pretraining.py:167-173): no parameters
            logits = torch.zeros(*masked_lm_ids.shape, config.discriminator_config.vocab_size, device=input_ids.device)
        elif config.generator_type == "two_tower":
            # The cloze model reads the clean text; masking only chose the slots (run_pretraining.py:66-77).
            cloze_log_probs = self.generator(input_ids, attention_mask=attention_mask,
                                             token_type_ids=token_type_ids).logits.float().log_softmax(-1)
            logits = cloze_log_probs.gather(
                1, masked_lm_positions.unsqueeze(-1).expand(-1, -1, cloze_log_probs.shape[-1]))
        else:  # the masked LM: encoder on the masked input, vocabulary projection only at the masked slots
            hidden = self.generator.electra(masked_input_ids, attention_mask=attention_mask,
                                            token_type_ids=token_type_ids).last_hidden_state
            slot_hidden = hidden.gather(1, masked_lm_positions.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
            logits = self.generator.generator_lm_head(self.generator.generator_predictions(slot_hidden))
        nll = F.cross_entropy(logits.flatten(0, 1).float(), masked_lm_ids.flatten(), reduction="none")
        masked_lm_loss = (nll.view_as(weights) * weights).sum() / (weights.sum() + 1e-6)
        generator_loss = masked_lm_loss if cloze_log_probs is None else self._cloze_loss(cloze_log_probs, input_ids,
                                                                                         attention_mask)
        masked_lm_predictions = logits.detach().argmax(-1)
        if self.discriminator is None:
            return ElectraPretrainingOutput(loss=config.gen_weight * generator_loss, generator_loss=generator_loss,
                                            masked_lm_loss=masked_lm_loss, masked_lm_ids=masked_lm_ids,
                                            masked_lm_weights=masked_lm_weights,
                                            masked_lm_predictions=masked_lm_predictions)

        # Fake data: samples (no gradient) at every selected slot, kept or [MASK]ed alike (run_pretraining.py:220-241).
        sampled_ids = gumbel_max_sample(logits, config.temperature,
                                        masked_lm_ids if config.disallow_correct else None)
        fake_ids = scatter_samples(input_ids, masked_lm_positions, sampled_ids, masked_lm_weights)
        if config.objective == "electric":  # every selected position is noise (run_pretraining.py:231-232)
            labels = (slot_counts(input_ids, masked_lm_positions, masked_lm_weights) > 0).float()
        else:  # a sample equal to the original counts as real
            labels = (fake_ids != input_ids).float()

        disc_logits = self.discriminator(fake_ids, attention_mask=attention_mask,
                                         token_type_ids=token_type_ids).logits
        if config.objective == "electric":
            disc_logits = electric_logits(disc_logits, cloze_log_probs, fake_ids, config.mask_prob)
        token_weights = attention_mask.float()
        per_token = F.binary_cross_entropy_with_logits(disc_logits.float(), labels, reduction="none")
        discriminator_loss = (per_token * token_weights).sum() / (token_weights.sum() + 1e-6)
        return ElectraPretrainingOutput(
            loss=config.gen_weight * generator_loss + config.disc_weight * discriminator_loss,
            generator_loss=generator_loss,
            masked_lm_loss=masked_lm_loss,
            discriminator_loss=discriminator_loss,
            masked_lm_ids=masked_lm_ids,
            masked_lm_weights=masked_lm_weights,
            masked_lm_predictions=masked_lm_predictions,
            sampled_ids=sampled_ids,
            discriminator_logits=disc_logits.detach(),
            discriminator_labels=labels,
        )

    def _cloze_loss(self, cloze_log_probs: torch.Tensor, input_ids: torch.Tensor,
                    attention_mask: torch.Tensor) -> torch.Tensor:
        """The two-tower generator's loss: NLL of every candidate token (non-pad, not [CLS]/[SEP]/[MASK]),
        averaged over them (`_get_cloze_outputs`, run_pretraining.py:243-251)."""
        config = self.config
        candidates = attention_mask.bool()
        for token_id in (config.cls_token_id, config.sep_token_id, config.mask_token_id):
            candidates = candidates & (input_ids != token_id)
        weights = candidates.float()
        nll = -cloze_log_probs.gather(-1, input_ids.unsqueeze(-1)).squeeze(-1)
        return (nll * weights).sum() / (weights.sum() + 1e-6)

    def halves(self) -> dict[str, PreTrainedModel]:
        """The networks this pair saves, by sub-directory name."""
        halves = {"discriminator": self.discriminator, "generator": self.generator}
        return {name: half for name, half in halves.items() if half is not None}

    def save_pretrained(self, save_directory: str | os.PathLike, is_main_process: bool = True,
                        state_dict: dict | None = None, push_to_hub: bool = False, **kwargs) -> None:
        """Write `discriminator/` and `generator/` (each loadable by the stock transformers classes, in
        safetensors) and the pair's `config.json`."""
        if push_to_hub:
            raise ValueError("use model.push_to_hub(repo_id): it saves the pair and uploads both halves.")
        os.makedirs(save_directory, exist_ok=True)
        if is_main_process:
            self.config.save_pretrained(save_directory)
        for name, half in self.halves().items():
            half_state = None
            if state_dict is not None:  # e.g. gathered from DeepSpeed/FSDP by the Trainer
                half_state = {k[len(name) + 1:]: v for k, v in state_dict.items() if k.startswith(name + ".")}
            half.save_pretrained(os.path.join(save_directory, name), is_main_process=is_main_process,
                                 state_dict=half_state, **kwargs)

    def load_pair_weights(self, directory: str | os.PathLike) -> None:
        """Load the weights of a pair saved by `save_pretrained` into this model, in place (Trainer resume)."""
        for name, half in self.halves().items():
            folder = os.path.join(directory, name)
            if os.path.exists(os.path.join(folder, "model.safetensors.index.json")):
                result = load_sharded_checkpoint(half, folder, strict=False)
            else:
                state = safetensors.torch.load_file(os.path.join(folder, "model.safetensors"))
                result = half.load_state_dict(state, strict=False)
            missing = set(result.missing_keys) - set(half.all_tied_weights_keys)
            if missing or result.unexpected_keys:
                raise ValueError(f"{folder} does not match this model: missing {sorted(missing)}, unexpected "
                                 f"{sorted(result.unexpected_keys)}.")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *model_args,
                        config: ElectraPretrainingConfig | None = None, subfolder: str = "",
                        **kwargs) -> "ElectraPretrainingModel":
        """Load a pair saved by `save_pretrained` (a local directory or a Hub repo), shared weights shared again."""
        if model_args:
            raise TypeError("ElectraPretrainingModel.from_pretrained takes keyword arguments only.")
        hub_kwargs = {k: kwargs[k] for k in HUB_KWARGS if k in kwargs}
        if config is None:
            config = ElectraPretrainingConfig.from_pretrained(pretrained_model_name_or_path, subfolder=subfolder,
                                                              **hub_kwargs)
        halves = {}
        for name, half_cls in (("discriminator", ElectraForPreTraining), ("generator", generator_class(config))):
            if half_cls is not None and (name == "generator" or config.objective != "mlm"):
                halves[name] = half_cls.from_pretrained(pretrained_model_name_or_path,
                                                        subfolder=os.path.join(subfolder, name), **kwargs)
        return cls(config, **halves)

    @classmethod
    def from_discriminator_and_generator(cls, discriminator: str | ElectraForPreTraining,
                                         generator: str | ElectraForMaskedLM | ElectraTwoTowerGenerator,
                                         **config_overrides
                                         ) -> "ElectraPretrainingModel":
        """Pair two existing checkpoints (local dirs or Hub ids, e.g. google/electra-small-discriminator and
        google/electra-small-generator) to continue pre-training; ELECTRA hyper-parameters as keyword arguments.
        """
        if isinstance(discriminator, (str, os.PathLike)):
            discriminator = ElectraForPreTraining.from_pretrained(discriminator)
        if isinstance(generator, (str, os.PathLike)):
            generator = saved_generator_class(generator).from_pretrained(generator)
        disc_config, gen_config = discriminator.config, generator.config
        if getattr(disc_config, "pretraining_objective", None) in ("electra", "electric"):  # what it was trained for
            config_overrides.setdefault("objective", disc_config.pretraining_objective)
        if isinstance(generator, ElectraTwoTowerGenerator):
            config_overrides.setdefault("generator_type", "two_tower")
            config_overrides.setdefault("untied_generator_embeddings", gen_config.untied_tower_embeddings)
        elif gen_config.embedding_size != disc_config.embedding_size:  # embeddings of its own width cannot be shared
            config_overrides.setdefault("untied_generator_embeddings", True)
        config_overrides.setdefault("generator_hidden_size", gen_config.hidden_size / disc_config.hidden_size)
        config_overrides.setdefault("generator_layers", gen_config.num_hidden_layers / disc_config.num_hidden_layers)
        config = ElectraPretrainingConfig(discriminator_config=disc_config, generator_config=gen_config,
                                          **config_overrides)
        return cls(config, discriminator=discriminator, generator=generator)
