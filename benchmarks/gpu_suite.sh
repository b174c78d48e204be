#!/usr/bin/env bash
# Every GPU check of the speed issue in one run on a bare CUDA machine (one H100/H200), about 6 minutes:
#
#     bash benchmarks/gpu_suite.sh OUT_DIR
#
# Sets up .venv (scripts/env.sh installs torch's CUDA build where nvidia-smi exists, and the package), then writes to
# OUT_DIR: cuda_tests.txt (tests/test_cuda.py), and one JSON per benchmark with its log:
#   pretrain_small_b128_eager.json    ELECTRA-Small, B128 x 128, bf16: electra_hf (and its plain path), lucidrains,
#                                     plain transformers, in one run
#   pretrain_small_b128_compile.json  electra_hf under torch.compile (default, and reduce-overhead: CUDA graphs)
#   pretrain_base_b32_512.json        ELECTRA-Base at 512 tokens (MFU against the H100/H200 bf16 peak)
#   glue_small.json                   fine-tuning steps/s against plain transformers' Trainer
#   sharded_<config>.log              the scale-out issue's sharded runs (configs/accelerate/: FSDP full-shard,
#                                     DeepSpeed ZeRO-2 and ZeRO-3) on one GPU: 4 steps, a checkpoint, a resume to 6,
#                                     the final halves loaded by the stock classes
# Each step has its own time limit, so a hang or a failure costs that step only; SMOKE=1 runs every step for
# one or two steps on any device (a check of the script itself, e.g. on a CPU).
set -uo pipefail
OUT="${1:?usage: bash benchmarks/gpu_suite.sh OUT_DIR}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
source "$(dirname "$0")/../scripts/env.sh" "test"
set +e  # env.sh sets -e: here a failing step must not end the suite
cd "$ROOT"
python -m pip install -q --no-deps electra-pytorch==0.1.2 || echo "lucidrains' electra-pytorch not installed"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python -c "import torch; print(torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')" \
    | tee "$OUT/device.txt"
# bf16 dense peak, TFLOP/s, for MFU: H100/H200 SXM 989
PEAK=$(python -c "import torch; n = torch.cuda.get_device_name() if torch.cuda.is_available() else ''; \
print(989 if ('H100' in n or 'H200' in n) else 0)")
PEAK_ARG=(); [ "$PEAK" != 0 ] && PEAK_ARG=(--peak_tflops "$PEAK")

if [ "${SMOKE:-0}" = 1 ]; then  # fp32, tiny sizes: a CPU without bf16 units emulates bf16 slowly
    STEPS=(--steps 1 --warmup 1); SMALL=tiny; BASE=tiny; BATCH=8; BASE_LEN=128; GLUE_STEPS=2; BF16=()
else STEPS=(--steps 30 --warmup 10); SMALL=small; BASE=base; BATCH=128; BASE_LEN=512; GLUE_STEPS=60; BF16=(--bf16); fi

run() {  # run NAME LIMIT_SECONDS COMMAND...: the log in OUT/NAME.log, a line of status on stdout
    local name="$1" limit="$2"; shift 2
    local start=$SECONDS
    timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
    echo "$name: exit $? in $((SECONDS - start)) s"
}

run cuda_tests 120 python -m pytest -q tests/test_cuda.py
cp "$OUT/cuda_tests.log" "$OUT/cuda_tests.txt"
run pretrain_small_b128_eager 150 python benchmarks/pretrain_throughput.py --presets "$SMALL" --batch_size "$BATCH" \
    "${BF16[@]}" "${STEPS[@]}" "${PEAK_ARG[@]}" --impls electra_hf electra_hf_unfused lucidrains naive_hf \
    --output "$OUT/pretrain_small_b128_eager.json"
run pretrain_small_b128_compile 240 bash -c "python benchmarks/pretrain_throughput.py --presets $SMALL \
    --batch_size $BATCH ${BF16[*]} ${STEPS[*]} ${PEAK_ARG[*]} --impls electra_hf --compile \
    --output $OUT/pretrain_small_b128_compile.json && python benchmarks/pretrain_throughput.py --presets $SMALL \
    --batch_size $BATCH ${BF16[*]} ${STEPS[*]} ${PEAK_ARG[*]} --impls electra_hf --compile reduce-overhead \
    --output $OUT/pretrain_small_b128_cudagraphs.json"
run pretrain_base_b32_512 90 python benchmarks/pretrain_throughput.py --presets "$BASE" --batch_size 32 \
    --seq_len "$BASE_LEN" "${BF16[@]}" "${STEPS[@]}" "${PEAK_ARG[@]}" --impls electra_hf naive_hf \
    --output "$OUT/pretrain_base_b32_512.json"
run glue_small 90 python benchmarks/glue_finetune.py --steps "$GLUE_STEPS" --eval_examples 512 "${BF16[@]}" \
    --output "$OUT/glue_small.json"
python -m pip install -q deepspeed || echo "deepspeed not installed"
for config in fsdp_full_shard deepspeed_zero2 deepspeed_zero3; do
    launch="python -m accelerate.commands.launch --config_file configs/accelerate/$config.yaml --num_processes 1"
    pre="run_pretraining.py --preset tiny --output_dir $OUT/sharded_$config --save_steps 2 --eval_size 0 --report_to none"
    run "sharded_$config" 240 bash -c "$launch $pre --max_steps 4 && $launch $pre --max_steps 6 && python -c \"
from transformers import ElectraForMaskedLM, ElectraForPreTraining
import json; print(json.load(open('$OUT/sharded_$config/trainer_state.json'))['global_step'])
ElectraForPreTraining.from_pretrained('$OUT/sharded_$config/discriminator')
ElectraForMaskedLM.from_pretrained('$OUT/sharded_$config/generator'); print('halves load')\""
done
ls -l "$OUT"
