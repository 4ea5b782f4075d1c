#!/usr/bin/env bash
# The Slurm path of `zotune grid` on a real one-node cluster (tests/grid/slurm_cluster.sh):
# `zotune grid GRID slurm --submit` writes and submits the job array for a small grid of
# tiny-model runs, the test waits for the array, then checks that every run's log says
# completed and that `zotune grid GRID status` agrees. Exit 77 (CTest: skipped) with the
# reason when this machine cannot run a cluster (not root, no Slurm, a daemon that fails).
# Usage: slurm_grid_test.sh ZOTUNE REPO WORK
set -euo pipefail
zotune=$(realpath "$1"); repo=$(realpath "$2"); work=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"; mkdir -p "$work"; work=$(realpath "$work")
cluster=$(mktemp -d /tmp/zotune-slurm.XXXXXX)
trap '"$here/slurm_cluster.sh" stop "$cluster" >/dev/null 2>&1 || true; rm -rf "$cluster"' EXIT
exports=$("$here/slurm_cluster.sh" start "$cluster") || exit $?
eval "$exports"

cat > "$work/slurm_tiny.yaml" <<GRID
base: $repo/experiments/runs/tiny_mezo.yaml
set:
  run.steps: 40
  run.progress: plain
axes:
  optimizer.name: [mezo, bszo]
seeds: [1, 2]
name: "{optimizer.name}-s{run.seed}"
output: runs
GRID
grid=$work/slurm_tiny.yaml

"$zotune" grid "$grid" slurm --max-parallel 2 --time 5 --signal-seconds 60 --submit | tee "$work/submit.out"
job=$(tail -1 "$work/submit.out")
[[ $job =~ ^[0-9]+$ ]] || { echo "FAILED: sbatch printed no job id ($job)"; exit 1; }
grep -q -- "--array=0-3%2" "$work/runs/slurm_tiny.sbatch" || { echo "FAILED: the script has no --array=0-3%2"; exit 1; }

# Wait (bounded) until the array has left the queue.
for _ in $(seq 1 600); do
  [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
  sleep 0.2
done
[ -z "$(squeue -h -j "$job" 2>/dev/null)" ] || { echo "FAILED: job $job still queued after 120 s"; squeue; exit 1; }

"$zotune" grid "$grid" status | tee "$work/status.out"
grep -q "^4 runs: 4 completed$" "$work/status.out" || {
  echo "FAILED: not every run completed"; tail -n 20 "$work"/runs/*.out "$work"/runs/slurm-*.out; exit 1; }
for name in mezo-s1 mezo-s2 bszo-s1 bszo-s2; do
  grep -Eq "^ +[0-9]+ +$name +completed +40/40 " "$work/status.out" || { echo "FAILED: $name is not completed with 40 steps"; exit 1; }
done
ls "$work"/runs/slurm-"${job}"_*.out >/dev/null || { echo "FAILED: no Slurm task output beside the logs"; exit 1; }
echo "slurm: job array $job trained 4 runs; every log completed, status agrees"
echo "1 passed, 0 failed"
