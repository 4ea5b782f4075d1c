# Sourced by the run_*_check.sh benchmarks: the run file of a short MeZO run on real data (batch
# 16, the papers' grids' batch; 200 training examples, CB has 250; no dev or test evaluation), so
# the step time measured is the training step's alone.
#   short_mezo_run_file NAME STEPS MODEL TASK DATA_DIR DEVICE LOG SEED [ENGINE_LINES] > run.yaml
# ENGINE_LINES: more `engine:` keys, one per line, each indented two spaces. The environment's
# ENGINE adds more to every run of a benchmark: `key=value` words, e.g. ENGINE="shared_prompts=true
# unpadded=true" (a key given twice is refused by zotune as a duplicate: leave out the one the
# benchmark itself varies).
short_mezo_run_file() {
  local extra="" kv
  for kv in ${ENGINE:-}; do
    [[ "$kv" == *=* ]] || { echo "short_mezo_run.sh: ENGINE word '$kv' is not key=value" >&2; return 1; }
    extra+="  ${kv%%=*}: ${kv#*=}"$'\n'
  done
  cat <<EOF
run:
  name: $1
  seed: $8
  steps: $2
  output: $7
  progress: off
model:
  path: $3
task:
  name: $4
  data_dir: $5
  sampling: sizes
  num_train: 200
  num_dev: 0
  num_test: 0
optimizer:
  name: mezo
  lr: 1e-6
  eps: 1e-3
data:
  batch_size: 16
eval:
  every: 0
engine:
  device: $6
${9:-}
EOF
  printf '%s' "$extra"
}
