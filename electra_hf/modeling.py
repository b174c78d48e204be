"""ElectraPretrainingModel: generator and discriminator trained together as the original (run_pretraining.py,
pretrain/pretrain_helpers.py, model/modeling.py).

`.discriminator` is a stock `ElectraForPreTraining` and `.generator` a stock `ElectraForMaskedLM` (Electric's
two-tower generator: `ElectraTwoTowerGenerator`; the uniform generator: none), so each half saves and loads on
its own; the pair shares the whole embeddings module unless told otherwise.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass

import safetensors.torch
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from transformers import ElectraForMaskedLM, ElectraForPreTraining, PreTrainedModel
from transformers.utils import ModelOutput

from .config import ElectraPretrainingConfig
from .generator_modes import GDES_DELTAS
from .masking import mask_tokens
from .two_tower import ElectraTwoTowerGenerator, saved_generator_class
from .vocab_head import linear_cross_entropy, token_logits

logger = logging.getLogger(__name__)

HUB_KWARGS = ("cache_dir", "force_download", "local_files_only", "token", "revision", "proxies")
GDES_DELTAS_FILE = "embedding_deltas.safetensors"  # a GDES pair's deltas, beside its config.json
DELTA = ".parametrizations.weight.original"  # where torch's parametrization keeps a GDES table's delta


class GradientDisentangledTable(nn.Module):
    """GDES (DeBERTaV3): a discriminator table computed as `stop_gradient(the generator's table) + delta`, the delta
    being the parameter (a torch parametrization of the table's `weight`)."""

    def __init__(self, generator_table: nn.Embedding):
        super().__init__()
        self.__dict__["generator_table"] = generator_table  # not a submodule: the generator owns and saves it

    def forward(self, delta: torch.Tensor) -> torch.Tensor:
        return self.generator_table.weight.detach() + delta

    def right_inverse(self, weight: torch.Tensor) -> torch.Tensor:
        return weight - self.generator_table.weight.detach()


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


def sample_tokens(logits: torch.Tensor, temperature: float = 1.0, disallowed_ids: torch.Tensor | None = None,
                  method: str = "inverse_cdf") -> torch.Tensor:
    """A categorical sample from softmax(logits / temperature) per row, in fp32 (pretrain_helpers.py:222-229).

    `method="gumbel"` is the original's Gumbel-max, `argmax(logits - log(-log(u + 1e-9) + 1e-9))`, one uniform
    number per vocabulary entry; `"inverse_cdf"` (the default) draws from the same distribution with one uniform
    number per row against the cumulative sums (in fp64, so that rare tokens keep their share): on a CPU the
    Gumbel noise cost about 3% of an ELECTRA-Small step (benchmarks/RESULTS.md). `disallowed_ids` (same leading
    shape, one id per row) get -1000 added after the temperature, as the original's `disallow_correct` does.
    """
    logits = logits.detach().float()
    if temperature != 1.0:
        logits = logits / temperature
    if disallowed_ids is not None:
        logits = logits.scatter_add(-1, disallowed_ids.unsqueeze(-1), torch.full_like(logits[..., :1], -1000.0))
    if method == "gumbel":  # g = -log(-log(u + 1e-9) + 1e-9), in place: this runs over [slots, vocab]
        gumbel = torch.rand_like(logits).add_(1e-9).log_().neg_().add_(1e-9).log_().neg_()
        return gumbel.add_(logits).argmax(-1)
    cdf = (logits - logits.amax(-1, keepdim=True)).exp_().double().cumsum_(-1)
    u = torch.rand(*cdf.shape[:-1], 1, dtype=cdf.dtype, device=cdf.device) * cdf[..., -1:]
    # right=True: the first entry whose cumulative sum exceeds u, so an entry of weight 0 is never drawn
    return torch.searchsorted(cdf, u, right=True).squeeze(-1).clamp_(max=cdf.shape[-1] - 1)


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


def electric_logits(scores: torch.Tensor, log_q: torch.Tensor, mask_prob: float) -> torch.Tensor:
    """Electric's discriminator logit (run_pretraining.py:194-201): `s + stop_grad(log q(x_t)) + log(k / (n - k))`.

    `log_q` is the cloze model's log-probability of the token actually at each position of the discriminator's
    input; with the prior `log(mask_prob / (1 - mask_prob))` the sigmoid is NCE's posterior of "noise".
    """
    return scores.float() + log_q.detach() + math.log(mask_prob / (1 - mask_prob))


def gather_positions(hidden: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """[batch, slots, width]: the rows of `hidden` [batch, seq, width] at `positions` [batch, slots]."""
    return hidden.gather(1, positions.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))


@dataclass
class SlotOutputs:
    """The generator at the masked slots: weighted mean NLL, argmax and samples (None when not sampling)."""

    loss: torch.Tensor
    predictions: torch.Tensor
    sampled_ids: torch.Tensor | None


@dataclass
class ClozeOutputs:
    """The two-tower generator's cloze loss, with either its log-probabilities [batch, seq, vocab] or (fused head)
    the hidden states before the vocabulary projection and the log-sum-exp of each position."""

    loss: torch.Tensor
    log_probs: torch.Tensor | None = None
    hidden: torch.Tensor | None = None
    lse: torch.Tensor | None = None
    head: nn.Linear | None = None

    def log_q(self, token_ids: torch.Tensor) -> torch.Tensor:
        """log q(token_ids[b, t]) at every position, without gradient."""
        if self.log_probs is not None:
            return self.log_probs.detach().gather(-1, token_ids.unsqueeze(-1)).squeeze(-1)
        with torch.no_grad():
            return token_logits(self.hidden, self.head.weight, self.head.bias, token_ids).float() - self.lse


def slot_outputs_from_logits(logits: torch.Tensor, targets: torch.Tensor, norm: torch.Tensor,
                             config: ElectraPretrainingConfig, sample: bool) -> SlotOutputs:
    """`SlotOutputs` from [batch, slots, vocab] logits; `norm` holds each slot's weight over the weights' sum."""
    nll = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="none")
    sampled = None
    if sample:
        sampled = sample_tokens(logits, config.temperature, targets if config.disallow_correct else None,
                                config.sampling)
    return SlotOutputs((nll * norm.flatten()).sum(), logits.detach().argmax(-1), sampled)


def fused_slot_outputs(slot_hidden: torch.Tensor, head: nn.Linear, targets: torch.Tensor, norm: torch.Tensor,
                       config: ElectraPretrainingConfig, sample: bool) -> SlotOutputs:
    """`SlotOutputs` from the hidden states before `head`, through `linear_cross_entropy`: the argmax and the
    samples are taken from each chunk of logits as it is computed."""
    flat_targets = targets.flatten()
    predictions = torch.empty_like(flat_targets)
    sampled = torch.empty_like(flat_targets) if sample else None

    def on_chunk(rows: slice, logits: torch.Tensor) -> None:
        predictions[rows] = logits.argmax(-1)
        if sample:
            sampled[rows] = sample_tokens(logits, config.temperature,
                                          flat_targets[rows] if config.disallow_correct else None, config.sampling)

    loss, _ = linear_cross_entropy(slot_hidden.flatten(0, 1), head.weight, head.bias, flat_targets, norm.flatten(),
                                   on_chunk)
    return SlotOutputs(loss, predictions.view_as(targets), None if sampled is None else sampled.view_as(targets))


def _saved_state(folder: str) -> dict[str, torch.Tensor]:
    """The tensors of a half saved by save_pretrained, in one safetensors file or in the shards its index names."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if not os.path.exists(index):
        return safetensors.torch.load_file(os.path.join(folder, "model.safetensors"))
    with open(index) as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    return {k: v for shard in shards for k, v in safetensors.torch.load_file(os.path.join(folder, shard)).items()}


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
        generator_class = config.mode.load_generator_class()
        if generator is None and generator_class is not None:
            self.generator = generator_class(config.generator_config)
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
        if config.gradient_disentangled_embeddings:
            self._disentangle_embeddings(zero_deltas=fresh)

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

    def _disentangle_embeddings(self, zero_deltas: bool) -> None:
        """GDES: each of the discriminator's GDES_DELTAS tables becomes the generator's plus a delta of its own: zero
        for a new pair (the two start equal), else what the two given halves differ by (`load_pair_weights` then
        reads the saved deltas exactly)."""
        for table in GDES_DELTAS:
            disc_table = getattr(self.discriminator.electra.embeddings, table)
            parametrize.register_parametrization(
                disc_table, "weight", GradientDisentangledTable(getattr(self.generator.electra.embeddings, table)))
            if zero_deltas:
                with torch.no_grad():
                    disc_table.parametrizations.weight.original.zero_()

    def _stock_discriminator_state(self, state: dict[str, torch.Tensor], generator_state: dict[str, torch.Tensor]
                                   ) -> dict[str, torch.Tensor]:
        """GDES: the discriminator half's state as a stock ElectraForPreTraining holds it (each table merged, the
        generator's plus its delta); the deltas are popped from `state`."""
        merged = {k: v for k, v in state.items() if not k.endswith(DELTA)}
        for table in GDES_DELTAS:
            name = f"electra.embeddings.{table}"
            merged[f"{name}.weight"] = generator_state[f"{name}.weight"] + state[name + DELTA]
        return merged

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
        config = self.config
        self._check_length(input_ids)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if masked_lm_positions is None:
            masked_input_ids, masked_lm_positions, masked_lm_ids, masked_lm_weights = self._mask(input_ids,
                                                                                                  attention_mask)
        # Cloze outputs on the clean text: Electric's two-tower generator (run_pretraining.py:243-251).
        cloze = (self._cloze_outputs(input_ids, attention_mask, token_type_ids)
                 if config.generator_type == "two_tower" else None)
        # Masked-LM output at the slots (run_pretraining.py:164-181).
        masked_lm = self._masked_lm_outputs(masked_input_ids, attention_mask, token_type_ids, masked_lm_positions,
                                            masked_lm_ids, masked_lm_weights.float(),
                                            sample=self.discriminator is not None, cloze=cloze)
        generator_loss = masked_lm.loss if cloze is None else cloze.loss
        outputs = {"generator_loss": generator_loss, "masked_lm_loss": masked_lm.loss, "masked_lm_ids": masked_lm_ids,
                   "masked_lm_weights": masked_lm_weights, "masked_lm_predictions": masked_lm.predictions}
        if self.discriminator is None:  # the MLM baseline
            return ElectraPretrainingOutput(loss=config.gen_weight * generator_loss, **outputs)
        # Fake data (run_pretraining.py:220-241).
        fake_ids, labels = self._fake_data(input_ids, masked_lm_positions, masked_lm.sampled_ids, masked_lm_weights)
        # Discriminator output (run_pretraining.py:183-218).
        disc_logits, discriminator_loss = self._discriminator_outputs(fake_ids, labels, attention_mask,
                                                                      token_type_ids, cloze)
        return ElectraPretrainingOutput(
            loss=config.gen_weight * generator_loss + config.disc_weight * discriminator_loss,
            discriminator_loss=discriminator_loss, sampled_ids=masked_lm.sampled_ids,
            discriminator_logits=disc_logits.detach(), discriminator_labels=labels, **outputs)

    def _check_length(self, input_ids: torch.Tensor) -> None:
        max_positions = self.config.discriminator_config.max_position_embeddings
        if input_ids.shape[1] > max_positions:
            raise ValueError(f"a batch of length {input_ids.shape[1]} is longer than max_position_embeddings="
                             f"{max_positions}: build the data with max_seq_length <= {max_positions}.")

    def _mask(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Mask a batch the collator did not (masked input, slot positions, their original ids, slot weights)."""
        masking = mask_tokens(input_ids, attention_mask, self.config.masking, **self.config.masking_vocabulary())
        return tuple(masking[key] for key in ("masked_input_ids", "masked_lm_positions", "masked_lm_ids",
                                              "masked_lm_weights"))

    def _fake_data(self, input_ids: torch.Tensor, positions: torch.Tensor, sampled_ids: torch.Tensor,
                   weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The generator's samples (no gradient) written at every selected slot, kept or [MASK]ed alike, and the
        discriminator's labels: for ELECTRA, a sample equal to the original counts as real; for Electric every
        selected position is noise (run_pretraining.py:231-232)."""
        fake_ids = scatter_samples(input_ids, positions, sampled_ids, weights)
        if self.config.objective == "electric":
            return fake_ids, (slot_counts(input_ids, positions, weights) > 0).float()
        return fake_ids, (fake_ids != input_ids).float()

    def _discriminator_outputs(self, fake_ids: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor,
                               token_type_ids: torch.Tensor | None, cloze: ClozeOutputs | None
                               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-token logits (Electric's corrected by the cloze model's log q, run_pretraining.py:194-201) and the
        sigmoid cross-entropy averaged over the real tokens."""
        logits = self.discriminator(fake_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits
        if self.config.objective == "electric":
            logits = electric_logits(logits, cloze.log_q(fake_ids), self.config.mask_prob)
        token_weights = attention_mask.float()
        per_token = F.binary_cross_entropy_with_logits(logits.float(), labels, reduction="none")
        return logits, (per_token * token_weights).sum() / (token_weights.sum() + 1e-6)

    def _masked_lm_outputs(self, masked_input_ids: torch.Tensor, attention_mask: torch.Tensor,
                           token_type_ids: torch.Tensor | None, positions: torch.Tensor, masked_lm_ids: torch.Tensor,
                           weights: torch.Tensor, sample: bool, cloze: ClozeOutputs | None) -> SlotOutputs:
        """The generator at the masked slots: its NLL averaged over the weighted slots, argmax, and (`sample`)
        samples (`sample_tokens`). The masked LM reads the masked input and projects to the vocabulary at the
        slots only; Electric's cloze model read the clean text; the uniform generator's logits are all zero
        (run_pretraining.py:167-173)."""
        config = self.config
        norm = weights / (weights.sum() + 1e-6)
        if config.generator_type == "uniform":
            logits = torch.zeros(*masked_lm_ids.shape, config.discriminator_config.vocab_size,
                                 device=masked_lm_ids.device)
            return slot_outputs_from_logits(logits, masked_lm_ids, norm, config, sample)
        if cloze is not None:
            if cloze.log_probs is not None:
                logits = cloze.log_probs.gather(1, positions.unsqueeze(-1).expand(-1, -1, cloze.log_probs.shape[-1]))
                return slot_outputs_from_logits(logits, masked_lm_ids, norm, config, sample)
            with torch.no_grad():  # the slot loss is a metric only for Electric: no gradient through it
                return fused_slot_outputs(gather_positions(cloze.hidden, positions), self.generator.cloze_lm_head,
                                          masked_lm_ids, norm, config, sample)
        hidden = self.generator.electra(masked_input_ids, attention_mask=attention_mask,
                                        token_type_ids=token_type_ids).last_hidden_state
        slot_hidden = self.generator.generator_predictions(gather_positions(hidden, positions))
        head = self.generator.generator_lm_head
        if config.fused_vocab_head:
            return fused_slot_outputs(slot_hidden, head, masked_lm_ids, norm, config, sample)
        return slot_outputs_from_logits(head(slot_hidden), masked_lm_ids, norm, config, sample)

    def _cloze_outputs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                       token_type_ids: torch.Tensor | None) -> ClozeOutputs:
        """The two-tower generator's cloze outputs on the clean text (`_get_cloze_outputs`, run_pretraining.py:243-251):
        its loss, the NLL of every candidate token (non-pad, not [CLS]/[SEP]/[MASK]) averaged over them, and what
        `log_q` needs for the discriminator's correction."""
        config = self.config
        candidates = attention_mask.bool()
        for token_id in (config.cls_token_id, config.sep_token_id, config.mask_token_id):
            candidates = candidates & (input_ids != token_id)
        weights = candidates.float()
        norm = (weights / (weights.sum() + 1e-6)).flatten()
        hidden = self.generator.cloze_hidden(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        head = self.generator.cloze_lm_head
        if config.fused_vocab_head:
            loss, lse = linear_cross_entropy(hidden.flatten(0, 1), head.weight, head.bias, input_ids.flatten(), norm)
            return ClozeOutputs(loss=loss, hidden=hidden, lse=lse.view_as(input_ids), head=head)
        log_probs = head(hidden).float().log_softmax(-1)
        nll = -log_probs.gather(-1, input_ids.unsqueeze(-1)).squeeze(-1)
        return ClozeOutputs(loss=(nll.flatten() * norm).sum(), log_probs=log_probs)

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
        states = {name: half.state_dict() if state_dict is None else  # e.g. gathered from DeepSpeed/FSDP by the Trainer
                  {k[len(name) + 1:]: v for k, v in state_dict.items() if k.startswith(name + ".")}
                  for name, half in self.halves().items()}
        if self.config.gradient_disentangled_embeddings:  # a stock discriminator, and the deltas for a resume
            deltas = {table: states["discriminator"][f"electra.embeddings.{table}{DELTA}"].contiguous()
                      for table in GDES_DELTAS}
            states["discriminator"] = self._stock_discriminator_state(states["discriminator"], states["generator"])
            if is_main_process:
                safetensors.torch.save_file(deltas, os.path.join(save_directory, GDES_DELTAS_FILE))
        for name, half in self.halves().items():
            half.save_pretrained(os.path.join(save_directory, name), is_main_process=is_main_process,
                                 state_dict=states[name], **kwargs)

    def load_pair_weights(self, directory: str | os.PathLike) -> None:
        """Load the weights of a pair saved by `save_pretrained` into this model, in place (Trainer resume)."""
        for name, half in self.halves().items():
            folder = os.path.join(directory, name)
            state = _saved_state(folder)
            if name == "discriminator" and self.config.gradient_disentangled_embeddings:
                state = self._discriminator_state_with_deltas(state, directory)
            result = half.load_state_dict(state, strict=False)
            missing = set(result.missing_keys) - set(half.all_tied_weights_keys)
            if missing or result.unexpected_keys:
                raise ValueError(f"{folder} does not match this model: missing {sorted(missing)}, unexpected "
                                 f"{sorted(result.unexpected_keys)}.")

    @staticmethod
    def _discriminator_state_with_deltas(state: dict[str, torch.Tensor], directory: str | os.PathLike
                                         ) -> dict[str, torch.Tensor]:
        """GDES: a saved (stock) discriminator state with its merged tables replaced by the pair's saved deltas."""
        path = os.path.join(directory, GDES_DELTAS_FILE)
        if not os.path.isfile(path):
            raise ValueError(f"{directory} holds a GDES pair without its {GDES_DELTAS_FILE}: it cannot be resumed "
                             "exactly (ElectraPretrainingModel.from_pretrained rebuilds the deltas from the halves).")
        deltas = safetensors.torch.load_file(path)
        state = {k: v for k, v in state.items() if k.removesuffix(".weight") not in
                 {f"electra.embeddings.{table}" for table in GDES_DELTAS}}
        return state | {f"electra.embeddings.{table}{DELTA}": deltas[table] for table in GDES_DELTAS}

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
        for name, half_cls in (("discriminator", ElectraForPreTraining),
                               ("generator", config.mode.load_generator_class())):
            if half_cls is not None and (name == "generator" or config.objective != "mlm"):
                halves[name] = half_cls.from_pretrained(pretrained_model_name_or_path,
                                                        subfolder=os.path.join(subfolder, name), **kwargs)
        model = cls(config, **halves)
        deltas = os.path.join(pretrained_model_name_or_path, subfolder, GDES_DELTAS_FILE)
        if config.gradient_disentangled_embeddings and os.path.isfile(deltas):  # exact, not the halves' difference
            model.load_embedding_deltas(safetensors.torch.load_file(deltas))
        return model

    @torch.no_grad()
    def load_embedding_deltas(self, deltas: dict[str, torch.Tensor]) -> None:
        """GDES: set the discriminator's deltas (by table name, GDES_DELTAS) to these values."""
        for table in GDES_DELTAS:
            getattr(self.discriminator.electra.embeddings, table).parametrizations.weight.original.copy_(deltas[table])

    def embedding_deltas(self) -> dict[str, torch.Tensor]:
        """GDES: the discriminator's deltas by table name."""
        return {table: getattr(self.discriminator.electra.embeddings, table).parametrizations.weight.original.detach()
                for table in GDES_DELTAS}

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
