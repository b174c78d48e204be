"""The TF checkpoint reader on damaged bundles (random bit flips and truncations of a real one): it reads the
original tensors exactly or stops with CheckpointError, never another exception, a hang or a huge allocation."""

import random
import time

import torch

from electra_hf.conversion.tf_bundle import CheckpointError, TFCheckpointReader, write_tf_checkpoint


def test_damaged_bundles_give_our_error_or_the_right_tensors(tmp_path):
    torch.manual_seed(0)
    tensors = {"electra/embeddings/word_embeddings": torch.randn(50, 8),
               "electra/encoder/layer_0/attention/self/query/kernel": torch.randn(8, 8),
               "global_step": torch.tensor(7, dtype=torch.int64), "half": torch.randn(3, 4).to(torch.bfloat16),
               **{f"many/layer_{i}/bias": torch.full((2,), float(i)) for i in range(40)}}  # several index blocks
    write_tf_checkpoint(str(tmp_path / "model.ckpt-7"), tensors.items())
    originals = {suffix: (tmp_path / f"model.ckpt-7{suffix}").read_bytes() for suffix in (".index",
                                                                                          ".data-00000-of-00001")}
    rng, outcomes, started = random.Random(0), {"error": 0, "intact": 0}, time.time()
    for trial in range(1000):
        damaged = tmp_path / f"t{trial}"
        damaged.mkdir()
        target = rng.choice(list(originals))
        for suffix, content in originals.items():
            content = bytearray(content)
            if suffix == target:
                if rng.random() < 0.5:
                    content = content[:rng.randrange(len(content))]
                else:
                    for _ in range(rng.choice([1, 1, 2, 8])):
                        content[rng.randrange(len(content))] ^= 1 << rng.randrange(8)
            (damaged / f"model.ckpt-7{suffix}").write_bytes(bytes(content))
        try:
            reader = TFCheckpointReader(str(damaged / "model.ckpt-7"))
            read = {name: reader.get_tensor(name) for name in reader.entries}
        except CheckpointError:
            outcomes["error"] += 1
            continue
        assert set(read) == set(tensors), f"trial {trial}: other names read without an error"
        for name, tensor in tensors.items():
            assert read[name].dtype == tensor.dtype and torch.equal(read[name], tensor), f"trial {trial}: {name}"
        outcomes["intact"] += 1
    assert outcomes["error"] > 700 and time.time() - started < 120, outcomes
