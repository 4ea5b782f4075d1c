#!/usr/bin/env bash
# Zero-shot accuracy of SmolLM2-135M-Instruct on the eight tasks of docs/RESULTS.md, with
# zotune's CPU engine, every task in its own process (BoolQ, the longest, with more threads).
# Usage: bash experiments/zero_shot/run_all.sh OUT_DIR [BOOLQ_THREADS]
# Needs build/zotune (or $ZOTUNE), the model under models/ and shared/data beside the checkout.
# ZOTUNE_EVAL_ARGS adds overrides to every eval, e.g. "engine.device=cuda engine.tf32=false" for
# the CUDA engine in exact fp32 (the eight processes then share the GPU).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: run_all.sh OUT_DIR [BOOLQ_THREADS]}
boolq_threads=${2:-2}
zotune=${ZOTUNE:-build/zotune}
mkdir -p "$out"
pids=()
for task in boolq sst2 rte cb copa wsc wic trec; do
  threads=1
  if [ "$task" = boolq ]; then threads=$boolq_threads; fi
  ( start=$(date +%s)
    OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads "$zotune" eval "experiments/zero_shot/$task.yaml" \
      ${ZOTUNE_EVAL_ARGS:-} > "$out/$task.txt" 2>&1
    echo "seconds $(( $(date +%s) - start )) threads $threads" >> "$out/$task.txt" ) &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
printf "| task | test examples | accuracy %% | seconds |\n| --- | --- | --- | --- |\n"
for task in sst2 rte cb boolq wic wsc copa trec; do
  line=$(grep -E "^test " "$out/$task.txt" || echo "test ? examples loss ? accuracy nan")
  n=$(echo "$line" | awk '{print $2}')
  acc=$(echo "$line" | awk '{for (i = 1; i <= NF; ++i) if ($i == "accuracy") print $(i + 1)}')
  secs=$(grep -E "^seconds" "$out/$task.txt" | awk '{print $2}')
  awk -v t="$task" -v n="$n" -v a="${acc:-nan}" -v s="$secs" 'BEGIN { printf "| %s | %s | %.2f | %s |\n", t, n, 100 * a, s }'
done
exit $status
