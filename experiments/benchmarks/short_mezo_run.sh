# Sourced by the run_*_check.sh benchmarks: the run file of a short MeZO run on real data (batch
# 16, the papers' grids' batch; 200 training examples, CB has 250; no dev or test evaluation), so
# the step time measured is the training step's alone.
#   short_mezo_run_file NAME STEPS MODEL TASK DATA_DIR DEVICE LOG SEED [ENGINE_LINES] > run.yaml
# ENGINE_LINES: more `engine:` keys, one per line, each indented two spaces.
short_mezo_run_file() {
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
}
