#!/usr/bin/env bash
# On the GPU machine: trains a paper grid (experiments/grids/papers/) packed onto its one GPU,
# across several device calls of at most 10 minutes each. The runs go on in a process session of
# their own (setsid), so a call that ends does not kill them; the next call, made while the
# machine is still warm, waits on them. Seed-major order (every cell's seed 1, then seed 2, ...):
# whatever is done when the GPU time ends is a whole table with fewer seeds, not half a table.
#   start:    join the model parts, unpack the data, copy zotune and the grid to /tmp/pg_GRIDNAME, start
#             the runs, then wait as `wait` does
#   wait:     print progress every 20 s until the runs end or $WAIT seconds pass
#   collect:  the grid's status table, its collect CSV, the run logs (tar.xz, in 15 MB parts
#             when larger) and the logs of the runs still training (NAME_partial.tar.xz, for
#             RESUME) into $OUT, each named after the grid
#   order:    print the runs `start` would train, in order, and start nothing (any machine; with
#             ZOTUNE=build/zotune where no build-dev/ is)
# Usage (after scripts/device_build.sh built build-dev/zotune):
#   GRID=experiments/grids/papers/bszo-5c-smollm2.yaml PARTS="/tmp/part1 .carry/p2/part2" \
#     DATA_TAR=.carry/data.tar.xz JOBS=16 WAIT=540 bash scripts/device_paper_grid.sh start
#   GRID=... WAIT=540 bash scripts/device_paper_grid.sh wait
#   GRID=... bash scripts/device_paper_grid.sh collect
# ZOTUNE: the zotune binary to use (default build-dev/zotune); WORK_ROOT: where pg_NAME goes (/tmp).
# Tested on the CPU engine by tests/grid/check_device_paper_grid.sh (CTest grid.device_paper_grid).
# MODEL_REL: where the joined model goes under the copied repo (the grid's model.path), or a
# .tar.xz of model folders to unpack into models/ (MODEL_REL=models/minilm.tar.xz);
# OVERRIDES: key=value pairs for every run (say them wherever the results are reported); give the
# same to collect, which compares each log's configuration with the grid's under them.
# DONE: the grid's committed collect CSV; its finished runs are skipped, so each session's GPU time
# goes to the runs still missing (analysis/update_results.py ingest merges the new ones in).
# RESUME: the NAME_partial.tar.xz an earlier session's collect wrote (the logs of the runs the end
# of its GPU time cut off): those runs continue where they stopped instead of starting again.
# SEARCH_SEED (e.g. 1): search the learning rates with that seed alone, then train the other seeds
# only at each cell's selected learning rate: the order is the search seed's runs, then, for every
# cell whose search runs are all in DONE, its other seeds' runs at the learning rate with the best
# dev value there (analysis/search_seed_runs.py; paper_table.py --select search-seed tabulates it).
# MPS (default 1; MPS=0 turns it off): start the CUDA MPS daemon first, so the runs' kernels
# share the GPU instead of taking turns; dropped if a short bench fails under it. Measured on an
# H100 (docs/PERFORMANCE.md, experiments/benchmarks/run_packing_check.sh): 4 SmolLM2 MeZO runs
# at batch 16 at once give 1.09x the steps per second of one run under MPS, 0.89x without it (one
# such run nearly fills the GPU). `wait` prints the MPS clients.
set -uo pipefail
cd "$(dirname "$0")/.."
grid=${GRID:?GRID: a grid file (experiments/grids/papers/...)}
name=$(basename "$grid" .yaml)
work=${WORK_ROOT:-/tmp}/pg_$name   # one folder per grid: two grids can share the GPU
# A grid given by an absolute path (a test's) is copied into experiments/grids/ of the work copy,
# its relative paths read from there.
src_grid=$grid
case "$grid" in /*) grid=experiments/grids/$name.yaml ;; esac
jobs=${JOBS:-16}
state=$work/state
source scripts/mps_clients.sh
export LD_LIBRARY_PATH=/tmp/ob/usr/lib/x86_64-linux-gnu:/tmp/ob/usr/lib/x86_64-linux-gnu/openblas-pthread:${LD_LIBRARY_PATH:-}

count_lines() {  # the lines of the runner's log matching PATTERN; 0 before the first run ends
  if [ -f $state/runs.log ]; then grep -c "$1" $state/runs.log; else echo 0; fi
}

wait_runs() {  # prints the runner's progress every 20 s until it ends or $WAIT s pass
  local until=$(( $(date +%s) + ${WAIT:-540} ))
  while [ "$(date +%s)" -lt $until ]; do
    if ! kill -0 "$(cat $state/pid)" 2>/dev/null; then echo "runs ended"; break; fi
    local left=$(( until - $(date +%s) )); sleep $(( left < 20 ? (left > 0 ? left : 1) : 20 ))
    echo "$(date +%T) done $(count_lines ' rc=0$') failed $(count_lines ' rc=[1-9]') of $(wc -l < $state/order)"
  done
  if command -v nvidia-smi > /dev/null; then nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; fi
  if pgrep -f nvidia-cuda-mps-control > /dev/null; then echo "MPS clients now: $(CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_pipe mps_client_count)"; fi
}

# The FIELD (index, log, ...) of the rows of a collect CSV whose status is one of STATUS...
rows_with_status() {  # CSV FIELD STATUS...
  python3 -c 'import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["status"] in sys.argv[3:] and r[sys.argv[2]]: print(r[sys.argv[2]])' "$@"
}

# The runs to train into $2/order: every run of the grid, seed-major (each cell's seed 1, then
# seed 2, ...), or with SEARCH_SEED the two stages above; less the runs DONE has. $1: zotune,
# $3: the grid file.
plan_order() {
  local z=$1 st=$2
  "$z" grid "$3" list > $st/listing || return 1
  # seed-major order: sort the listed runs ("seed index" lines) by run.seed, keeping the grid's
  # order within a seed
  awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^run.seed=/) { split($i, s, "="); print s[2], $1 } }' $st/listing \
    | sort -n -s -k1,1 > $st/seed_index
  awk '{ print $2 }' $st/seed_index > $st/order.all
  if [ -n "${SEARCH_SEED:-}" ]; then
    awk -v s="$SEARCH_SEED" '$1 == s { print $2 }' $st/seed_index > $st/order.search
    : > $st/order.selected
    [ -z "${DONE:-}" ] || python3 analysis/search_seed_runs.py $st/listing "$DONE" --search-seed "$SEARCH_SEED" \
      > $st/order.selected || return 1
    echo "search seed $SEARCH_SEED: $(wc -l < $st/order.search) runs; the other seeds at the selected learning rates:" \
      "$(wc -l < $st/order.selected) runs (of the cells whose search is done)"
    cat $st/order.search $st/order.selected > $st/order.all
  fi
  # DONE: a committed collect CSV (experiments/results/NAME/collect.csv); its completed and failed
  # runs are not trained again (a failed run here is a result: e.g. fp16 Adam's NaN at step 1)
  if [ -n "${DONE:-}" ]; then
    rows_with_status "$DONE" index completed failed > $st/done
    grep -vxF -f $st/done $st/order.all > $st/order || true
    echo "$(wc -l < $st/done) runs done in $DONE"
  else cp $st/order.all $st/order; fi
}

case "${1:?start, wait, collect or order}" in
order)
  st=$(mktemp -d)
  plan_order "${ZOTUNE:-build-dev/zotune}" $st "$src_grid" || { rm -rf $st; exit 1; }
  awk 'NR == FNR { want[$1] = NR; next } ($1 in want) { name[want[$1]] = $1 "  " $2 }
       END { for (i = 1; i in name; i++) print name[i] }' $st/order $st/listing
  echo "$(wc -l < $st/order) runs to train"
  rm -rf $st
  ;;
start)
  resume=${RESUME:+$(realpath "$RESUME")}
  rm -rf $work && mkdir -p $work/main $state
  cp -r experiments analysis scripts $work/main/
  [ "$src_grid" = "$grid" ] || cp "$src_grid" "$work/main/$grid"
  mkdir -p $work/main/build && cp ${ZOTUNE:-build-dev/zotune} $work/main/build/zotune
  model_rel=${MODEL_REL:-models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf}
  mkdir -p "$work/main/$(dirname "$model_rel")"
  cat ${PARTS:?PARTS: the model file or its parts, in order} > "$work/main/$model_rel"
  md5sum "$work/main/$model_rel"
  # a .tar.xz (a model folder, e.g. MiniLM's) unpacks into models/
  case "$model_rel" in *.tar.xz) tar -xJf "$work/main/$model_rel" -C $work/main/models && ls $work/main/models ;; esac
  mkdir -p $work/shared && tar -xJf "${DATA_TAR:?}" -C $work/shared
  [ -d $work/shared/data ] || mv $work/shared/* $work/shared/data 2>/dev/null
  ls $work/shared/data | head -3
  cd $work/main
  if [ "${MPS:-1}" = 1 ] && command -v nvidia-cuda-mps-control > /dev/null; then
    export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps_log
    mkdir -p $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY
    nvidia-cuda-mps-control -d && sleep 1
    if timeout 60 build/zotune bench experiments/benchmarks/shapes/smollm2-135m --random --device cuda --batch 16 \
        --seq 64 --iters 2 > $state/mps_check.txt 2>&1; then echo "MPS on"
    else echo "MPS off (bench failed under it)"; tail -3 $state/mps_check.txt; echo quit | nvidia-cuda-mps-control
      unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY; fi
  fi
  plan_order build/zotune $state "$grid" || exit 1
  # RESUME: the last session's cut-off runs (collect's NAME_partial.tar.xz). Their logs go back in
  # place, first in the order: `zotune grid run` resumes each from its last flushed step (the
  # weights and optimizer state rebuilt from the logged losses, docs/RELIABILITY.md).
  if [ -n "$resume" ]; then
    tar -xJf "$resume" -C $work/main
    tar -tJf "$resume" | grep '\.h5$' | xargs -n1 basename | sed 's/\.h5$//' > $state/resumed
    # (those still in the order: a run of a learning rate the search did not select is dropped)
    awk 'NR == FNR { r[$1] = 1; next } ($2 in r) { print $1 }' $state/resumed $state/listing \
      | grep -xF -f $state/order > $state/resumed_index || true
    cat $state/resumed_index <(grep -vxF -f $state/resumed_index $state/order) > $state/order.new
    mv $state/order.new $state/order
    echo "resuming $(wc -l < $state/resumed_index) runs from $RESUME"
  fi
  echo "$(wc -l < $state/order) runs, $jobs at a time"
  # one runner per run (a Slurm array task's --index), $JOBS at a time, each on one core's share
  setsid bash -c "xargs -P $jobs -I{} sh -c 'build/zotune grid \"$grid\" run --index {} --gpus 0 --cores 1 \
    ${OVERRIDES:-} > $state/run_{}.txt 2>&1; echo \"{} rc=\$?\" >> $state/runs.log' < $state/order" \
    > $state/xargs.txt 2>&1 < /dev/null &
  echo $! > $state/pid
  wait_runs
  ;;
wait)
  wait_runs
  ;;
collect)
  cd $work/main
  # with the runs' OVERRIDES, or every run they changed reads "changed" (and DONE would train it again)
  build/zotune grid "$grid" status ${OVERRIDES:-} > "$OUT/${name}_status.txt" 2>&1; tail -3 "$OUT/${name}_status.txt"
  build/zotune grid "$grid" collect ${OVERRIDES:-} --csv "$OUT/${name}_collect.csv" 2>&1 | tail -2
  grep -l -i "error" $state/run_*.txt 2>/dev/null | head -3 | xargs -r tail -3
  # every log (a running run's .pid and .lock files left out: they come and go while tar reads)
  tar -cJf "$OUT/${name}_runs.tar.xz" -C $work/main --exclude='*.pid' --exclude='*.lock' \
    --warning=no-file-changed --warning=no-file-removed runs
  # the device tool returns files of at most 16 MiB: a larger archive comes back in parts of
  # PART_BYTES (default 15 MB; NAME_runs.tar.xz.00, .01, ..., which update_results.py ingest joins)
  part_bytes=${PART_BYTES:-15000000}
  if [ "$(stat -c %s "$OUT/${name}_runs.tar.xz")" -gt "$part_bytes" ]; then
    split -b "$part_bytes" -d "$OUT/${name}_runs.tar.xz" "$OUT/${name}_runs.tar.xz." && rm "$OUT/${name}_runs.tar.xz"
  fi
  # the runs still training, for the next session's RESUME: a copy of each log, kept if it reads
  # (a copy can catch a flush half way; such a run starts again from step 0 instead)
  rm -rf $state/partial && mkdir -p $state/partial
  rows_with_status "$OUT/${name}_collect.csv" log running | while read -r log; do
    [ -f "$log" ] || continue
    rel=${log#$work/main/}; mkdir -p "$state/partial/$(dirname "$rel")"; cp "$log" "$state/partial/$rel"
    build/zotune show "$state/partial/$rel" > /dev/null 2>&1 || { echo "not kept for RESUME (unreadable copy): $rel"; rm "$state/partial/$rel"; }
  done
  [ -n "$(find $state/partial -name '*.h5')" ] && tar -cJf "$OUT/${name}_partial.tar.xz" -C $state/partial .
  ls -la "$OUT"
  ;;
esac
