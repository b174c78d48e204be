"""prepare_data.py at growing corpus sizes: wall time, examples/s and peak memory per size, to show time linear in the
corpus and memory flat. Memory twice: GNU time's %M (the largest resident set of the run's processes, which counts
the pages of the memory-mapped Arrow files it reads) and the anonymous memory of all its processes together (what
they allocate; Linux only).

    python benchmarks/prepare_data.py --sizes_mb 100 500 1000 --num_proc 2 --json benchmarks/results/prepare.json

Each corpus is the bundled novels repeated to the size (paragraphs shuffled per copy, so documents differ in
order, not in text), written once under --work_dir; the tokenizer is the bundled BERT uncased one.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def synthetic_corpus(path: str, size_mb: float, seed: int = 0) -> str:
    """A text file of about `size_mb` MB of the bundled novels' paragraphs (blank-line separated)."""
    if os.path.exists(path):
        return path
    from electra_hf.data import BUNDLED_CORPUS_DIR

    paragraphs = [p for f in sorted(glob.glob(os.path.join(BUNDLED_CORPUS_DIR, "*.txt")))
                  for p in open(f, encoding="utf-8").read().split("\n\n") if p.strip()]
    rng, written, target = random.Random(seed), 0, size_mb * 1e6
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        while written < target:
            rng.shuffle(paragraphs)
            for p in paragraphs:
                f.write(p + "\n\n")
                written += len(p.encode("utf-8")) + 2
                if written >= target:
                    break
    os.replace(path + ".tmp", path)
    return path


def anonymous_bytes(pid: int) -> int:
    """The anonymous resident memory (heap, Arrow buffers) of a process and its children, not the pages of files
    they map: the examples' Arrow files are memory-mapped, and those pages, which count in RSS, are the kernel's
    page cache, given back under pressure. Linux's /proc."""
    import psutil

    try:
        tree = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in tree:
        try:
            with open(f"/proc/{process.pid}/status") as f:
                total += next(int(line.split()[1]) * 1024 for line in f if line.startswith("RssAnon:"))
        except (OSError, StopIteration):
            pass  # ended meanwhile
    return total


def measure(corpus: str, output_dir: str, num_proc: int, cache_dir: str) -> dict:
    """One prepare_data.py run from an empty cache: its wall time, the peak RSS of its largest process (GNU time's
    %M, mapped file pages included) and the peak anonymous memory of all its processes together (sampled every
    0.1 s)."""
    shutil.rmtree(cache_dir, ignore_errors=True)  # documents and examples built, not read back from a last run
    argv = ["/usr/bin/time", "-f", "%M", "-o", output_dir + ".rss", sys.executable,
            os.path.join(ROOT, "prepare_data.py"), "--train_files", corpus, "--output_dir", output_dir,
            "--preset", "small", "--preprocessing_num_workers", str(num_proc), "--data_cache_dir", cache_dir,
            "--overwrite_output_dir"]
    begin = time.perf_counter()
    with open(output_dir + ".log", "w") as log:
        run = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        peak_anonymous = 0
        while run.poll() is None:
            peak_anonymous = max(peak_anonymous, anonymous_bytes(run.pid))
            time.sleep(0.1)
    wall = time.perf_counter() - begin
    if run.returncode:
        raise SystemExit(f"prepare_data.py failed: see {output_dir}.log")
    with open(output_dir + ".rss") as f:
        peak_kb = int(f.read().split()[-1])
    with open(os.path.join(output_dir, "electra_prepared.json")) as f:
        info = json.load(f)
    shutil.rmtree(cache_dir)
    return {"wall_seconds": wall, "examples": info["examples"], "examples_per_second": info["examples"] / wall,
            "peak_rss_gib": peak_kb / 2 ** 20, "peak_anonymous_gib": peak_anonymous / 2 ** 30}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes_mb", type=float, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--num_proc", type=int, default=2)
    parser.add_argument("--work_dir", default="/tmp/electra_prepare_bench")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    rows = []
    for size in sorted(args.sizes_mb):
        corpus = synthetic_corpus(os.path.join(args.work_dir, f"corpus-{size:g}MB.txt"), size)
        row = {"size_mb": size, "corpus_bytes": os.path.getsize(corpus),
               **measure(corpus, os.path.join(args.work_dir, f"prepared-{size:g}MB"), args.num_proc,
                         os.path.join(args.work_dir, f"cache-{size:g}MB"))}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| corpus | examples | wall s | examples/s | MB/s | peak RSS GiB (largest process, mapped files "
          "included) | peak anonymous GiB (all processes) |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size_mb']:g} MB | {r['examples']:,} | {r['wall_seconds']:.0f} | {r['examples_per_second']:,.0f} "
              f"| {r['corpus_bytes'] / 1e6 / r['wall_seconds']:.2f} | {r['peak_rss_gib']:.2f} | "
              f"{r['peak_anonymous_gib']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"num_proc": args.num_proc, "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
