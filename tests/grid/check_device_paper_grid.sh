#!/usr/bin/env bash
# scripts/device_paper_grid.sh across two "sessions" on the CPU engine (CTest grid.device_paper_grid):
# session 1 starts a 2-run grid of the tiny Llama (one run at a time), collects when the first run
# has completed and the second is part way, then loses the machine (the runner's process group
# killed); its finished run is merged into a results folder with update_results.py ingest.
# Session 2 starts again with DONE (that results file) and RESUME (session 1's partial logs): the
# finished run is not trained again, the cut one is resumed (not restarted) and ends on the
# checksum of the same run trained without interruption. Every run has an override (OVERRIDES), as
# the paper grids' engine options: collect must count the runs as completed under it.
#   bash tests/grid/check_device_paper_grid.sh ZOTUNE REPO WORK PYTHON
set -uo pipefail
zotune=$(realpath "${1:?zotune binary}"); repo=$(realpath "${2:?repository}"); work=${3:?work folder}; py=${4:-python3}
fail() { echo "FAILED: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work" && work=$(realpath "$work")
export HDF5_USE_FILE_LOCKING=FALSE WORK_ROOT=$work ZOTUNE=$zotune MODEL_REL=models/tiny.tar.xz JOBS=1
name=dpg_check
grid=$work/$name.yaml
tar -cJf "$work/tiny.tar.xz" -C "$repo/tests/fixtures/train" tiny_lm
mkdir -p "$work/d/data" && echo placeholder > "$work/d/data/README" && tar -cJf "$work/data.tar.xz" -C "$work/d" data
export PARTS=$work/tiny.tar.xz DATA_TAR=$work/data.tar.xz GRID=$grid OVERRIDES="optimizer.eps=2e-3"
# Paths relative to experiments/grids/ of the work copy, where the script puts the grid.
cat > "$grid" <<'EOF'
set:
  model.path: ../../models/tiny_lm
  task.name: sst2
  task.train: ../data/movie_reviews/train.tsv
  task.test: ../data/movie_reviews/test.tsv
  task.sampling: sizes
  task.num_train: 32
  task.num_dev: 16
  task.num_test: 24
  task.max_length: 48
  data.batch_size: 4
  run.steps: 4000
  run.flush_every: 50
  eval.every: 1000
  engine.device: cpu
  run.progress: plain
  optimizer.name: mezo
  optimizer.eps: 1e-3
axes:
  optimizer.lr: [1e-4, 3e-4]
seeds: [1]
name: "mezo-lr{optimizer.lr}"
output: ../../runs/dpg_check
EOF
pg=$work/pg_$name
copy_grid=experiments/grids/$name.yaml
status_of() { (cd "$pg/main" && "$zotune" grid "$copy_grid" status $OVERRIDES 2>/dev/null) | awk -v n="$1" '$2 == n { print $3, $4 }'; }

# ---- session 1 ----
mkdir -p "$work/out1" && OUT=$work/out1 WAIT=1 bash "$repo/scripts/device_paper_grid.sh" start > "$work/start1.txt" 2>&1
for _ in $(seq 1 240); do  # until run 0 completed and run 1 has flushed steps (at most 120 s)
  s0=$(status_of mezo-lr1e-4); s1=$(status_of mezo-lr3e-4)
  [ "${s0%% *}" = completed ] && [ "${s1%% *}" = running ] && [ "${s1#* }" != "-" ] && [ "${s1#* }" != "0/4000" ] && break
  sleep 0.5
done
echo "session 1 at collect: run 0 $s0, run 1 $s1"
OUT=$work/out1 bash "$repo/scripts/device_paper_grid.sh" collect > "$work/collect1.txt" 2>&1
kill -KILL -- -"$(cat "$pg/state/pid")" 2>/dev/null  # the machine goes back: every run stops mid-step
sleep 0.5
[ -f "$work/out1/${name}_partial.tar.xz" ] || fail "collect wrote no ${name}_partial.tar.xz: $(cat "$work/collect1.txt")"
tar -tJf "$work/out1/${name}_partial.tar.xz" | grep -q 'runs/dpg_check/mezo-lr3e-4.h5$' ||
  fail "the partial logs lack the cut run: $(tar -tJf "$work/out1/${name}_partial.tar.xz")"
tar -tJf "$work/out1/${name}_partial.tar.xz" | grep -q 'mezo-lr1e-4.h5$' && fail "the partial logs hold the finished run"
results=$work/results
"$py" "$repo/analysis/update_results.py" ingest "$work/out1/${name}_collect.csv" --runs "$work/out1/${name}_runs.tar.xz" \
  --into "$results" || fail "ingest of session 1"
grep -q ',completed,' "$results/collect.csv" && [ "$(grep -c ',completed,' "$results/collect.csv")" = 1 ] ||
  fail "session 1's results: $(cat "$results/collect.csv")"

# ---- session 2: a fresh machine ----
rm -rf "$pg"
mkdir -p "$work/out2" && OUT=$work/out2 WAIT=120 DONE=$results/collect.csv RESUME=$work/out1/${name}_partial.tar.xz \
  bash "$repo/scripts/device_paper_grid.sh" start > "$work/start2.txt" 2>&1
# parts of 4 KB: the split a large archive comes back in; ingest below joins them itself
OUT=$work/out2 PART_BYTES=4096 bash "$repo/scripts/device_paper_grid.sh" collect > "$work/collect2.txt" 2>&1
[ -f "$work/out2/${name}_runs.tar.xz.01" ] && [ ! -f "$work/out2/${name}_runs.tar.xz" ] ||
  fail "collect with PART_BYTES=4096 did not split the runs archive: $(ls "$work/out2")"
grep -q "1 runs done in" "$work/start2.txt" || fail "DONE was not read: $(cat "$work/start2.txt")"
grep -q "resuming 1 runs" "$work/start2.txt" || fail "RESUME was not read: $(cat "$work/start2.txt")"
ls "$pg/state"/run_*.txt > /dev/null 2>&1 || fail "session 2 trained nothing"
[ "$(cat "$pg/state/order")" = "1" ] || fail "session 2 trains runs $(cat "$pg/state/order" | tr '\n' ' ') (expected only run 1)"
grep -q "resumed 1 mezo-lr3e-4" "$pg/state/run_1.txt" || fail "run 1 was not resumed: $(cat "$pg/state/run_1.txt")"
"$py" "$repo/analysis/update_results.py" ingest "$work/out2/${name}_collect.csv" --runs "$work/out2/${name}_runs.tar.xz" \
  --into "$results" || fail "ingest of session 2"
[ "$(grep -c ',completed,' "$results/collect.csv")" = 2 ] || fail "the results after two sessions: $(cat "$results/collect.csv")"
resumed_log=$pg/main/runs/dpg_check/mezo-lr3e-4.h5
"$zotune" show "$resumed_log" | grep -q "resumed_at_steps" || fail "the resumed log does not say it was resumed"

# ---- the same run without interruption ----
mkdir -p "$work/fresh/experiments/grids" "$work/fresh/models" && cp -r "$repo/experiments/data" "$work/fresh/experiments/"
cp "$grid" "$work/fresh/experiments/grids/" && ln -s "$repo/tests/fixtures/train/tiny_lm" "$work/fresh/models/tiny_lm"
(cd "$work/fresh" && "$zotune" grid "experiments/grids/$name.yaml" run --index 1 $OVERRIDES > "$work/fresh.txt" 2>&1) || fail "fresh run: $(tail -3 "$work/fresh.txt")"
a=$("$zotune" show "$resumed_log" | awk '$1 == "final_checksum" { print $2 }')
b=$("$zotune" show "$work/fresh/runs/dpg_check/mezo-lr3e-4.h5" | awk '$1 == "final_checksum" { print $2 }')
[ -n "$a" ] && [ "$a" = "$b" ] || fail "the resumed run ends on checksum '$a', the uninterrupted one on '$b'"
# ---- `order` with SEARCH_SEED: a 2 learning rate x 2 seed grid whose seed-1 runs are done ----
ss_grid=$work/dpg_search.yaml
sed -e 's/^seeds: \[1\]/seeds: [1, 2]/' -e 's/^name: .*/name: "mezo-lr{optimizer.lr}-s{run.seed}"/' "$grid" > "$ss_grid"
"$zotune" grid "$ss_grid" list > "$work/ss_list.txt" || fail "grid list: $(cat "$work/ss_list.txt")"
idx() { awk -v n="$1" '$2 == n { print $1 }' "$work/ss_list.txt"; }
{ echo "index,name,optimizer.lr,run.seed,status,best_dev_accuracy"
  echo "$(idx mezo-lr1e-4-s1),mezo-lr1e-4-s1,1e-4,1,completed,0.5"
  echo "$(idx mezo-lr3e-4-s1),mezo-lr3e-4-s1,3e-4,1,completed,0.75"; } > "$work/ss_done.csv"
GRID=$ss_grid SEARCH_SEED=1 DONE=$work/ss_done.csv bash "$repo/scripts/device_paper_grid.sh" order > "$work/ss_order.txt" 2>&1 ||
  fail "order: $(cat "$work/ss_order.txt")"
grep -q "^$(idx mezo-lr3e-4-s2)  mezo-lr3e-4-s2$" "$work/ss_order.txt" && grep -q "^1 runs to train" "$work/ss_order.txt" ||
  fail "order with SEARCH_SEED=1 should train only mezo-lr3e-4-s2 (seed 1's best learning rate): $(cat "$work/ss_order.txt")"
GRID=$ss_grid DONE=$work/ss_done.csv bash "$repo/scripts/device_paper_grid.sh" order | grep -q "^2 runs to train" ||
  fail "order without SEARCH_SEED should train both seed-2 runs"

echo "PASS: device_paper_grid.sh over two sessions: DONE skipped the finished run, RESUME continued the cut one to the uninterrupted checksum ($a); order with SEARCH_SEED trains only the selected learning rate's other seeds"
