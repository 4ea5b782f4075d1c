#!/usr/bin/env bash
# Issues 18 and 19 on the GPU machine, second of two chained calls (carry .carry/p2 and
# .carry/data.tar.xz; after scripts/device_batched_probes_check.sh built build-dev and left
# SmolLM2's first part in /tmp): issue 6's AdaZeta / MeZO-LoRA comparison on SmolLM2-135M and
# SST-2 rerun with engine.probe_batch: auto (under the settings docs/RESULTS.md's table was
# made with: independent minibatches, dev-accuracy selection), the parameter-efficient step
# benchmark beside PyTorch, and the stateful baselines' full-parameter step times.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
mkdir -p models/smollm2-135m /tmp/data
cat /tmp/part1 .carry/p2/part2 > models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf
md5sum models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf
tar -xJf .carry/data.tar.xz -C /tmp/data
export LD_LIBRARY_PATH=/tmp/ob/usr/lib/x86_64-linux-gnu:/tmp/ob/usr/lib/x86_64-linux-gnu/openblas-pthread
mkdir -p "$OUT/sst2"
for run in adazeta mezo_lora; do
  t0=$(date +%s)
  build-dev/zotune train "experiments/runs/smollm2_sst2_$run.yaml" task.data_dir=/tmp/data/data engine.device=cuda \
    engine.probe_batch=auto data.sampler=independent eval.select=metric --overwrite --output "$OUT/sst2/$run.h5" \
    > "$OUT/sst2/$run.log" 2>&1
  echo "$run: rc=$?, $(( $(date +%s) - t0 )) s"; tail -3 "$OUT/sst2/$run.log"
done
python3 analysis/compare_runs.py "$OUT/sst2/adazeta.h5" "$OUT/sst2/mezo_lora.h5" --labels AdaZeta MeZO-LoRA \
  --threshold 0.6 --window 50 --plot "$OUT/sst2/adazeta_vs_mezo_lora.png" --markdown "$OUT/sst2/comparison.md"
cat "$OUT/sst2/comparison.md"
echo "sst2 done: $(( $(date +%s) - start )) s"
for shape in ${BASELINE_SHAPES:-smollm2-135m:f32}; do  # the stateful baselines' full-parameter steps
  timeout 120 build-dev/zotune bench "experiments/benchmarks/shapes/${shape%%:*}" --random --device cuda \
    --dtype "${shape##*:}" --batch 16 --seq 64 --iters 5 --baselines --json "$OUT/baselines_${shape%%:*}.json" 2>&1 | grep -E "step ms|forward|peak"
done
echo "baselines done: $(( $(date +%s) - start )) s"
OUT=$OUT/peft SETTINGS=${SETTINGS:-"llama-2-7b-q15"} ITERS=${ITERS:-3} WARMUP=${WARMUP:-1} \
  bash experiments/benchmarks/run_peft_step_bench.sh build-dev/zotune 2>&1 | grep -v "^\s*$" | tail -70
echo "total: $(( $(date +%s) - start )) s"
