"""The floor of a pre-training step on this CPU: its matrix products alone, each at the faster of the two fp32
libraries torch has (MKL and oneDNN), timed one by one in isolation (warm caches).

    python benchmarks/matmul_floor.py --preset small --batch_size 32

The products are those of the FLOP model of pretrain_throughput.py (every linear layer's forward, input gradient
and weight gradient; attention's two batched products and their four gradients; the generator's head on the
masked rows), so their FLOPs sum to its model FLOPs. The original TF code computes the same products with oneDNN;
an implementation that computes them with these libraries cannot take a step in less than their sum, so
1 / sum bounds the steps/s any of them reaches here, whatever else it saves.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.pretrain_throughput import benchmark_config, train_flops_per_token  # noqa: E402


def _inner_product(a, b_out_in):
    return torch.ops.mkldnn._linear_pointwise(a, b_out_in, None, "none", [], "")


def linear_products(rows: int, n_in: int, n_out: int) -> dict[str, list]:
    """The three products of a linear layer [rows, n_in] -> [rows, n_out], each in the layouts autograd gives it,
    with MKL (torch's mm) and oneDNN variants."""
    x, w, dy = torch.randn(rows, n_in), torch.randn(n_out, n_in), torch.randn(rows, n_out)
    return {
        "forward": [lambda: x @ w.t(), lambda: _inner_product(x, w)],
        "input gradient": [lambda: dy @ w, lambda: _inner_product(dy, w.t())],
        "weight gradient": [lambda: dy.t() @ x, lambda: _inner_product(dy.t(), x.t()),
                            lambda: _inner_product(x.t(), dy.t()).t()],
    }


def attention_products(batch_heads: int, seq_len: int, head_size: int) -> dict[str, list]:
    """Scores = Q K^T and context = P V (torch's bmm: neither library has another batched product here); each has
    two gradients of its size, so each counts three times per layer."""
    q, k = torch.randn(batch_heads, seq_len, head_size), torch.randn(batch_heads, seq_len, head_size)
    p = torch.randn(batch_heads, seq_len, seq_len)
    return {"scores QK^T, forward and gradients": [lambda: torch.bmm(q, k.transpose(1, 2))],
            "context PV, forward and gradients": [lambda: torch.bmm(p, q)]}


def products_of_step(config, batch_size: int, seq_len: int) -> list[tuple[str, int, float, dict]]:
    """(name, count per step, FLOPs of one, variants) for every product of a step of the pair."""
    tokens, masked = batch_size * seq_len, batch_size * config.max_predictions_per_seq
    out = []
    for half, cfg in (("discriminator", config.discriminator_config), ("generator", config.generator_config)):
        h, i, e, n = cfg.hidden_size, cfg.intermediate_size, cfg.embedding_size, cfg.num_hidden_layers
        linears = [("attention q, k, v, output", 4 * n, tokens, h, h), ("feed-forward in", n, tokens, h, i),
                   ("feed-forward out", n, tokens, i, h)]
        if e != h:
            linears.append(("embedding projection", 1, tokens, e, h))
        if half == "discriminator":
            linears += [("head dense", 1, tokens, h, h), ("head output", 1, tokens, h, 1)]
        else:
            linears += [("head dense (masked rows)", 1, masked, h, e),
                        ("vocabulary (masked rows)", 1, masked, e, cfg.vocab_size)]
        for name, count, rows, n_in, n_out in linears:
            for part, variants in linear_products(rows, n_in, n_out).items():
                out.append((f"{half} {name}, {part}", count, 2.0 * rows * n_in * n_out, variants))
        heads = cfg.num_attention_heads
        for part, variants in attention_products(batch_size * heads, seq_len, h // heads).items():
            out.append((f"{half} attention {part}", 3 * n, 2.0 * batch_size * heads * seq_len * seq_len * (h // heads),
                        variants))
    return out


def seconds(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--seq_len", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    args = parser.parse_args()

    config = benchmark_config(args.preset, "electra_hf", args.seq_len)
    warm = torch.randn(2048, 2048)
    seconds(lambda: warm @ warm, args.repeats)  # threads started and the clock up before the first product
    rows, total_flops, floor, mkl_only = [], 0.0, 0.0, 0.0
    for name, count, flops, variants in products_of_step(config, args.batch_size, args.seq_len):
        times = [seconds(fn, args.repeats) for fn in variants]
        best = min(times)
        total_flops += count * flops
        floor += count * best
        mkl_only += count * times[0]
        rows.append({"product": name, "count": count, "gflop": flops / 1e9, "ms": [t * 1e3 for t in times],
                     "best_gflop_per_s": flops / best / 1e9})
        print(f"{name:<70} x{count:<3} {flops / best / 1e9:7.1f} GFLOP/s  "
              + "  ".join(f"{t * 1e3:8.3f}" for t in times) + " ms", flush=True)
    model_flops = train_flops_per_token(config, args.seq_len) * args.batch_size * args.seq_len
    result = {"preset": args.preset, "batch_size": args.batch_size, "seq_len": args.seq_len,
              "torch": torch.__version__, "threads": torch.get_num_threads(), "step_gflop": total_flops / 1e9,
              "model_gflop": model_flops / 1e9, "floor_seconds": floor, "bound_steps_per_s": 1 / floor,
              "mkl_only_seconds": mkl_only, "products": rows}
    print(f"\nstep: {total_flops / 1e9:.1f} GFLOP in these products (the FLOP model: {model_flops / 1e9:.1f}); "
          f"their floor {floor:.3f} s ({total_flops / floor / 1e9:.0f} GFLOP/s), MKL alone {mkl_only:.3f} s: "
          f"at most {1 / floor:.3f} steps/s")
    if args.output:
        with open(args.output, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
