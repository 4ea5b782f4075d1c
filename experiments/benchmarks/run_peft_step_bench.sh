#!/usr/bin/env bash
# The parameter-efficient step benchmark (issue 18 item 6): zotune's `bench --peft` (AdaZeta with
# tensorized adapters and MeZO-LoRA, each with the probes one per forward and batched) and
# PyTorch's reference (peft_step_reference.py: the official code's arithmetic, and a batched
# "fast" version) one after the other on the same GPU, per setting, then the tables
# (peft_step_table.py).
#
#   bash experiments/benchmarks/run_peft_step_bench.sh [ZOTUNE_BINARY]      (default: build/zotune)
#
# Settings:
#   smollm2          SmolLM2-135M real weights (the GGUF file; PyTorch dequantizes it to f32 through
#                    transformers' gguf_file= loader), f32, batch 16 x 64, AdaZeta Q 15
#   llama-2-7b-q8    random weights of shapes/llama-2-7b/config.json, bf16, batch 16 x 128, Q 8
#   llama-2-7b-q15   the same at Q 15
#   smollm2-shape    random weights of shapes/smollm2-135m (SmolLM2-135M's config), f32, batch 16 x 64,
#                    Q 15: the smollm2 setting's timing without the weights file
#   smollm2-bf16     the same shapes with a bf16 backbone (twice the tensor-core rate of TF32)
#   opt-13b-q8       random weights of shapes/opt-13b, bf16, batch 16 x 128, Q 8
#   opt-13b-q15      the same at Q 15
# MeZO-LoRA (q_proj and v_proj, r 8, alpha 16) is one query, two probes, in every setting.
# zotune runs four times per setting: --peft adapter --queries Q and --peft lora --queries 1, each
# with --probe-batch 1 (sequential: one probe per forward) and with every probe of the step in one
# forward (batched: 2Q, and 2 for LoRA).
# Environment:
#   SETTINGS="smollm2 llama-2-7b-q8"  a subset (default: all three)
#   SMOLLM2=file.gguf                 SmolLM2's weights (default: models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf)
#   OUT=folder                        where the JSON files and table.md go (default: runs/peft_step_bench, git-ignored)
#   ITERS=5 WARMUP=2                  timed and untimed repetitions of each step (median)
#   PROBE_BATCH=N                     zotune batched: probe groups per forward (default: all of a step)
#   GROUPS_PER_FORWARD=N              PyTorch fast: probe groups per forward (default 0: all; halved on OOM)
#   PYTHON=python3                    the interpreter with torch + transformers (+ the gguf package for SmolLM2)
#   SKIP_ZOTUNE=1 / SKIP_TORCH=1      run one side only (the table marks the other as missing)
#   ZOTUNE_ARGS=... / TORCH_ARGS=...  extra arguments for either side (e.g. TORCH_ARGS="--variants fast")
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# A binary, model or OUT given by the caller is relative to the caller's folder; the defaults to the root.
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
zotune=${1:-${ZOTUNE:-$root/build/zotune}}
case "$zotune" in /*) ;; */*) zotune=$PWD/$zotune ;; esac
smollm2=$(absolute "${SMOLLM2:-$root/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf}")
out=${OUT:-$root/runs/peft_step_bench}
mkdir -p "$out" && out=$(cd "$out" && pwd)
settings=${SETTINGS:-"smollm2 llama-2-7b-q8 llama-2-7b-q15"}
iters=${ITERS:-5}
warmup=${WARMUP:-2}
python=${PYTHON:-python3}
cd "$root" || exit 2
bench=experiments/benchmarks

if [ "${SKIP_ZOTUNE:-0}" != 1 ] && [ ! -x "$zotune" ]; then
  echo "run_peft_step_bench.sh: no zotune binary at '$zotune' (pass it as the first argument, or SKIP_ZOTUNE=1)" >&2
  exit 2
fi

failures=0
# zotune_run SETTING PEFT MODE QUERIES PROBE_BATCH: one zotune bench call; a failure leaves its JSON
# missing, which the table reports as such.
zotune_run() {
  local file="$out/zotune_$1_$2_$3.json"
  rm -f "$file"
  # shellcheck disable=SC2086  # model_args and ZOTUNE_ARGS are word lists on purpose
  if ! "$zotune" bench $model_args --device cuda --dtype "$dtype" --batch "$batch" --seq "$seq" --iters "$iters" \
      --peft "$2" --queries "$4" --probe-batch "$5" --json "$file" ${ZOTUNE_ARGS:-}; then
    echo "run_peft_step_bench.sh: zotune bench --peft $2 --probe-batch $5 failed on $1" >&2
    failures=$((failures + 1))
  fi
}

for setting in $settings; do
  case "$setting" in
    smollm2)        model_args=$smollm2 torch_model=(--model "$smollm2") dtype=f32 batch=16 seq=64 queries=15 ;;
    llama-2-7b-q8)  model_args="$bench/shapes/llama-2-7b --random" torch_model=(--model "$bench/shapes/llama-2-7b" --random)
                    dtype=bf16 batch=16 seq=128 queries=8 ;;
    llama-2-7b-q15) model_args="$bench/shapes/llama-2-7b --random" torch_model=(--model "$bench/shapes/llama-2-7b" --random)
                    dtype=bf16 batch=16 seq=128 queries=15 ;;
    smollm2-shape)  model_args="$bench/shapes/smollm2-135m --random" torch_model=(--model "$bench/shapes/smollm2-135m" --random)
                    dtype=f32 batch=16 seq=64 queries=15 ;;
    smollm2-bf16)   model_args="$bench/shapes/smollm2-135m --random" torch_model=(--model "$bench/shapes/smollm2-135m" --random)
                    dtype=bf16 batch=16 seq=64 queries=15 ;;
    opt-13b-q8)     model_args="$bench/shapes/opt-13b --random" torch_model=(--model "$bench/shapes/opt-13b" --random)
                    dtype=bf16 batch=16 seq=128 queries=8 ;;
    opt-13b-q15)    model_args="$bench/shapes/opt-13b --random" torch_model=(--model "$bench/shapes/opt-13b" --random)
                    dtype=bf16 batch=16 seq=128 queries=15 ;;
    *) echo "run_peft_step_bench.sh: unknown setting '$setting' (smollm2 smollm2-shape smollm2-bf16 llama-2-7b-q8 llama-2-7b-q15 opt-13b-q8 opt-13b-q15)" >&2; exit 2 ;;
  esac
  if [ "$setting" = smollm2 ] && [ ! -f "$smollm2" ]; then
    echo "run_peft_step_bench.sh: no SmolLM2 weights at '$smollm2' (set SMOLLM2=file.gguf)" >&2
    failures=$((failures + 1))
    continue
  fi
  echo "== $setting: $dtype, batch $batch x $seq, AdaZeta Q $queries"
  if [ "${SKIP_ZOTUNE:-0}" != 1 ]; then
    zotune_run "$setting" adapter sequential "$queries" 1
    zotune_run "$setting" adapter batched "$queries" "${PROBE_BATCH:-$((2 * queries))}"
    zotune_run "$setting" lora sequential 1 1
    zotune_run "$setting" lora batched 1 "$(( ${PROBE_BATCH:-2} < 2 ? ${PROBE_BATCH:-2} : 2 ))"
  fi
  if [ "${SKIP_TORCH:-0}" != 1 ]; then
    file="$out/pytorch_$setting.json"
    rm -f "$file"
    # shellcheck disable=SC2086  # TORCH_ARGS is a word list on purpose
    "$python" "$bench/peft_step_reference.py" "${torch_model[@]}" --dtype "$dtype" --batch "$batch" --seq "$seq" \
        --queries "$queries" --iters "$iters" --warmup "$warmup" --groups-per-forward "${GROUPS_PER_FORWARD:-0}" \
        --json "$file" ${TORCH_ARGS:-}
    rc=$?
    # 3: the timings were written but the batched losses failed their check (the table says so).
    if [ "$rc" -ne 0 ]; then
      echo "run_peft_step_bench.sh: peft_step_reference.py failed on $setting (exit $rc)" >&2
      failures=$((failures + 1))
    fi
  fi
done

# shellcheck disable=SC2086
"$python" "$bench/peft_step_table.py" "$out" $settings | tee "$out/table.md"
echo "results: $out/ (zotune_<setting>_<adapter|lora>_<sequential|batched>.json, pytorch_<setting>.json, table.md)"
[ "$failures" -eq 0 ]
