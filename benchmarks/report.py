"""What the fine-tuning benchmarks share: a table of each implementation's figures and their ratios to a
baseline run in the same process, and the JSON record kept in benchmarks/results/."""

from __future__ import annotations

import json

import torch


def print_ratio_table(results: list[dict], metrics: dict[str, str], baseline: str, group: str | None = None) -> None:
    """One row per result: `metrics` (key -> column label), then each as a ratio to the `baseline` impl's
    result (of the same `group`, e.g. preset)."""
    keys = [group] if group else []
    labels = [*keys, "impl", *metrics.values(), *(f"{label} vs {baseline}" for label in metrics.values())]
    print("\n" + "  ".join(f"{label:>{max(len(label), 8)}}" for label in labels))
    for row in results:
        base = next(r for r in results if r["impl"] == baseline and all(r[k] == row[k] for k in keys))
        cells = [*(row[k] for k in keys), row["impl"], *(f"{row[m]:.3f}" for m in metrics),
                 *(f"{row[m] / base[m]:.2f}x" for m in metrics)]
        print("  ".join(f"{cell:>{max(len(label), 8)}}" for cell, label in zip(cells, labels)))


def write_results(path: str | None, args, results: list[dict]) -> None:
    if path:
        with open(path, "w") as f:
            json.dump({"args": vars(args), "torch": torch.__version__, "results": results}, f, indent=1)
