"""Where a pre-training step spends its time: torch.profiler over a few steps of one implementation.

    python benchmarks/profile_step.py --impl electra_hf --preset small --bf16
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.pretrain_throughput import IMPLEMENTATIONS, benchmark_config, build, random_rows  # noqa: E402
from electra_hf.data import load_tokenizer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", default="electra_hf", choices=[i for i in IMPLEMENTATIONS if i != "original_tf"])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--seq_len", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--compile", nargs="?", const="default", default=None, help="torch.compile mode")
    parser.add_argument("--sort", default=None, help="profiler sort key (default: self device time)")
    parser.add_argument("--rows", type=int, default=25, help="rows of the table")
    args = parser.parse_args()

    device = torch.device(args.device)
    config = benchmark_config(args.preset, args.impl, args.seq_len)
    step, model = build(args.impl, config, load_tokenizer(), device, args.compile)
    rows = random_rows(args.batch_size, args.seq_len)

    def one_step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
            loss, optimizer = step(rows)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(5):
        one_step()
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
        torch.cuda.synchronize()
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(3):
            one_step()
        if device.type == "cuda":
            torch.cuda.synchronize()
    sort = args.sort or ("self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total")
    print(prof.key_averages().table(sort_by=sort, row_limit=args.rows, max_name_column_width=60))


if __name__ == "__main__":
    main()
