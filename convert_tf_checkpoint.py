#!/usr/bin/env python
"""Convert original ELECTRA TensorFlow checkpoints to transformers models and back; TensorFlow is not needed.

    python convert_tf_checkpoint.py tf2hf --checkpoint electra_small/ --output_dir out/
        -> out/discriminator (ElectraForPreTraining), out/generator (ElectraForMaskedLM; Electric's two-tower
           generator: ElectraTwoTowerGenerator), out/config.json (the pair, for electra_hf.ElectraPretrainingModel);
           the tokenizer too when a vocab.txt sits beside the checkpoint
    python convert_tf_checkpoint.py tf2hf --checkpoint electra_base/model.ckpt-766000 --which discriminator ...
    python convert_tf_checkpoint.py hf2tf --model out/ --output_dir tf/
    python convert_tf_checkpoint.py hf2tf --discriminator out/discriminator --generator out/generator --output_dir tf/
        -> tf/model.ckpt-0.{index,data-00000-of-00001}, tf/checkpoint, tf/vocab.txt (original variable names)

The layout comes from the variable names: ELECTRA (shared or untied generator embeddings, a tied generator),
Electric (the two-tower generator, shared or untied tower embeddings; objective "electric" unless --hparams says
electra_objective), the MLM mode (a generator alone, objective "mlm"), fine-tuning checkpoints (the encoder).
A checkpoint with no generator variables is a discriminator alone or a uniform-generator run (the two look
the same): --which discriminator, or --hparams '{"uniform_generator": true}' for the pair config too.
Sizes come from the variables' shapes. Attention heads default to the original's hidden // 64; pass the
--hparams JSON you trained with (the original's names) or --num_attention_heads when they differ.
Optimizer slots and global_step are skipped and reported.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from electra_hf.cli import one_line_errors

logger = logging.getLogger("convert_tf_checkpoint")


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    tf2hf = commands.add_parser("tf2hf", help="an original TF checkpoint -> transformers (safetensors)")
    tf2hf.add_argument("--checkpoint", required=True,
                       help="a directory with a `checkpoint` file or *.index, or a model.ckpt-N prefix")
    tf2hf.add_argument("--output_dir", required=True)
    tf2hf.add_argument("--which", choices=["both", "discriminator", "generator"], default="both")
    tf2hf.add_argument("--hparams", default=None,
                       help="the original's hparams: a JSON string or .json file (heads, objective of a two-tower "
                            "generator, uniform_generator, max_seq_length/mask_prob/... of the pair config)")
    tf2hf.add_argument("--num_attention_heads", type=int, default=None, help="default: --hparams, else hidden // 64")
    tf2hf.add_argument("--generator_num_attention_heads", type=int, default=None,
                       help="default: generator hidden // 64 (the original's rule)")
    tf2hf.add_argument("--push_to_hub", default=None, metavar="REPO",
                       help="upload the result: REPO (one half) or REPO-discriminator and REPO-generator")
    hf2tf = commands.add_parser("hf2tf", help="transformers models -> an original TF checkpoint")
    hf2tf.add_argument("--model", default=None, metavar="DIR",
                       help="a pair directory (tf2hf's or run_pretraining's output: config.json, discriminator/, "
                            "generator/): its config says the layout (Electric, tied generator, untied "
                            "embeddings, MLM mode)")
    hf2tf.add_argument("--discriminator", default=None, help="an ElectraForPreTraining directory (instead of --model)")
    hf2tf.add_argument("--generator", default=None,
                       help="an ElectraForMaskedLM or ElectraTwoTowerGenerator directory (same embeddings)")
    hf2tf.add_argument("--output_dir", required=True)
    hf2tf.add_argument("--global_step", type=int, default=0)
    hf2tf.add_argument("--optimizer_slots", action="store_true",
                       help="add zero adam_m/adam_v slots (the original's Estimator needs them to resume training)")
    hf2tf.add_argument("--num_shards", type=int, default=1)
    for command in (tf2hf, hf2tf):
        command.add_argument("--overwrite", action="store_true", help="replace a non-empty --output_dir")
    return parser.parse_args(argv)


def check_paths(args: argparse.Namespace) -> None:
    """The inputs exist, checked before torch loads (a missing path is then a one-line error in about a second)."""
    if args.command == "tf2hf":
        if not (os.path.exists(args.checkpoint) or os.path.exists(args.checkpoint + ".index")):
            raise FileNotFoundError(f"--checkpoint {args.checkpoint}: no such directory, file or checkpoint prefix "
                                    f"({args.checkpoint}.index).")
        return
    for flag in ("model", "discriminator", "generator"):
        path = getattr(args, flag)
        if path is not None and not os.path.isdir(path):
            raise FileNotFoundError(f"--{flag} {path}: no such directory.")


@one_line_errors
def main(argv: list[str] | None = None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    check_paths(args)
    from electra_hf.conversion.convert import hf_to_tf, tf_to_hf
    from electra_hf.hub import push_folder_to_hub

    if args.command == "tf2hf":
        report = tf_to_hf(args.checkpoint, args.output_dir, which=args.which, hparams=args.hparams,
                          num_attention_heads=args.num_attention_heads,
                          generator_num_attention_heads=args.generator_num_attention_heads, overwrite=args.overwrite)
    else:
        report = hf_to_tf(args.output_dir, discriminator=args.discriminator, generator=args.generator,
                          global_step=args.global_step, optimizer_slots=args.optimizer_slots,
                          num_shards=args.num_shards, overwrite=args.overwrite, pair=args.model)
    print(report.summary())
    if getattr(args, "push_to_hub", None):
        for half, folder in report.written.items():
            repo = args.push_to_hub if len(report.written) == 1 else f"{args.push_to_hub}-{half}"
            print(f"pushed {folder} -> {push_folder_to_hub(folder, repo)}")
    return report


if __name__ == "__main__":
    main()
