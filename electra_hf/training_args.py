"""ElectraTrainingArguments: `TrainingArguments` with the original's optimizer, schedule and layer-wise learning
rates as options (model/optimization.py). A module of its own, light to import: every command parses it."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments


@dataclass
class ElectraTrainingArguments(TrainingArguments):
    """`TrainingArguments` with the original pre-training defaults and its optimizer options."""

    learning_rate: float = field(default=5e-4, metadata={"help": "Peak learning rate (original small: 5e-4; "
                                                                  "base/large: 2e-4)."})
    weight_decay: float = field(default=0.01, metadata={"help": "Decoupled weight decay, scaled by the learning "
                                                                "rate; not applied to LayerNorm or biases."})
    adam_epsilon: float = field(default=1e-6, metadata={"help": "Adam epsilon, added outside the square root."})
    warmup_steps: float = field(default=10000, metadata={"help": "Warm-up steps (a value < 1 is a fraction of the "
                                                                 "training steps, e.g. 0.1 for fine-tuning)."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Global-norm clipping over all parameters."})
    original_optimizer: bool = field(default=True, metadata={
        "help": "Use the original AdamWeightDecayOptimizer (no bias correction unless --adam_bias_correction); "
                "False uses the Trainer's --optim."})
    adam_bias_correction: bool = field(default=False, metadata={
        "help": "Apply Adam's bias correction (the original does not)."})
    original_lr_schedule: bool = field(default=True, metadata={
        "help": "Use the original schedule lr*min(1,t/W)*(1-t/T)^power; False uses --lr_scheduler_type."})
    lr_decay_power: float = field(default=1.0, metadata={"help": "Power of the polynomial decay (1.0 = linear)."})
    lr_of_next_step: bool = field(default=False, metadata={
        "help": "Update k uses the learning rate of step k+1, as the original's graph does on a CPU or GPU (its "
                "step counter is incremented before the rate is read): the first update moves by lr(1), the last by "
                "lr(T) = 0. Default: the rate of step k, as transformers' schedules (docs/parity.md)."})
    layerwise_lr_decay: float = field(default=0.0, metadata={
        "help": "Layer-wise learning-rate decay factor (the original fine-tunes with 0.8, 0.9 for large); "
                "0 turns it off, as in pre-training."})
    layerwise_lr_depth_rule: str = field(default="original", metadata={
        "help": "'original': the released code's depths (top layer gets decay^2); 'paper': the intended ones.",
        "choices": ["original", "paper"]})
    overwrite_output_dir: bool = field(default=False, metadata={
        "help": "Start afresh in --output_dir instead of resuming from its last checkpoint."})
    global_batch_size: int | None = field(default=None, metadata={
        "help": "Sequences per optimizer step over all processes and accumulation steps (the original's "
                "train_batch_size; the presets set it). The per-device batch is derived from it: global / (processes "
                "x --gradient_accumulation_steps), unless --per_device_train_batch_size is given."})
    packed_dropout: bool = field(default=True, metadata={
        "help": "On a CPU, draw dropout masks four per 64-bit random number (an ELECTRA-Small step about a sixth "
                "shorter; the drop rate is rounded to a multiple of 1/65536); False uses torch's dropout. No effect "
                "on other devices."})
    onednn_linear: bool = field(default=True, metadata={
        "help": "On an x86 CPU, fp32 linear layers compute their forward and input gradient with oneDNN instead of "
                "MKL (ELECTRA-Small: 1.19x the steps/s at batch 32, 1.33x at 128, on a busy AVX-512 CPU, "
                "benchmarks/RESULTS.md; the same math to float rounding); False uses torch's. No effect on other "
                "devices or under bf16/fp16."})

    def __post_init__(self):
        super().__post_init__()
        if self.layerwise_lr_depth_rule not in ("original", "paper"):
            raise ValueError(f"layerwise_lr_depth_rule={self.layerwise_lr_depth_rule!r}: use 'original' or 'paper'.")
        if self.layerwise_lr_decay < 0:
            raise ValueError(f"layerwise_lr_decay={self.layerwise_lr_decay} must be >= 0 (0 turns it off).")
        if self.global_batch_size is not None and self.global_batch_size < 1:
            raise ValueError(f"--global_batch_size {self.global_batch_size} must be >= 1.")

    def derive_per_device_batch(self, explicit: set[str]) -> None:
        """Set the per-device batch from `global_batch_size` for this many processes and accumulation steps; a
        per-device batch the user gave (`explicit`) wins, and `global_batch_size` then says what it makes."""
        if self.global_batch_size is None:
            return
        share = self.world_size * self.gradient_accumulation_steps
        if "per_device_train_batch_size" in explicit:
            made = self.per_device_train_batch_size * share
            if "global_batch_size" in explicit and made != self.global_batch_size:
                raise ValueError(f"--per_device_train_batch_size {self.per_device_train_batch_size} x {self.world_size} "
                                 f"processes x {self.gradient_accumulation_steps} accumulation steps = {made}, not "
                                 f"--global_batch_size {self.global_batch_size}: give one of the two.")
            self.global_batch_size = made
            return
        if self.global_batch_size % share:
            raise ValueError(f"the global batch of {self.global_batch_size} sequences does not divide over "
                             f"{self.world_size} processes x {self.gradient_accumulation_steps} accumulation steps: "
                             f"pass --global_batch_size as a multiple of {share}, or --per_device_train_batch_size.")
        self.per_device_train_batch_size = self.global_batch_size // share
