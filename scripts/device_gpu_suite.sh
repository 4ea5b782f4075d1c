#!/usr/bin/env bash
# On the GPU machine (device tool): build, run the CUDA op and engine tests, then the step
# benchmark beside PyTorch (experiments/benchmarks/run_step_bench.sh). Logs go to $OUT.
# Usage: OUT=dir SHAPES="opt-1.3b ..." bash scripts/device_gpu_suite.sh DEB_FOLDER [tests|bench|all]
set -uo pipefail
cd "$(dirname "$0")/.."
debs=${1:?usage: device_gpu_suite.sh DEB_FOLDER [tests|bench|all]}
what=${2:-all}
out=${OUT:-/tmp/gpu_suite}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/device.txt" 2>&1
t0=$(date +%s)
bash scripts/device_build.sh "$debs" zotune zotune_cuda_tests zotune_cuda_engine_tests zotune_perturb_bench || exit 1
echo "build: $(( $(date +%s) - t0 )) s"
export LD_LIBRARY_PATH=/tmp/ob/usr/lib/x86_64-linux-gnu:/tmp/ob/usr/lib/x86_64-linux-gnu/openblas-pthread:${LD_LIBRARY_PATH:-}
if [ "$what" != bench ]; then
  for t in zotune_cuda_tests zotune_cuda_engine_tests; do
    timeout 240 build-dev/tests/$t --gtest_brief=1 > "$out/$t.log" 2>&1
    echo "$t: rc=$? $(grep -E '^\[  (PASSED|FAILED)  \]' "$out/$t.log" | tr '\n' ' ')"
    grep -E "Failure|FAILED|error" -A6 "$out/$t.log" | head -60
  done
fi
if [ "$what" != tests ]; then
  OUT=$out/step_bench ZOTUNE_ARGS="--iters 10" ITERS=10 timeout 480 bash experiments/benchmarks/run_step_bench.sh build-dev/zotune \
    > "$out/step_bench.log" 2>&1
  echo "step bench: rc=$?"
  grep -v "^$" "$out/step_bench.log" | tail -60
fi
