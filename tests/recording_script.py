"""run_pretraining.py under `accelerate launch`, each process recording the examples of every step it trains on
(a hash per sequence) in <record_dir>/rank<N>.jsonl; used by test_run_pretraining.py (streaming and elastic resume)."""

import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import run_pretraining  # noqa: E402
from electra_hf import ElectraTrainer  # noqa: E402
from electra_hf.cli import end_process_group  # noqa: E402


def record_steps(record_dir: str) -> None:
    compute_loss = ElectraTrainer.compute_loss

    def recording(self, model, inputs, *args, **kwargs):
        if model.training:
            rows = [hashlib.md5(row[mask.bool()].numpy().tobytes()).hexdigest()[:12]
                    for row, mask in zip(inputs["input_ids"].cpu(), inputs["attention_mask"].cpu())]
            with open(os.path.join(record_dir, f"rank{self.args.process_index}.jsonl"), "a") as f:
                f.write(json.dumps({"step": self.state.global_step + 1, "rows": rows}) + "\n")
        return compute_loss(self, model, inputs, *args, **kwargs)

    ElectraTrainer.compute_loss = recording


if __name__ == "__main__":
    record_steps(sys.argv[1])
    run_pretraining.main(sys.argv[2:])
    end_process_group()  # as the command does
