#!/usr/bin/env bash
# The GPU step benchmark: zotune's `bench` and PyTorch's reference (step_reference.py) one after
# the other on the same GPU, per shape, then the comparison tables (step_table.py).
#
#   bash experiments/benchmarks/run_step_bench.sh [ZOTUNE_BINARY]      (default: build/zotune)
#
# Settings per shape (the performance issue's): roberta-large f32 batch 64 x 128; opt-1.3b f16,
# opt-13b f16 and llama-2-7b bf16 at batch 16 x 128. Random weights from shapes/<name>/config.json.
# Environment:
#   SHAPES="opt-1.3b llama-2-7b"   a subset (default: all four)
#   OUT=folder                     where the JSON files and table.md go (default: runs/step_bench, git-ignored)
#   ITERS=10                       timed repetitions of the PyTorch reference (median)
#   PYTHON=python3                 the interpreter with torch + transformers
#   SKIP_ZOTUNE=1 / SKIP_TORCH=1   run one side only (the table marks the other as missing)
#   ZOTUNE_ARGS=... / TORCH_ARGS=... extra arguments for either side (e.g. TORCH_ARGS=--tf32)
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# A binary or OUT given by the caller is relative to the caller's folder; the defaults to the root.
zotune=${1:-${ZOTUNE:-$root/build/zotune}}
case "$zotune" in /*) ;; */*) zotune=$PWD/$zotune ;; esac
out=${OUT:-$root/runs/step_bench}
mkdir -p "$out" && out=$(cd "$out" && pwd)
shapes=${SHAPES:-"roberta-large opt-1.3b opt-13b llama-2-7b"}
iters=${ITERS:-10}
python=${PYTHON:-python3}
cd "$root" || exit 2
bench=experiments/benchmarks

if [ "${SKIP_ZOTUNE:-0}" != 1 ] && [ ! -x "$zotune" ]; then
  echo "run_step_bench.sh: no zotune binary at '$zotune' (pass it as the first argument, or SKIP_ZOTUNE=1)" >&2
  exit 2
fi

failures=0
for name in $shapes; do
  case "$name" in
    roberta-large) dtype=f32 batch=64 ;;
    opt-1.3b)      dtype=f16 batch=16 ;;
    opt-13b)       dtype=f16 batch=16 ;;
    llama-2-7b)    dtype=bf16 batch=16 ;;
    *) echo "run_step_bench.sh: unknown shape '$name' (roberta-large opt-1.3b opt-13b llama-2-7b)" >&2; exit 2 ;;
  esac
  shape=$bench/shapes/$name
  echo "== $name: $dtype, batch $batch x 128"
  if [ "${SKIP_ZOTUNE:-0}" != 1 ]; then
    # shellcheck disable=SC2086  # ZOTUNE_ARGS is a word list on purpose
    if ! "$zotune" bench "$shape" --device cuda --random --dtype "$dtype" --batch "$batch" --seq 128 \
        --json "$out/zotune_$name.json" ${ZOTUNE_ARGS:-}; then
      echo "run_step_bench.sh: zotune bench failed on $name" >&2
      failures=$((failures + 1))
    fi
  fi
  if [ "${SKIP_TORCH:-0}" != 1 ]; then
    # shellcheck disable=SC2086
    if ! "$python" "$bench/step_reference.py" --shape "$shape" --dtype "$dtype" --batch "$batch" --seq 128 \
        --iters "$iters" --json "$out/pytorch_$name.json" ${TORCH_ARGS:-}; then
      echo "run_step_bench.sh: step_reference.py failed on $name" >&2
      failures=$((failures + 1))
    fi
  fi
done

# shellcheck disable=SC2086
"$python" "$bench/step_table.py" "$out" $shapes | tee "$out/table.md"
echo "results: $out/ (zotune_<shape>.json, pytorch_<shape>.json, table.md)"
[ "$failures" -eq 0 ]
