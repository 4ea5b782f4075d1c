#!/usr/bin/env bash
# Does packing several runs onto one GPU raise throughput? N copies of the same short MeZO run
# (short_mezo_run.sh's, seeds 1..N) at once, for each N of $COUNTS, as separate processes
# (how scripts/device_paper_grid.sh packs a grid) and, with MODES containing mps, under the CUDA
# MPS daemon, which lets the processes' kernels run side by side instead of taking turns.
# Prints per (mode, N): each run's median step ms, the steps per second of all N together
# (the sum of 1000 / median), that throughput against N = 1 in the same mode, the wall time of
# the batch (model loading included), and under MPS the most client processes the daemon listed
# while they ran (0: the runs did not go through MPS, and the row measures time slicing).
#   bash experiments/benchmarks/run_packing_check.sh ZOTUNE MODEL DATA_DIR [STEPS] [TASK]
# Environment: COUNTS (default "1 4"), MODES (default "plain mps"), OUT (default /tmp/packing),
# DEVICE (default cuda; cpu is the smoke path), PYTHON (with h5py and numpy).
# ENGINE: more engine keys for every run, `key=value` words (short_mezo_run.sh), e.g.
# ENGINE="shared_prompts=true unpadded=true".
set -euo pipefail
zotune=$(realpath "${1:?zotune binary}"); model=$(realpath "${2:?model file or folder}"); data=$(realpath "${3:?data folder}")
steps=${4:-1000}; task=${5:-sst2}
out=${OUT:-/tmp/packing}; device=${DEVICE:-cuda}
source "$(dirname "$0")/short_mezo_run.sh"
source "$(dirname "$0")/../../scripts/mps_clients.sh"
rm -rf "$out" && mkdir -p "$out"
any_alive() { local p; for p in "$@"; do kill -0 "$p" 2> /dev/null && return 0; done; return 1; }
for mode in ${MODES:-plain mps}; do
  if [ "$mode" = mps ]; then
    command -v nvidia-cuda-mps-control > /dev/null || { echo "no nvidia-cuda-mps-control: mode mps left out"; continue; }
    export CUDA_MPS_PIPE_DIRECTORY=$out/mps_pipe CUDA_MPS_LOG_DIRECTORY=$out/mps_log
    mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
    nvidia-cuda-mps-control -d && sleep 1
  fi
  for n in ${COUNTS:-1 4}; do
    dir=$out/${mode}_$n; mkdir -p "$dir"
    start=$(date +%s%N); pids=()
    for seed in $(seq 1 "$n"); do
      short_mezo_run_file "packing_${mode}_${n}_$seed" "$steps" "$model" "$task" "$data" "$device" \
        "$dir/run_$seed.h5" "$seed" > "$dir/run_$seed.yaml"
      "$zotune" train "$dir/run_$seed.yaml" --overwrite > "$dir/train_$seed.txt" 2>&1 & pids+=($!)
    done
    clients=0   # under MPS: the most clients the daemon's servers listed, sampled every second
    while any_alive "${pids[@]}"; do
      if [ "$mode" = mps ]; then c=$(mps_client_count); [ "$c" -gt "$clients" ] && clients=$c; fi
      sleep 1
    done
    for p in "${pids[@]}"; do wait "$p" || { echo "a run failed ($dir)"; tail -5 "$dir"/train_*.txt; exit 1; }; done
    echo "$mode $n $(( ($(date +%s%N) - start) / 1000000 )) $clients" >> "$out/batches.txt"   # wall in ms
  done
  if [ "$mode" = mps ]; then echo quit | nvidia-cuda-mps-control; unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY; fi
done
[ -z "${ENGINE:-}" ] || echo "every run with engine keys: $ENGINE"
HDF5_USE_FILE_LOCKING=FALSE ${PYTHON:-python3} - "$out" "$task" "$steps" "$(dirname "$0")" <<'EOF'
import sys
out, task, steps, here = sys.argv[1:5]
sys.path.insert(0, here)
from median_step_ms import median_step_ms
print(f"MeZO on {task}, {steps} steps a run, batch 16; throughput = the sum over the runs of 1000 / median step ms")
print("| mode | runs at once | median step ms of each run | steps/s, all runs | vs 1 run | batch wall s | MPS clients seen |")
print("| --- | --- | --- | --- | --- | --- | --- |")
base = {}
for line in open(f"{out}/batches.txt"):
    mode, n, wall_ms, clients = line.split()
    n = int(n)
    ms = [median_step_ms(f"{out}/{mode}_{n}/run_{seed}.h5") for seed in range(1, n + 1)]
    rate = sum(1000.0 / m for m in ms)
    if n == 1:
        base[mode] = rate
    ratio = f"{rate / base[mode]:.2f}x" if mode in base else ""
    print(f"| {mode} | {n} | {', '.join(f'{m:.2f}' for m in ms)} | {rate:.1f} | {ratio} | {int(wall_ms) / 1000:.1f} | "
          f"{clients if mode == 'mps' else ''} |")
EOF
