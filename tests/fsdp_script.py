"""The pair under torch's FSDP (fully_shard, gloo, CPU), in each of 2 processes launched by torchrun; used by
test_trainer.py. accelerate's FSDP plugin needs a GPU, so this drives torch directly: each transformer layer and the
pair are wrapped (the shared embeddings and the tied output layer in the root unit, as configs/accelerate/
fsdp_full_shard.yaml wraps them), two steps train, and rank 0 saves the gathered full state dict through
ElectraPretrainingModel.save_pretrained."""

import json
import os
import sys

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
from torch.distributed.fsdp import fully_shard

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from electra_hf import ElectraPretrainingConfig, ElectraPretrainingModel  # noqa: E402
from electra_hf.onednn_linear import use_onednn_linear  # noqa: E402


def main(output_dir: str, gdes: bool) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    config = ElectraPretrainingConfig.from_preset("tiny", vocab_size=300, gradient_disentangled_embeddings=gdes,
                                                  model_hparam_overrides={"num_hidden_layers": 2})
    model = ElectraPretrainingModel(config)
    use_onednn_linear(model)  # as ElectraTrainer does before accelerate wraps the model
    for half in (model.generator, model.discriminator):
        for layer in half.electra.encoder.layer:
            fully_shard(layer)
    fully_shard(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(2):
        torch.manual_seed(10 * step + rank)  # each rank its own batch
        model(torch.randint(5, 300, (2, 16))).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    gen, disc = model.generator, model.discriminator
    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank == 0:
        model.save_pretrained(output_dir, state_dict=state)
        with open(os.path.join(output_dir, "report.json"), "w") as f:
            json.dump({"shared": gen.electra.embeddings is disc.electra.embeddings,
                       "tied": gen.generator_lm_head.weight is gen.electra.embeddings.word_embeddings.weight},
                      f)
        torch.save(state, os.path.join(output_dir, "state.pt"))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] == "gdes")
    sys.stdout.flush()
    sys.stderr.flush()
    # no interpreter teardown: gloo's worker threads can still hold FSDP's tensors, whose release then aborts the
    # process (SIGABRT, "terminate called without an active exception"; seen once in ten runs on a busy machine)
    os._exit(0)
