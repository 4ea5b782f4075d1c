#!/usr/bin/env bash
# The query-parallel scaling benchmark of issue 7: zotune_scaling_bench under mpirun at P = 1, 2,
# 4, 8 ranks (one per GPU; the counts above the GPUs there are skipped), with the MPI and the
# NCCL all-reduce, BSZO (k + 1 = 8 and 16 queries per step) and AdaZeta (fixed Q = 8 and 16), on
# the OPT-1.3B and Llama-2-7B shapes with random weights. Then the rank-count invariance check
# (every P of one benchmark must give the same loss hash and final parameter checksum: it fails
# loudly, exit 1, if not), and the table and plot (scaling_table.py).
#
#   bash experiments/benchmarks/run_scaling_bench.sh [BENCH_BINARY]   (default: build/zotune_scaling_bench)
#
# Environment:
#   SHAPES="opt-1.3b llama-2-7b"  names under shapes/, or model directories (config.json; --random)
#   ENGINE=cuda|cpu               cpu: the smoke path on a tiny random model (default shape
#                                 tests/fixtures/train/tiny_lm, ranks 1 2 3, mpi, f32, batch 4 x 16)
#   RANKS="1 2 4 8"               rank counts; on cuda those above GPUS are skipped
#   GPUS=N                        GPUs on this machine (default: nvidia-smi -L)
#   BACKENDS="mpi nccl"           the step's all-reduce (cpu: mpi only)
#   RUNS="bszo:8 bszo:16 adazeta:8 adazeta:16"   optimizer:queries per step
#   SHARED_GPU=1                  also P = 2 ranks on one GPU (--share-gpus, MPI backend): marked
#                                 "shared GPU: invariance only, not scaling" (default 1 when GPUS=1)
#   OUT=folder                    JSON, logs, table.md, scaling.png (default: runs/scaling_bench, git-ignored)
#   ITERS=5 WARMUP=2              timed and untimed steps per run
#   BATCH=16 SEQ=128 DTYPE=...    minibatch shape; dtype per shape (opt-1.3b f16, llama-2-7b bf16, else f32)
#   MPIRUN=mpirun PYTHON=python3  launcher; interpreter for scaling_table.py (pandas + matplotlib)
#   BENCH_ARGS=...                extra arguments for every run (e.g. "--no-graphs")
#   STRICT=1                      also fail when the issue's targets are missed (scaling_table.py --strict)
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# A binary or OUT given by the caller is relative to the caller's folder; the defaults to the root.
bench_bin=${1:-${BENCH:-$root/build/zotune_scaling_bench}}
case "$bench_bin" in /*) ;; */*) bench_bin=$PWD/$bench_bin ;; esac
out=${OUT:-$root/runs/scaling_bench}
mkdir -p "$out" && out=$(cd "$out" && pwd)
cd "$root" || exit 2
bench=experiments/benchmarks

engine=${ENGINE:-cuda}
case "$engine" in
  cuda)
    shapes=${SHAPES:-"opt-1.3b llama-2-7b"}
    ranks=${RANKS:-"1 2 4 8"}
    backends=${BACKENDS:-"mpi nccl"}
    runs=${RUNS:-"bszo:8 bszo:16 adazeta:8 adazeta:16"}
    batch=${BATCH:-16} seq=${SEQ:-128} iters=${ITERS:-5} warmup=${WARMUP:-2}
    if [ -n "${GPUS:-}" ]; then
      gpus=$GPUS
    elif command -v nvidia-smi > /dev/null; then
      gpus=$(nvidia-smi -L | grep -c '^GPU ')
    else
      echo "run_scaling_bench.sh: ENGINE=cuda but no nvidia-smi to count the GPUs (set GPUS=N, or ENGINE=cpu)" >&2
      exit 2
    fi
    [ "$gpus" -ge 1 ] || { echo "run_scaling_bench.sh: no GPU found (nvidia-smi -L lists none)" >&2; exit 2; }
    shared=${SHARED_GPU:-$([ "$gpus" -eq 1 ] && echo 1 || echo 0)}
    ;;
  cpu)
    shapes=${SHAPES:-"$root/tests/fixtures/train/tiny_lm"}
    ranks=${RANKS:-"1 2 3"}
    backends=${BACKENDS:-mpi}
    runs=${RUNS:-"bszo:4 adazeta:4"}
    batch=${BATCH:-4} seq=${SEQ:-16} iters=${ITERS:-3} warmup=${WARMUP:-1}
    gpus=0 shared=0
    # One thread per rank: P ranks share the cores, and every P runs the same kernels.
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
    ;;
  *) echo "run_scaling_bench.sh: ENGINE must be cuda or cpu, not '$engine'" >&2; exit 2 ;;
esac
export NCCL_NVLS_ENABLE=0  # NVLink multicast (NVLS) off: the lent machines do not support it

if [ ! -x "$bench_bin" ]; then
  echo "run_scaling_bench.sh: no benchmark binary at '$bench_bin' (build it: ninja -C build zotune_scaling_bench)" >&2
  exit 2
fi
mpirun=${MPIRUN:-mpirun}
command -v "$mpirun" > /dev/null || { echo "run_scaling_bench.sh: no '$mpirun' (MPIRUN=...)" >&2; exit 2; }
mpi_flags=()
if "$mpirun" --version 2>&1 | grep -q -e 'Open MPI' -e 'OpenRTE'; then
  mpi_flags=(--allow-run-as-root --oversubscribe)
fi

# The interpreter for the tables: PYTHON, else the first python3 with pandas and matplotlib; the
# invariance check itself needs the standard library only.
python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c "import pandas, matplotlib" 2> /dev/null; then python=$candidate; break; fi
  done
fi
check_python=${python:-python3}

failures=0
# run_one SHAPE_DIR NAME OPTIMIZER QUERIES BACKEND P SHARED(0|1)
run_one() {
  local dir=$1 name=$2 optimizer=$3 queries=$4 backend=$5 p=$6 shared_gpu=$7
  local dtype=${DTYPE:-}
  if [ -z "$dtype" ]; then
    case "$name" in
      opt-1.3b | opt-13b) dtype=f16 ;;
      llama-2-7b) dtype=bf16 ;;
      *) dtype=f32 ;;
    esac
  fi
  local stem="scaling_${name}_${optimizer}_q${queries}_${backend}_p${p}"
  local extra=()
  if [ "$shared_gpu" = 1 ]; then
    stem+="_shared"
    extra+=(--share-gpus --label "shared GPU: invariance only, not scaling")
  elif [ "$p" -gt 1 ] && [ -f "$out/scaling_${name}_${optimizer}_q${queries}_${backend}_p1.json" ]; then
    extra+=(--baseline-json "$out/scaling_${name}_${optimizer}_q${queries}_${backend}_p1.json")
  fi
  local tag=""
  [ "$shared_gpu" = 1 ] && tag=" (shared GPU: invariance only, not scaling)"
  echo "== $name $optimizer q=$queries backend=$backend P=$p$tag"
  rm -f "$out/$stem.json"
  # shellcheck disable=SC2086  # BENCH_ARGS is a word list on purpose
  if ! "$mpirun" "${mpi_flags[@]}" -np "$p" "$bench_bin" "$dir" --random --device "$engine" --dtype "$dtype" \
      --optimizer "$optimizer" --queries "$queries" --backend "$backend" --batch "$batch" --seq "$seq" \
      --warmup "$warmup" --iters "$iters" --json "$out/$stem.json" "${extra[@]}" ${BENCH_ARGS:-} \
      2>&1 | tee "$out/$stem.log"; then
    echo "run_scaling_bench.sh: FAILED: $stem (log: $out/$stem.log)" >&2
    failures=$((failures + 1))
  fi
}

for shape in $shapes; do
  case "$shape" in
    */*) dir=$shape; name=$(basename "$shape") ;;
    *) dir=$bench/shapes/$shape; name=$shape ;;
  esac
  [ -f "$dir/config.json" ] || { echo "run_scaling_bench.sh: no $dir/config.json (shape '$shape')" >&2; exit 2; }
  for spec in $runs; do
    optimizer=${spec%%:*} queries=${spec#*:}
    for backend in $backends; do
      for p in $ranks; do
        if [ "$engine" = cuda ] && [ "$p" -gt "$gpus" ]; then
          echo "-- skipping P=$p: $gpus GPU(s) here"
          continue
        fi
        run_one "$dir" "$name" "$optimizer" "$queries" "$backend" "$p" 0
      done
    done
    # Two ranks on one GPU: NCCL refuses it, so MPI only. Checks invariance, measures nothing.
    if [ "$shared" = 1 ]; then run_one "$dir" "$name" "$optimizer" "$queries" mpi 2 1; fi
  done
done

echo
# scaling_table.py exits 3 when two runs of one benchmark differ (its table mode checks first).
invariance_rc=0
if [ -n "$python" ]; then
  strict=()
  [ "${STRICT:-0}" = 1 ] && strict=(--strict)
  "$python" "$bench/scaling_table.py" "$out" --plot "$out/scaling.png" "${strict[@]}" | tee "$out/table.md"
  table_rc=${PIPESTATUS[0]}
  if [ "$table_rc" -eq 3 ]; then
    invariance_rc=3
  elif [ "$table_rc" -ne 0 ]; then
    echo "run_scaling_bench.sh: FAILED: scaling_table.py exited $table_rc" >&2
    failures=$((failures + 1))
  fi
else
  echo "run_scaling_bench.sh: no python3 with pandas and matplotlib: no table or plot (PYTHON=...)" >&2
  "$check_python" "$bench/scaling_table.py" "$out" --check-invariance
  invariance_rc=$?
fi
if [ "$invariance_rc" -ne 0 ]; then
  echo "run_scaling_bench.sh: RANK-COUNT INVARIANCE FAILED: runs of one benchmark differ across P (loss hash or" \
    "final checksum; see the lines above and $out)" >&2
fi
echo "results: $out/ (scaling_*.json, scaling_*.log, table.md, scaling.png)"
[ "$failures" -eq 0 ] && [ "$invariance_rc" -eq 0 ]
