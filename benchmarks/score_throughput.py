"""Pseudo-log-likelihood scoring throughput: Electric's one forward pass per text against the usual masked-LM
pseudo-likelihood, same texts, same run, same device.

    python benchmarks/score_throughput.py --presets small --num_texts 256

- electric: `electra_hf.scoring.pseudo_log_likelihoods` with an `ElectraForPreTraining` (Σ -s_t over the
  text's tokens from one forward pass over the unmodified text), batches of 64 texts sorted by length.
- mlm_pll: Salazar et al.'s masked-LM PLL with an `ElectraForMaskedLM` of the discriminator's size: for every
  token a copy of the text with that token masked, log p(original) at the masked position, summed; 64 masked
  copies per forward (the copies of one text have one length; texts sorted by length, as above), the
  vocabulary projection and log-softmax at the masked position only.
- mlm_pll_full: the same, the way it is usually written: the model's full [batch, length, vocabulary] logits,
  then the masked position's log-softmax.

Texts: sentences of 20-40 word pieces from the bundled Jane Austen corpus. Models: random initialisation
(throughput does not depend on the weights), fp32 unless --bf16. Reported: texts/s over one timed pass after
a warm-up, the texts timed in chunks of 64 by each implementation in turn (chunk k by all of them, then
chunk k + 1), so that other load on the machine falls on all of them alike.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import random
import re
import sys
import time

import torch
from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.report import print_ratio_table, write_results  # noqa: E402
from electra_hf.data import load_tokenizer  # noqa: E402
from electra_hf.scoring import pseudo_log_likelihoods  # noqa: E402

# The discriminator sizes of the presets (README): hidden, layers, heads, FFN, embedding.
SIZES = {"small": (256, 12, 4, 1024, 128), "base": (768, 12, 12, 3072, 768)}
IMPLEMENTATIONS = ("electric", "mlm_pll", "mlm_pll_full")


def corpus_sentences(tokenizer, n: int, min_tokens: int, max_tokens: int, seed: int) -> list[str]:
    """`n` sentences of min_tokens-max_tokens word pieces, drawn at random from the bundled corpus."""
    pattern = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "electra_hf", "resources", "austen", "*.txt")
    sentences = []
    for path in sorted(glob.glob(pattern)):
        with open(path, encoding="utf-8") as f:
            for paragraph in re.split(r"\n\s*\n", f.read()):
                text = " ".join(paragraph.split())
                sentences += [s for s in re.split(r"(?<=[.!?])\s+", text) if s]
    lengths = [len(ids) for ids in tokenizer(sentences, add_special_tokens=False)["input_ids"]]
    fitting = [s for s, length in zip(sentences, lengths) if min_tokens <= length <= max_tokens]
    return random.Random(seed).sample(fitting, n)


def config_for(preset: str) -> ElectraConfig:
    hidden, layers, heads, ffn, embedding = SIZES[preset]
    return ElectraConfig(vocab_size=30522, embedding_size=embedding, hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=heads, intermediate_size=ffn)


def mlm_pseudo_log_likelihoods(model: ElectraForMaskedLM, tokenizer, texts: list[str], batch_size: int,
                               full_logits: bool) -> list[float]:
    """Σ_t log p(x_t | x with x_t masked) over each text's word pieces ([CLS]/[SEP] excluded, as electric)."""
    device = next(model.parameters()).device
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    copies = []  # (text index, masked input, masked position, original token)
    for i in sorted(range(len(texts)), key=lambda k: -len(ids[k])):
        sequence = [tokenizer.cls_token_id, *ids[i], tokenizer.sep_token_id]
        for position in range(1, len(sequence) - 1):
            masked = list(sequence)
            masked[position] = tokenizer.mask_token_id
            copies.append((i, masked, position, sequence[position]))
    totals = [0.0] * len(texts)
    with torch.inference_mode():
        for begin in range(0, len(copies), batch_size):
            batch = copies[begin:begin + batch_size]
            width = max(len(c[1]) for c in batch)
            input_ids = torch.zeros((len(batch), width), dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (_, masked, _, _) in enumerate(batch):
                input_ids[row, :len(masked)] = torch.tensor(masked)
                attention[row, :len(masked)] = 1
            input_ids, attention = input_ids.to(device), attention.to(device)
            rows = torch.arange(len(batch), device=device)
            positions = torch.tensor([c[2] for c in batch], device=device)
            originals = torch.tensor([c[3] for c in batch], device=device)
            if full_logits:
                logits = model(input_ids=input_ids, attention_mask=attention).logits[rows, positions]
            else:
                hidden = model.electra(input_ids=input_ids, attention_mask=attention).last_hidden_state
                logits = model.generator_lm_head(model.generator_predictions(hidden[rows, positions]))
            log_probs = torch.log_softmax(logits.float(), dim=-1)[rows, originals].double().tolist()
            for (i, _, _, _), value in zip(batch, log_probs):
                totals[i] += value
    return totals


def scorer(impl: str, preset: str, tokenizer, args):
    """A function scoring a list of texts with `impl`'s randomly initialised model of `preset`'s size."""
    torch.manual_seed(0)
    model = (ElectraForPreTraining if impl == "electric" else ElectraForMaskedLM)(config_for(preset))
    model = model.to(args.device, torch.bfloat16 if args.bf16 else torch.float32).eval()
    if impl == "electric":
        return lambda texts: [s.pll for s in pseudo_log_likelihoods(model, tokenizer, texts,
                                                                    batch_size=args.batch_size)]
    return lambda texts: mlm_pseudo_log_likelihoods(model, tokenizer, texts, args.batch_size,
                                                    full_logits=impl == "mlm_pll_full")


def measure(preset: str, texts: list[str], tokenizer, args) -> list[dict]:
    """Each implementation's texts/s over `texts`, timed chunk by chunk in turn (chunk k by every
    implementation, then chunk k + 1), so that load from other processes falls on all of them alike."""
    scorers = {impl: scorer(impl, preset, tokenizer, args) for impl in args.impls}
    seconds = dict.fromkeys(args.impls, 0.0)
    for impl in args.impls:
        scorers[impl](texts[:2])  # warm-up
    for begin in range(0, len(texts), args.chunk_size):
        chunk = texts[begin:begin + args.chunk_size]
        for impl in args.impls:
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            values = scorers[impl](chunk)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            seconds[impl] += time.perf_counter() - start
            assert all(math.isfinite(v) for v in values)
    num_tokens = sum(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])
    return [{"preset": preset, "impl": impl, "texts": len(texts), "tokens": num_tokens,
             "forward_sequences": len(texts) if impl == "electric" else num_tokens,
             "seconds": round(seconds[impl], 3), "texts_per_s": round(len(texts) / seconds[impl], 2),
             "tokens_per_s": round(num_tokens / seconds[impl], 1)} for impl in args.impls]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["small"], choices=list(SIZES))
    parser.add_argument("--impls", nargs="+", default=list(IMPLEMENTATIONS), choices=list(IMPLEMENTATIONS))
    parser.add_argument("--num_texts", type=int, default=256)
    parser.add_argument("--min_tokens", type=int, default=20)
    parser.add_argument("--max_tokens", type=int, default=40)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--chunk_size", type=int, default=64, help="texts timed by each implementation in turn")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.threads = torch.get_num_threads()

    tokenizer = load_tokenizer()
    texts = corpus_sentences(tokenizer, args.num_texts, args.min_tokens, args.max_tokens, args.seed)
    results = []
    for preset in args.presets:
        for row in measure(preset, texts, tokenizer, args):
            results.append(row)
            print(row, flush=True)
    baseline = "mlm_pll" if "mlm_pll" in args.impls else args.impls[0]
    print_ratio_table(results, {"texts_per_s": "texts/s"}, baseline=baseline, group="preset")
    write_results(args.output, args, results)


if __name__ == "__main__":
    main()
