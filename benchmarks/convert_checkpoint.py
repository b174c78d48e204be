"""Checkpoint conversion time and peak memory: electra-hf's TF-free reader and converter against TensorFlow
reading the same checkpoint with `tf.train.load_checkpoint`, in the same run, each in its own process.

    python benchmarks/convert_checkpoint.py --preset base

The checkpoint is written once with the original's variable names and shapes (the preset's discriminator and
generator, float32, random values) and, unless --no_slots, Adam's adam_m/adam_v slots and global_step, as a
pre-training run leaves it (3x the weights). Measured:
- tf_read: `tf.train.load_checkpoint` and `get_tensor` of every model variable (slots not read);
- electra_hf_read: `TFCheckpointReader` and `get_tensor` of the same variables, checksums verified;
- electra_hf_convert: the whole `convert_tf_checkpoint.py tf2hf` (read, build both transformers models,
  write safetensors).
Peak RSS is the process's maximum resident memory; "imports" is its RSS after importing the libraries.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def memory_gib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process; unlike ru_maxrss, not inherited from the parent."""
    with open("/proc/self/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
    return kib / 2**20


def model_variables(names) -> list[str]:
    from electra_hf.conversion.names import is_bookkeeping

    return sorted(n for n in names if not is_bookkeeping(n))


def run_one(impl: str, prefix: str, output: str) -> dict:
    if impl == "tf_read":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf

        imports = memory_gib("VmRSS")
        start = time.perf_counter()
        reader = tf.train.load_checkpoint(prefix)
        total = sum(reader.get_tensor(n).nbytes for n in model_variables(reader.get_variable_to_shape_map()))
    else:
        from electra_hf.conversion.convert import tf_to_hf
        from electra_hf.conversion.tf_bundle import TFCheckpointReader

        imports = memory_gib("VmRSS")
        start = time.perf_counter()
        if impl == "electra_hf_read":
            reader = TFCheckpointReader(prefix)
            total = sum(reader.get_tensor(n).nbytes for n in model_variables(reader.entries))
        else:
            tf_to_hf(prefix, output)
            total = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(output) for f in files)
    seconds = time.perf_counter() - start
    return {"impl": impl, "seconds": seconds, "bytes": total, "imports_rss_gib": imports,
            "peak_rss_gib": memory_gib("VmHWM")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="base")
    parser.add_argument("--no_slots", action="store_true", help="weights only, as the released checkpoints")
    parser.add_argument("--impls", nargs="+", default=["tf_read", "electra_hf_read", "electra_hf_convert"])
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    parser.add_argument("--run", default=None, help=argparse.SUPPRESS)  # one measurement, in a child process
    parser.add_argument("--checkpoint", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.run, args.checkpoint, tempfile.mkdtemp() + "/out")))
        return

    import torch
    from transformers import ElectraForMaskedLM, ElectraForPreTraining

    from electra_hf import ElectraPretrainingConfig
    from electra_hf.conversion.convert import discriminator_names, generator_names
    from electra_hf.conversion.tf_bundle import write_tf_checkpoint

    config = ElectraPretrainingConfig.from_preset(args.preset)
    tensors = {}
    for model, table in ((ElectraForPreTraining(config.discriminator_config),
                          discriminator_names(config.discriminator_config)),
                         (ElectraForMaskedLM(config.generator_config),
                          generator_names(config.generator_config, "separate"))):
        state = model.state_dict()
        tensors.update({tf: state[hf].t().contiguous() if t else state[hf] for tf, hf, t in table})
    if not args.no_slots:
        tensors.update({f"{n}/{slot}": torch.zeros_like(t) for n, t in list(tensors.items())
                        for slot in ("adam_m", "adam_v")})
    tensors["global_step"] = torch.tensor(766_000)
    folder = tempfile.mkdtemp()
    prefix = os.path.join(folder, "model.ckpt-766000")
    write_tf_checkpoint(prefix, tensors.items())
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    weights = sum(t.numel() * t.element_size() for n, t in tensors.items() if "/adam_" not in n)
    print(f"checkpoint: {len(tensors)} variables, {size / 2**30:.2f} GiB on disk, model weights {weights / 2**30:.2f} "
          f"GiB ({sum(t.numel() for n, t in tensors.items() if '/adam_' not in n) / 1e6:.0f}M values)", flush=True)
    del tensors

    results = []
    for impl in args.impls:
        out = subprocess.run([sys.executable, __file__, "--run", impl, "--checkpoint", prefix], capture_output=True,
                             text=True)
        if out.returncode:
            print(f"{impl} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    print(f"\n{'impl':20} {'seconds':>8} {'peak RSS GiB':>13} {'after imports':>14} {'peak - imports':>15}")
    for r in results:
        print(f"{r['impl']:20} {r['seconds']:8.2f} {r['peak_rss_gib']:13.2f} {r['imports_rss_gib']:14.2f} "
              f"{r['peak_rss_gib'] - r['imports_rss_gib']:15.2f}")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"args": vars(args), "checkpoint_gib": size / 2**30, "model_gib": weights / 2**30,
                       "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
