#!/usr/bin/env bash
# Two builds of zotune side by side on the same GPU, in the same call: short_mezo_run.sh's MeZO
# run (batch 16 of real data, seed 1) trained by build A, then B, then A, then B ... (ROUNDS
# times, so a drift of the clocks or a neighbour's load hits both alike), per task. Prints per
# task the median step ms of every run of each build, the speedup of B over A (the ratio of the
# medians of the runs' medians), and whether the runs ended with the same parameter checksum:
# a change meant to keep every bit (a fused kernel with the same arithmetic) must show `same`.
#   bash experiments/benchmarks/run_build_compare.sh ZOTUNE_A ZOTUNE_B MODEL DATA_DIR [STEPS] [TASKS]
# Environment: ROUNDS (default 3), OUT (default /tmp/build_compare), DEVICE (default cuda; cpu is
# the smoke path), PYTHON (with h5py and numpy).
set -euo pipefail
a=$(realpath "${1:?zotune binary A (before)}"); b=$(realpath "${2:?zotune binary B (after)}")
model=$(realpath "${3:?model file or folder}"); data=$(realpath "${4:?data folder}")
steps=${5:-300}; tasks=${6:-sst2}
out=${OUT:-/tmp/build_compare}; rounds=${ROUNDS:-3}; here=$(dirname "$0")
source "$here/short_mezo_run.sh"
rm -rf "$out" && mkdir -p "$out"
for task in $tasks; do
  for round in $(seq 1 "$rounds"); do
    for build in A B; do
      zotune=$a; [ "$build" = B ] && zotune=$b
      name=${task}_${build}_$round
      short_mezo_run_file "$name" "$steps" "$model" "$task" "$data" "${DEVICE:-cuda}" "$out/$name.h5" 1 > "$out/$name.yaml"
      "$zotune" train "$out/$name.yaml" --overwrite > "$out/$name.txt" 2>&1 || { tail -5 "$out/$name.txt"; exit 1; }
    done
  done
done
HDF5_USE_FILE_LOCKING=FALSE ${PYTHON:-python3} - "$out" "$rounds" "$steps" "$here" "$a" "$b" $tasks <<'EOF'
import statistics, sys
import h5py
out, rounds, steps, here, a, b = sys.argv[1:7]
tasks = sys.argv[7:]
sys.path.insert(0, here)
from median_step_ms import median_step_ms
def checksum(name):  # the log's summary: the final weights' checksum, as zotune train printed it
    with h5py.File(f"{out}/{name}.h5", "r") as f:
        value = f["summary"].attrs["final_checksum"]
    return value.decode() if isinstance(value, bytes) else str(value)
print(f"A = {a}\nB = {b}\nMeZO, batch 16, {steps} steps a run, builds alternating A B A B ... ({rounds} rounds)\n")
print("| task | A median step ms (each run) | B median step ms (each run) | B speedup | final parameters |")
print("| --- | --- | --- | --- | --- |")
for task in tasks:
    ms = {x: [median_step_ms(f"{out}/{task}_{x}_{r}.h5") for r in range(1, int(rounds) + 1)] for x in "AB"}
    sums = {x: {checksum(f"{task}_{x}_{r}") for r in range(1, int(rounds) + 1)} for x in "AB"}
    same = "same" if len(sums["A"] | sums["B"]) == 1 else "differ: A " + "/".join(sorted(sums["A"])) + ", B " + "/".join(sorted(sums["B"]))
    speedup = statistics.median(ms["A"]) / statistics.median(ms["B"])
    cells = {x: ", ".join(f"{v:.3f}" for v in ms[x]) for x in "AB"}
    print(f"| {task} | {cells['A']} | {cells['B']} | {speedup:.2f}x | {same} |")
EOF
