"""Pre-training throughput: electra-hf against two peers in the same run.

    python benchmarks/pretrain_throughput.py --presets tiny small --batch_size 128 --seq_len 128

Implementations, each on the same generator/discriminator sizes and random full-length rows:
- electra_hf: DataCollatorForElectra masking + ElectraPretrainingModel (vocabulary projection at the masked
  slots only) + the original optimizer (foreach; fused on CUDA), with the package's defaults (packed dropout,
  oneDNN linears).
- electra_hf_torch_dropout: the same with `packed_dropout=False` (torch's dropout).
- electra_hf_mkl_linear: the same with `onednn_linear=False` (torch's linears: MKL's sgemm in fp32).
- electra_hf_unfused_head: the same with `fused_vocab_head=False, sampling="gumbel"` (the whole [slots, vocab]
  logits, Gumbel noise over them).
- electra_hf_unfused: all four switches off: what this package ran before they existed.
- original_tf: the original TensorFlow code (run_pretraining.py PretrainingModel + model/optimization.py), from
  the work tree named by ELECTRA_ORIG_SRC, in tf.compat.v1 graph mode (benchmarks/original_tf.py).
- lucidrains: lucidrains' `electra-pytorch` (`pip install --no-deps electra-pytorch==0.1.2`) wrapping the
  same transformers networks with shared embeddings, torch AdamW.
- naive_hf: transformers out of the box: full-vocabulary generator logits at every position, its own
  losses, torch AdamW.

Each (preset, implementation) runs in its own process so that peak memory is its own; with `--rounds N` the
implementations take turns N times (so a slow spell of the machine hits all of them) and each figure is the median
over all its timed steps. A step is masking + forward + backward + clipping + optimizer step. FLOPs follow
the FLOP model of the original's flops_computation.py (3 x forward matmul FLOPs, attention included, generator head on
the masked rows only): the same model FLOPs are credited to every implementation, so the naive one's extra work is not
counted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from electra_hf import DataCollatorForElectra, ElectraPretrainingConfig, ElectraPretrainingModel  # noqa: E402
from electra_hf.data import load_tokenizer  # noqa: E402
from electra_hf.dropout import use_packed_dropout  # noqa: E402
from electra_hf.onednn_linear import use_onednn_linear  # noqa: E402
from electra_hf.optimization import AdamWeightDecay, electra_parameter_groups  # noqa: E402

IMPLEMENTATIONS = ("electra_hf", "electra_hf_torch_dropout", "electra_hf_mkl_linear", "electra_hf_unfused_head",
                   "electra_hf_unfused", "original_tf", "lucidrains", "naive_hf")
UNFUSED_HEAD = {"fused_vocab_head": False, "sampling": "gumbel"}
# What each electra_hf variant switches off: (packed dropout, oneDNN linears, config overrides).
VARIANTS = {"electra_hf": (True, True, {}), "electra_hf_torch_dropout": (False, True, {}),
            "electra_hf_mkl_linear": (True, False, {}), "electra_hf_unfused_head": (True, True, UNFUSED_HEAD),
            "electra_hf_unfused": (False, False, UNFUSED_HEAD)}


def benchmark_config(preset: str, impl: str, seq_len: int, objective: str = "electra") -> ElectraPretrainingConfig:
    """The pair an implementation runs: the preset's sizes, with an electra_hf variant's switches."""
    return ElectraPretrainingConfig.from_preset(preset, max_seq_length=seq_len, objective=objective,
                                                **VARIANTS.get(impl, (None, None, {}))[2])


def forward_flops_per_token(cfg, seq_len: int, masked_fraction: float, head: str) -> float:
    """Forward matmul FLOPs per token of one network (flops_computation.py's model)."""
    h, i, e, v, n = cfg.hidden_size, cfg.intermediate_size, cfg.embedding_size, cfg.vocab_size, cfg.num_hidden_layers
    flops = n * (8 * h * h + 4 * h * i + 4 * seq_len * h)
    if e != h:
        flops += 2 * e * h
    if head == "discriminator":
        flops += 2 * h * h + 2 * h
    else:  # dense h -> E, then the tied E -> V projection, on the masked rows only
        flops += masked_fraction * (2 * h * e + 2 * e * v)
    return flops


def train_flops_per_token(config: ElectraPretrainingConfig, seq_len: int) -> float:
    masked_fraction = config.max_predictions_per_seq / seq_len
    return 3 * (forward_flops_per_token(config.discriminator_config, seq_len, masked_fraction, "discriminator")
                + forward_flops_per_token(config.generator_config, seq_len, masked_fraction, "generator"))


def random_rows(batch_size: int, seq_len: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, 30000, (batch_size, seq_len), generator=g)
    ids[:, 0], ids[:, -1] = 101, 102
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}


def build(impl: str, config: ElectraPretrainingConfig, tokenizer, device, compile_mode: str | None):
    """Returns (step_fn(rows) -> loss, parameters)."""
    model = ElectraPretrainingModel(config).to(device)  # all three start from the same shared-embedding pair
    fused = device.type == "cuda"
    if impl in VARIANTS:
        packed_dropout, onednn_linear, _ = VARIANTS[impl]
        if packed_dropout:
            use_packed_dropout(model)
        if onednn_linear:
            use_onednn_linear(model)
        collator = DataCollatorForElectra.from_config(tokenizer, config)
        optimizer = AdamWeightDecay(electra_parameter_groups(model.named_parameters(), 5e-4, 0.01), lr=5e-4,
                                    fused=fused or None)
        forward = torch.compile(model, mode=compile_mode) if compile_mode else model

        def step(rows):
            batch = {**rows, **collator.mask_tokens(rows["input_ids"], rows["attention_mask"])}
            return forward(**{k: t.to(device, non_blocking=True) for k, t in batch.items()}).loss, optimizer

        return step, model

    generator, discriminator = model.generator, model.discriminator
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01, fused=fused or None)
    if impl == "lucidrains":
        from electra_pytorch import Electra

        electra = Electra(
            lambda ids, **kw: generator(ids, **kw).logits, lambda ids, **kw: discriminator(ids, **kw).logits,
            mask_token_id=103, pad_token_id=0, mask_prob=0.15, replace_prob=0.85, random_token_prob=0.0,
            mask_ignore_token_ids=[101, 102], disc_weight=50.0, gen_weight=1.0)

        def step(rows):
            return electra(rows["input_ids"].to(device)).loss, optimizer

        return step, model

    collator = DataCollatorForElectra(tokenizer, masking=dataclasses.replace(
        config.masking, position_sampling="without_replacement"))

    def step(rows):  # transformers out of the box: full-vocabulary logits at every position
        batch = {k: t.to(device) for k, t in {**rows, **collator.mask_tokens(rows["input_ids"],
                                                                              rows["attention_mask"])}.items()}
        chosen = torch.zeros_like(batch["input_ids"], dtype=torch.bool).scatter_(
            1, batch["masked_lm_positions"], batch["masked_lm_weights"] > 0)
        labels = batch["input_ids"].masked_fill(~chosen, -100)
        gen = generator(batch["masked_input_ids"], attention_mask=batch["attention_mask"], labels=labels)
        sampled = torch.multinomial(gen.logits[chosen].detach().float().softmax(-1), 1).squeeze(-1)
        fake = batch["input_ids"].masked_scatter(chosen, sampled)
        disc = discriminator(fake, attention_mask=batch["attention_mask"],
                             labels=(fake != batch["input_ids"]).long())
        return gen.loss + 50.0 * disc.loss, optimizer

    return step, model


def time_original_tf(args, config, rows) -> tuple[list[float], float]:
    from benchmarks.original_tf import build_train_step

    from electra_hf.data.tokenizer import BUNDLED_VOCAB_DIR

    step = build_train_step(config, {k: t.numpy() for k, t in rows.items()}, os.path.join(BUNDLED_VOCAB_DIR,
                                                                                           "vocab.txt"))
    times = []
    for i in range(args.warmup + args.steps):
        start = time.perf_counter()
        loss = step()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    return times, loss


def run_one(args) -> dict:
    device = torch.device(args.device)
    torch.manual_seed(0)
    tokenizer = load_tokenizer()
    config = benchmark_config(args.preset, args.impl, args.seq_len, args.objective)
    rows = random_rows(args.batch_size, args.seq_len)
    if args.impl == "original_tf":
        times, loss = time_original_tf(args, config, rows)
    else:
        times, loss = time_torch(args, config, tokenizer, device, rows)
    seconds = statistics.median(times)
    tokens = args.batch_size * args.seq_len
    # the FLOP model covers the masked-LM generator only
    flops = train_flops_per_token(config, args.seq_len) * tokens / seconds if args.objective == "electra" else 0.0
    name = args.impl + (f"+compile:{args.compile}" if args.compile else "")
    result = {"preset": args.preset, "impl": name, "steps_per_s": 1 / seconds, "tokens_per_s": tokens / seconds,
              "model_tflops": flops / 1e12, "loss": float(loss), "step_seconds": times}
    if device.type == "cuda" and args.impl != "original_tf":
        result["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    else:
        result["peak_memory_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    if args.peak_tflops:
        result["mfu"] = result["model_tflops"] / args.peak_tflops
    return result


def time_torch(args, config, tokenizer, device, rows) -> tuple[list[float], float]:
    step, model = build(args.impl, config, tokenizer, device, args.compile)
    model.train()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16)
    times = []
    for i in range(args.warmup + args.steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with autocast:
            loss, optimizer = step(rows)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    return times, float(loss)


def merge_rounds(rounds: list[dict]) -> dict:
    """One result from an implementation's rounds: the median over all their timed steps."""
    times = [t for r in rounds for t in r["step_seconds"]]
    scale = statistics.median(times) / statistics.median(rounds[0]["step_seconds"])
    merged = {**rounds[0], "step_seconds": times, "rounds": len(rounds),
              "peak_memory_gib": max(r["peak_memory_gib"] for r in rounds)}
    for key in ("steps_per_s", "tokens_per_s", "model_tflops", "mfu"):
        if key in merged:
            merged[key] = rounds[0][key] / scale
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"])
    parser.add_argument("--impls", nargs="+", default=list(IMPLEMENTATIONS), choices=IMPLEMENTATIONS)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--seq_len", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--objective", default="electra", choices=["electra", "electric"],
                        help="electric: the two-tower generator (electra_hf variants and original_tf only)")
    parser.add_argument("--rounds", type=int, default=1, help="take turns this many times (see above)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast for every implementation")
    parser.add_argument("--compile", nargs="?", const="default", default=None,
                        help="torch.compile electra_hf's model, optionally with a mode (e.g. reduce-overhead)")
    parser.add_argument("--peak_tflops", type=float, default=None, help="device peak, for MFU (H100 SXM: 989)")
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    parser.add_argument("--preset", help=argparse.SUPPRESS)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.impl:  # a child process: one measurement, printed as JSON
        print(json.dumps(run_one(args)))
        return

    runs = {}  # (preset, impl) -> the results of its rounds
    for _ in range(args.rounds):
        for preset in args.presets:
            for impl in args.impls:
                child = [sys.executable, __file__, "--preset", preset, "--impl", impl, "--batch_size",
                         str(args.batch_size), "--seq_len", str(args.seq_len), "--steps", str(args.steps),
                         "--warmup", str(args.warmup), "--device", args.device, "--objective", args.objective] + (
                    ["--bf16"] if args.bf16 else []) + (
                    ["--compile", args.compile] if args.compile and impl.startswith("electra_hf") else []) + (
                    ["--peak_tflops", str(args.peak_tflops)] if args.peak_tflops else [])
                out = subprocess.run(child, capture_output=True, text=True)
                if out.returncode != 0:
                    print(f"{preset}/{impl} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
                    continue
                runs.setdefault((preset, impl), []).append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(json.dumps(runs[preset, impl][-1]), flush=True)
    results = [merge_rounds(rounds) for rounds in runs.values()]

    peers = ("original_tf", "lucidrains", "naive_hf")
    print(f"\n{'preset':8} {'impl':34} {'steps/s':>9} {'tokens/s':>10} {'TFLOP/s':>8} {'MFU':>6} {'peak GiB':>9} "
          + " ".join(f"{'vs ' + peer:>14}" for peer in peers))
    for r in results:
        base = {x["impl"]: x["steps_per_s"] for x in results if x["preset"] == r["preset"]}
        ratios = [f"{r['steps_per_s'] / base[peer]:.2f}x" if peer in base else "-" for peer in peers]
        mfu = f"{r['mfu']:.1%}" if "mfu" in r else "-"
        print(f"{r['preset']:8} {r['impl']:34} {r['steps_per_s']:9.3f} {r['tokens_per_s']:10.0f} "
              f"{r['model_tflops']:8.3f} {mfu:>6} {r['peak_memory_gib']:9.2f} " + " ".join(f"{x:>14}" for x in ratios))
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"args": vars(args), "device": torch.cuda.get_device_name() if args.device == "cuda" else
                       "cpu", "torch": torch.__version__, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
