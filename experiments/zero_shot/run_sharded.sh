#!/usr/bin/env bash
# One task's zero-shot test accuracy with its test split shared by N single-threaded zotune
# processes (`zotune eval --shard I/N`), for a split too long for one process (BoolQ's
# 1000 passages); prints the combined accuracy, weighted by each shard's example count.
# Usage: bash experiments/zero_shot/run_sharded.sh TASK N OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
task=${1:?usage: run_sharded.sh TASK N OUT_DIR}
n=${2:?}
out=${3:?}
zotune=${ZOTUNE:-build/zotune}
mkdir -p "$out"
start=$(date +%s)
for ((i = 0; i < n; ++i)); do
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$zotune" eval "experiments/zero_shot/$task.yaml" --splits test \
    --shard "$i/$n" > "$out/$task.$i.txt" 2>&1 &
done
wait
cat "$out/$task".*.txt | grep -E "^test " | awk -v t="$task" -v s="$(( $(date +%s) - start ))" '
  { for (i = 1; i <= NF; ++i) if ($i == "accuracy") { correct += $2 * $(i + 1); total += $2 } }
  END { printf "%s: accuracy %.2f%% over %d test examples, %d s\n", t, 100 * correct / total, total, s }'
