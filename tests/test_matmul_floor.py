"""benchmarks/matmul_floor.py counts the products of the FLOP model, and its variants of a product agree."""

import pytest
import torch

from benchmarks.matmul_floor import products_of_step
from benchmarks.pretrain_throughput import benchmark_config, train_flops_per_token
from electra_hf.onednn_linear import AVAILABLE


@pytest.mark.skipif(not AVAILABLE, reason="the oneDNN variants need torch's oneDNN on an x86 CPU")
@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_products_are_the_flop_models_and_variants_compute_the_same(preset):
    config = benchmark_config(preset, "electra_hf", 32)
    products = products_of_step(config, batch_size=2, seq_len=32)
    assert sum(count * flops for _, count, flops, _ in products) == pytest.approx(
        train_flops_per_token(config, 32) * 2 * 32)
    for name, _, _, variants in products:
        first = variants[0]()
        for other in variants[1:]:
            torch.testing.assert_close(other(), first, rtol=1e-4, atol=1e-3, msg=name)
