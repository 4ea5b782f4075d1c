#!/usr/bin/env bash
# On the GPU machine: issue 6's comparison. AdaZeta (tensorized adapters, adaptive queries) and
# MeZO-LoRA on SmolLM2-135M and SST-2 at the same learning rate, both on the CUDA engine
# (experiments/runs/smollm2_sst2_{adazeta,mezo_lora}.yaml with engine.device: cuda), then
# analysis/compare_runs.py: smoothed loss curves, steps and forward passes to the threshold,
# test accuracy, a plot and a Markdown table. Logs, plot and table go to $OUT.
# Usage: OUT=dir MODEL=file.gguf DATA=dir bash scripts/device_smollm2_sst2.sh
#   (after scripts/device_build.sh built build-dev/zotune; THRESHOLD, WINDOW, STEPS optional;
#   OVERRIDES: more key=value overrides for both runs, e.g. the batched rerun of docs/RESULTS.md:
#   OVERRIDES="engine.probe_batch=auto data.sampler=independent eval.select=metric")
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/smollm2_sst2}
model=${MODEL:-models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf}
data=${DATA:-../shared/data}
mkdir -p "$out"
export LD_LIBRARY_PATH=/tmp/ob/usr/lib/x86_64-linux-gnu:/tmp/ob/usr/lib/x86_64-linux-gnu/openblas-pthread:${LD_LIBRARY_PATH:-}
status=0
for run in adazeta mezo_lora; do
  start=$(date +%s)
  build-dev/zotune train "experiments/runs/smollm2_sst2_$run.yaml" model.path="$model" task.data_dir="$data" \
    engine.device=cuda ${STEPS:+run.steps=$STEPS} ${OVERRIDES:-} --overwrite --output "$out/$run.h5" > "$out/$run.log" 2>&1
  rc=$?
  echo "$run: rc=$rc, $(( $(date +%s) - start )) s"
  tail -4 "$out/$run.log"
  [ $rc -eq 0 ] || status=1
done
python3 analysis/compare_runs.py "$out/adazeta.h5" "$out/mezo_lora.h5" --labels AdaZeta MeZO-LoRA \
  --threshold "${THRESHOLD:-0.6}" --window "${WINDOW:-50}" --plot "$out/adazeta_vs_mezo_lora.png" \
  --markdown "$out/comparison.md" || status=1
cat "$out/comparison.md" 2>/dev/null
exit $status
