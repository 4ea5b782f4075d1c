#!/usr/bin/env bash
# Where a training step's GPU time goes, kernel by kernel: short_mezo_run.sh's MeZO run (batch
# 16 of real data) trained under Nsight Compute with the capture off until zotune starts it
# (ZOTUNE_PROFILE_STEPS, core/train/profile_steps.h): WARM unprofiled steps, then STEPS profiled
# ones, kernels launched one by one (engine.cuda_graphs false, so each is its own launch). The
# profile holds exactly those steps (kernel_profile_table.py divides it by STEPS and checks that
# every kernel's launches do divide). Beside it, the same run file's median step without the
# profiler, with graphs off and on (on: how runs train).
#   bash experiments/benchmarks/run_kernel_profile.sh ZOTUNE MODEL DATA_DIR [TASK] [STEPS] [WARM]
# Environment: NCU (default ncu; `--clock-control none` leaves the clocks alone), OUT (default
# /tmp/kernel_profile), TOP (kernels listed, default 25), PLAIN_STEPS (the unprofiled runs' steps,
# default 60), DEVICE (default cuda), PYTHON (with h5py and numpy).
# ENGINE: more engine keys for every run, `key=value` words (short_mezo_run.sh), e.g.
# ENGINE="shared_prompts=true unpadded=true".
# Each kernel under ncu takes about 0.13 s (an H100, 2026-12-06: SmolLM2's MeZO step launches
# about 850), so a profiled step costs about 2 minutes; the defaults profile 2 steps after 2.
set -euo pipefail
zotune=$(realpath "${1:?zotune binary}"); model=$(realpath "${2:?model file or folder}"); data=$(realpath "${3:?data folder}")
task=${4:-sst2}; steps=${5:-2}; warm=${6:-2}
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
ZOTUNE_PROFILE_STEPS=$warm:$steps ${NCU:-ncu} --profile-from-start off --clock-control none \
  --metrics gpu__time_duration.sum --csv --log-file "$out/profile.csv" \
  "$zotune" train "$(run_file profiled $((warm + steps)) false)" --overwrite > "$out/profiled.txt" 2>&1 ||
  { tail -5 "$out/profiled.txt" "$out/profile.csv"; exit 1; }
median_ms() { HDF5_USE_FILE_LOCKING=FALSE ${PYTHON:-python3} "$here/median_step_ms.py" "$1"; }
off=$(median_ms "$out/plain_graphs_false.h5"); on=$(median_ms "$out/plain_graphs_true.h5")
[ -z "${ENGINE:-}" ] || echo "every run with engine keys: $ENGINE"
echo "MeZO on $task, batch 16, $(basename "$model"): median step $off ms with kernels launched one by one, $on ms replaying CUDA graphs ($plain_steps steps each, no profiler)"
echo
${PYTHON:-python3} "$here/kernel_profile_table.py" "$out/profile.csv" "$steps" --top "${TOP:-25}" --step-ms "$off"
