"""Score texts with an Electric discriminator's pseudo-log-likelihood, or re-rank n-best lists with it.

    python -m electra_hf.score --model runs/electric --input texts.txt --output scores.jsonl
    python -m electra_hf.score --model runs/electric --input nbest.jsonl --weight 0.3

Texts (one per line; a blank line is an empty text, PLL 0, so output lines stay aligned with input lines) give
one JSON line per text, in input order: {"text", "pll", "num_tokens"}.

N-best lists (a .jsonl file or --format nbest; blank lines skipped), one JSON object per line:
    {"id": "utt1", "candidates": ["a text", {"text": "another", "score": -12.3}, ...]}
give one JSON line per list, its candidates best-first: {"id", "candidates": [{"text", "pll", "num_tokens",
"system_score", "combined_score", "index"}, ...]}, where combined_score = (1 - weight) * score + weight * pll
(--weight 1, the default, ranks by the PLL alone; below 1 every candidate needs a numeric "score").

PLL = sum of -s_t (the discriminator's logits) over the text's word pieces, [CLS]/[SEP] excluded; long texts
are scored in overlapping windows (--long_texts error refuses them). See electra_hf.scoring.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field

from .cli import one_line_errors, parse_arguments
from .data.text_files import reading
from .loading import check_hub_name

logger = logging.getLogger("electra_hf.score")


@dataclass
class ScoreArguments:
    model: str = field(metadata={"help": "An Electric discriminator (directory or Hub id) or a pre-training output "
                                         "directory (its discriminator/)."})
    input: str = field(metadata={"help": "Texts, one per line, or n-best lists as JSON lines (.jsonl)."})
    output: str | None = field(default=None, metadata={"help": "Where to write the JSON lines (default: stdout)."})
    format: str = field(default="auto", metadata={
        "help": "texts, nbest, or auto: nbest for a .jsonl input, texts otherwise.",
        "choices": ["auto", "texts", "nbest"]})
    batch_size: int = field(default=64, metadata={"help": "Sequences per forward pass."})
    weight: float = field(default=1.0, metadata={
        "help": "n-best: the PLL's interpolation weight w, combined = (1 - w) * score + w * pll (1: PLL only)."})
    max_length: int | None = field(default=None, metadata={
        "help": "Longest sequence fed to the model, [CLS] and [SEP] included (default: max_position_embeddings)."})
    long_texts: str = field(default="window", metadata={
        "help": "Texts longer than max_length - 2 tokens: window (overlapping windows, each token scored once, "
                "with the most context) or error.", "choices": ["window", "error"]})  # = scoring.LONG_TEXTS
    stride: int | None = field(default=None, metadata={"help": "Tokens between windows (default: half a window)."})
    device: str | None = field(default=None, metadata={"help": "Default: cuda if available, else cpu."})
    tokenizer_name: str | None = field(default=None, metadata={"help": "Default: the model's own tokenizer."})


def read_texts(path: str) -> list[str]:
    """One text per line (\\n, \\r\\n or \\r), line endings removed; blank lines are empty texts."""
    with reading(path), open(path, encoding="utf-8-sig") as f:  # a byte-order mark is not text
        return [line.rstrip("\n") for line in f]


def read_nbest(path: str, weight: float) -> list[dict]:
    """One n-best list per non-blank line, each checked (`check_nbest_item`); errors name the line."""
    from .scoring import check_nbest_item

    items = []
    with reading(path), open(path, encoding="utf-8-sig") as f:  # a byte-order mark is not text
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path} line {number}: invalid JSON ({err}).") from None
            name = f"{path} line {number}" + (f" (id {item['id']!r})" if isinstance(item, dict) and "id" in item
                                              else "")
            check_nbest_item(item, weight, name)
            items.append(item)
    return items


def run(args: ScoreArguments, explicit: set[str]) -> int:
    if not os.path.isfile(args.input):
        raise ValueError(f"--input {args.input}: no such file.")
    nbest = args.format == "nbest" or (args.format == "auto" and args.input.lower().endswith(".jsonl"))
    if not nbest and "weight" in explicit:
        raise ValueError("--weight applies to n-best lists (a .jsonl input or --format nbest).")
    if not 0.0 <= args.weight <= 1.0:
        raise ValueError(f"--weight {args.weight} must be between 0 and 1.")
    check_hub_name(args.model, "--model")
    # the heavy imports after the checks: a bad path answers in about a second
    import torch

    from .scoring import load_scorer, pseudo_log_likelihoods, rerank

    items = read_nbest(args.input, args.weight) if nbest else read_texts(args.input)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, tokenizer = load_scorer(args.model, args.tokenizer_name, device=device)
    options = {"batch_size": args.batch_size, "max_length": args.max_length, "long_texts": args.long_texts,
               "stride": args.stride}
    begin = time.perf_counter()
    if nbest:
        num_texts = sum(len(item["candidates"]) for item in items)
        rows = rerank(items, model, tokenizer, weight=args.weight, progress=num_texts > args.batch_size, **options)
    else:
        num_texts = len(items)
        names = [f"{args.input} line {number}" for number in range(1, len(items) + 1)]
        scores = pseudo_log_likelihoods(model, tokenizer, items, names=names, progress=num_texts > args.batch_size,
                                        **options)
        rows = [{"text": text, "pll": s.pll, "num_tokens": s.num_tokens} for text, s in zip(items, scores)]
    elapsed = time.perf_counter() - begin
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if args.output:
            out.close()
        else:
            out.flush()
    logger.info("Scored %d texts%s on %s in %.1f s (%.1f texts/s)%s.", num_texts,
                f" of {len(items)} n-best lists" if nbest else "", device, elapsed, num_texts / max(elapsed, 1e-9),
                f", written to {args.output}" if args.output else "")
    return num_texts


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv[1:]), score, write; bad input stops with a one-line error, no traceback."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.WARNING,
                        handlers=[logging.StreamHandler()])
    logger.setLevel(logging.INFO)
    logging.getLogger("electra_hf.scoring").setLevel(logging.INFO)
    args, explicit = parse_arguments((ScoreArguments,), {}, sys.argv[1:] if argv is None else argv,
                                     description=__doc__)
    return run(args, explicit)


if __name__ == "__main__":
    main()
