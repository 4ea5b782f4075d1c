#!/usr/bin/env bash
# Where a training step's GPU time goes, kernel by kernel: short_mezo_run.sh's MeZO run (batch
# 16 of real data) trained under Nsight Compute for STEPS_A and for STEPS_B steps, kernels
# launched one by one (engine.cuda_graphs false, so each is its own launch); the difference
# between the two profiles is what one step launches (kernel_profile_table.py). Beside it, the
# same run file's median step without the profiler, with graphs off and on (on: how runs train).
#   bash experiments/benchmarks/run_kernel_profile.sh ZOTUNE MODEL DATA_DIR [TASK] [STEPS_A] [STEPS_B]
# Environment: NCU (default ncu; `--clock-control none` leaves the clocks alone), OUT (default
# /tmp/kernel_profile), TOP (kernels listed, default 25), PLAIN_STEPS (the unprofiled runs' steps,
# default 60), DEVICE (default cuda; cpu with a stand-in NCU is the smoke path), PYTHON (with
# h5py and numpy).
# Each kernel under ncu takes milliseconds: keep STEPS_B small (defaults 2 and 4).
set -euo pipefail
zotune=$(realpath "${1:?zotune binary}"); model=$(realpath "${2:?model file or folder}"); data=$(realpath "${3:?data folder}")
task=${4:-sst2}; steps_a=${5:-2}; steps_b=${6:-4}
out=${OUT:-/tmp/kernel_profile}; here=$(dirname "$0"); plain_steps=${PLAIN_STEPS:-60}
source "$here/short_mezo_run.sh"
rm -rf "$out" && mkdir -p "$out"
run_file() {  # NAME STEPS GRAPHS
  short_mezo_run_file "$1" "$2" "$model" "$task" "$data" "${DEVICE:-cuda}" "$out/$1.h5" 1 "  cuda_graphs: $3" > "$out/$1.yaml"
  echo "$out/$1.yaml"
}
for graphs in false true; do
  "$zotune" train "$(run_file "plain_graphs_$graphs" "$plain_steps" $graphs)" --overwrite > "$out/plain_graphs_$graphs.txt" 2>&1 ||
    { tail -5 "$out/plain_graphs_$graphs.txt"; exit 1; }
done
for steps in "$steps_a" "$steps_b"; do
  ${NCU:-ncu} --clock-control none --metrics gpu__time_duration.sum --csv --log-file "$out/profile_$steps.csv" \
    "$zotune" train "$(run_file "profiled_$steps" "$steps" false)" --overwrite > "$out/profiled_$steps.txt" 2>&1 ||
    { tail -5 "$out/profiled_$steps.txt" "$out/profile_$steps.csv"; exit 1; }
done
median_ms() { HDF5_USE_FILE_LOCKING=FALSE ${PYTHON:-python3} "$here/median_step_ms.py" "$1"; }
off=$(median_ms "$out/plain_graphs_false.h5"); on=$(median_ms "$out/plain_graphs_true.h5")
echo "MeZO on $task, batch 16, $(basename "$model"): median step $off ms with kernels launched one by one, $on ms replaying CUDA graphs ($plain_steps steps each, no profiler)"
echo
${PYTHON:-python3} "$here/kernel_profile_table.py" "$out/profile_$steps_a.csv" "$steps_a" "$out/profile_$steps_b.csv" "$steps_b" \
  --top "${TOP:-25}" --step-ms "$off"
