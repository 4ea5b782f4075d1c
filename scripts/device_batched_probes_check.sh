#!/usr/bin/env bash
# Issue 18 on the GPU machine (carry .carry/debs and .whl; the folder holding them is $1, default
# the repository root):
# builds, runs the CUDA engine's batched-probe, PEFT-graph, training and PEFT-parity tests, the
# batched rank-invariance checks on the CUDA engine (3 ranks sharing the GPU), and the
# parameter-efficient step benchmark (run_peft_step_bench.sh) on the settings in $SETTINGS.
# Results (test output, JSON, table.md) go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
carried=${1:-$PWD}
start=$(date +%s)
bash scripts/device_build.sh "$carried/.carry/debs" zotune zotune_cuda_engine_tests zotune_cuda_tests 2>&1 | tail -2
echo "build: $(( $(date +%s) - start )) s"
export LD_LIBRARY_PATH=/tmp/ob/usr/lib/x86_64-linux-gnu:/tmp/ob/usr/lib/x86_64-linux-gnu/openblas-pthread
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$carried"/.whl/*.whl
nvidia-smi --query-gpu=name,clocks.max.sm,power.limit --format=csv,noheader
timeout 60 build-dev/tests/zotune_cuda_tests --gtest_filter='*TtLinear*:*Matmul*:*Perturb*' > "$OUT/cuda_kernel_tests.txt" 2>&1
echo "cuda kernel tests rc=$?"; grep -E "^\[  (PASSED|FAILED) " "$OUT/cuda_kernel_tests.txt"
timeout 300 build-dev/tests/zotune_cuda_engine_tests --gtest_filter='*BatchedProbes*:*PeftGraph*:*Training*:*CudaPeft*' \
  > "$OUT/cuda_tests.txt" 2>&1; echo "cuda tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |tests ran|Failure" "$OUT/cuda_tests.txt" | head -20
for t in adazeta task; do
  if [ $t = adazeta ]; then rf=experiments/runs/tiny_adazeta.yaml; extra="--varying queries_used --set optimizer.queries_min=2 --set optimizer.queries_target=5 --set optimizer.queries_max=5 --set trainable.mode=adapter --set peft.adapter_bottleneck=8 --set peft.adapter_rank=3 --set engine.probe_batch=4 --set run.steps=30"; else rf=tests/train/invariance_task.yaml; extra="--set task.train=$PWD/experiments/data/movie_reviews/train.tsv --set task.test=$PWD/experiments/data/movie_reviews/test.tsv --set trainable.mode=lora --set engine.probe_batch=2"; fi
  timeout 150 python3 tests/train/check_train_runs.py rank-invariance --zotune build-dev/zotune --repo . --work /tmp/ri_$t --run-file $rf --mpiexec "$(which mpiexec)" --numproc-flag=-n --ranks 1 2 3 $extra --set engine.device=cuda --set engine.share_gpus=true > "$OUT/ri_$t.txt" 2>&1
  echo "rank invariance $t rc=$?"; tail -3 "$OUT/ri_$t.txt"
done
PYTHONPATH=/tmp/site OUT=$OUT/peft SETTINGS=${SETTINGS:-"smollm2-shape llama-2-7b-q8 llama-2-7b-q15"} \
  bash experiments/benchmarks/run_peft_step_bench.sh build-dev/zotune 2>&1 | grep -v "^\s*$" | tail -60
echo "total: $(( $(date +%s) - start )) s"
