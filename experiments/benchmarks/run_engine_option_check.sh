#!/usr/bin/env bash
# A boolean engine option measured on real training: the same short MeZO run (SmolLM2 on SST-2 or
# another task) with engine.$OPTION false and true, one after the other on one engine. Options
# meant to change only rounding: engine.shared_prompts (tasks with one-token label words),
# engine.unpadded (CUDA). Prints each run's median step time, the ratio, and the largest
# relative difference between the two runs' probe losses at step 1 (rounding only) and over the run,
# then the CUDA engine's report of how each run's forwards ran.
#   OPTION=shared_prompts bash experiments/benchmarks/run_engine_option_check.sh ZOTUNE MODEL DATA_DIR [DEVICE] [STEPS] [TASK]
# e.g. OPTION=unpadded bash experiments/benchmarks/run_engine_option_check.sh build/zotune \
#        models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf ../shared/data cuda 200 rte
# The run: short_mezo_run.sh's (batch 16, 200 training examples, no evaluation); OUT (default
# /tmp/engine_option) holds the run files and logs. Needs python3 (or $PYTHON) with h5py and numpy.
# ENGINE: more engine keys for every run, `key=value` words (short_mezo_run.sh), e.g.
# ENGINE="shared_prompts=true unpadded=true".
set -euo pipefail
zotune=${1:?zotune binary}; model=$(realpath "${2:?model file or folder}"); data=$(realpath "${3:?data folder}")
device=${4:-cpu}; steps=${5:-6}; task=${6:-sst2}
option=${OPTION:?OPTION: the engine option to turn off and on (shared_prompts, unpadded)}
out=${OUT:-/tmp/engine_option}
source "$(dirname "$0")/short_mezo_run.sh"
mkdir -p "$out"
for on in false true; do
  short_mezo_run_file "${option}_$on" "$steps" "$model" "$task" "$data" "$device" \
    "$out/${option}_$on.h5" 1 "  $option: $on" > "$out/run_$on.yaml"
  "$zotune" train "$out/run_$on.yaml" --overwrite > "$out/train_$on.txt" 2>&1 ||
    { tail -5 "$out/train_$on.txt"; exit 1; }
done
[ -z "${ENGINE:-}" ] || echo "every run with engine keys: $ENGINE"
HDF5_USE_FILE_LOCKING=FALSE ${PYTHON:-python3} - "$out" "$device" "$task" "$(dirname "$0")" "$option" <<'EOF'
import sys
import h5py
import numpy as np
out, device, task, here, option = sys.argv[1:6]
sys.path.insert(0, here)
from median_step_ms import median_step_ms
runs = {s: h5py.File(f"{out}/{option}_{s}.h5", "r") for s in ("false", "true")}
ms = {s: median_step_ms(f"{out}/{option}_{s}.h5") for s in runs}
a, b = (runs[s]["steps/probe_losses.values"][:] for s in ("false", "true"))
engine = runs["true"]["summary"].attrs.get("engine", device)
rel = np.abs(a - b) / np.abs(a)  # one row per probe, a step's two probes in turn
# step 1 is rounding alone (both runs start from the same weights); later steps add the drift of
# two trajectories whose updates differ by that rounding
print(f"| engine | task | steps | step ms, {option} false | true | speedup | "
      f"max rel. probe-loss difference, step 1 | all steps |")
print(f"| --- | --- | --- | --- | --- | --- | --- | --- |")
print(f"| {engine} | {task} | {len(a) // 2} | {ms['false']:.2f} | {ms['true']:.2f} | {ms['false'] / ms['true']:.2f}x | "
      f"{float(np.max(rel[:2])):.2e} | {float(np.max(rel)):.2e} |")
EOF
# How each run's forwards ran (the CUDA engine's report: graphs replayed, captured, eager; with
# engine.unpadded, how many head-row forwards ran packed)
for on in false true; do
  grep -h "^CUDA forwards" "$out/train_$on.txt" | sed "s/^/$option $on: /" || true
done
