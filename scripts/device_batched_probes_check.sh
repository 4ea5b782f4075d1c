#!/usr/bin/env bash
# Issues 18 and 19 on the GPU machine (carry .carry/debs; .carry/p1, SmolLM2's first part, is
# copied to /tmp when carried, for a chained call that joins it with the second part and runs
# scripts/device_smollm2_sst2.sh):
# builds, runs the CUDA engine tests (PEFT parity, prefixes, batched probes, the stateful
# optimizers against the CPU engine, training) and the batched rank-invariance checks on the
# CUDA engine (3 ranks sharing the GPU); then, where set, the stateful baselines' and
# MeZO-prefix's step times on $BASELINES (shape:dtype ...) and the PEFT step benchmark on
# $SETTINGS (run_peft_step_bench.sh settings). KERNEL_TESTS=1 also builds and runs the kernel
# tests (batched TT and strided GEMMs, prefixed attention, perturbation); INVARIANCE picks the
# invariance checks (default "adazeta task"). Output: $OUT. Used on 2026-12-05 as
#   SETTINGS="smollm2-shape llama-2-7b-q15" INVARIANCE=adazeta BASELINES=smollm2-135m:f32 \
#     bash scripts/device_batched_probes_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
[ -f .carry/p1/part1 ] && cp .carry/p1/part1 /tmp/part1
start=$(date +%s)
bash scripts/device_build.sh .carry/debs zotune zotune_cuda_engine_tests ${KERNEL_TESTS:+zotune_cuda_tests} 2>&1 | tail -2
echo "build: $(( $(date +%s) - start )) s"
export LD_LIBRARY_PATH=/tmp/ob/usr/lib/x86_64-linux-gnu:/tmp/ob/usr/lib/x86_64-linux-gnu/openblas-pthread
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
nvidia-smi --query-gpu=name,clocks.max.sm,power.limit --format=csv,noheader
[ -n "${KERNEL_TESTS:-}" ] && timeout 120 build-dev/tests/zotune_cuda_tests --gtest_filter='CudaTtLinear*:CudaMatmul*:*refix*:*Perturb*' \
  > "$OUT/cuda_kernel_tests.txt" 2>&1
echo "cuda kernel tests rc=$? ($(( $(date +%s) - start )) s)"
grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$OUT/cuda_kernel_tests.txt" | head -20
timeout 200 build-dev/tests/zotune_cuda_engine_tests \
  --gtest_filter='*CudaPeft*:*CudaPrefix*:*CudaOptimizer*:CudaTraining.*:*BatchedProbes*:*PeftGraph*' \
  > "$OUT/cuda_engine_tests.txt" 2>&1
echo "cuda engine tests rc=$? ($(( $(date +%s) - start )) s)"
grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$OUT/cuda_engine_tests.txt" | head -30
for t in ${INVARIANCE:-adazeta task}; do
  if [ $t = adazeta ]; then rf=experiments/runs/tiny_adazeta.yaml; extra="--varying queries_used --set optimizer.queries_min=2 --set optimizer.queries_target=5 --set optimizer.queries_max=5 --set trainable.mode=adapter --set peft.adapter_bottleneck=8 --set peft.adapter_rank=3 --set engine.probe_batch=auto --set run.steps=30"; else rf=tests/train/invariance_task.yaml; extra="--set task.train=$PWD/experiments/data/movie_reviews/train.tsv --set task.test=$PWD/experiments/data/movie_reviews/test.tsv --set trainable.mode=lora --set engine.probe_batch=2"; fi
  timeout 100 python3 tests/train/check_train_runs.py rank-invariance --zotune build-dev/zotune --repo . --work /tmp/ri_$t --run-file $rf --mpiexec "$(which mpiexec)" --numproc-flag=-n --ranks 1 2 3 $extra --set engine.device=cuda --set engine.share_gpus=true > "$OUT/ri_$t.txt" 2>&1
  echo "rank invariance $t rc=$?"; tail -2 "$OUT/ri_$t.txt"
done
if [ -n "${BASELINES:-}" ]; then  # the stateful baselines' full-parameter steps beside MeZO's
  for shape in $BASELINES; do  # e.g. smollm2-135m:f32 opt-1.3b:f16
    timeout 90 build-dev/zotune bench "experiments/benchmarks/shapes/${shape%%:*}" --random --device cuda \
      --dtype "${shape##*:}" --batch 16 --seq 64 --iters 5 --baselines --json "$OUT/baselines_${shape%%:*}.json" 2>&1 \
      | grep -E "step ms|forward|peak|rror"
    for pb in 1 2; do  # MeZO-prefix's step, one probe a forward and both in one
      timeout 60 build-dev/zotune bench "experiments/benchmarks/shapes/${shape%%:*}" --random --device cuda \
        --dtype "${shape##*:}" --batch 16 --seq 64 --iters 5 --peft prefix --probe-batch $pb \
        --json "$OUT/prefix_${shape%%:*}_pb$pb.json" 2>&1 | grep -E "step ms|forward|rror"
    done
  done
fi
if [ -n "${SETTINGS:-}" ]; then  # the PEFT step benchmark too (run_peft_step_bench.sh settings)
  OUT=$OUT/peft ITERS=${ITERS:-3} WARMUP=${WARMUP:-1} bash experiments/benchmarks/run_peft_step_bench.sh build-dev/zotune 2>&1 \
    | grep -v "^\s*$" | tail -60
fi
echo "total: $(( $(date +%s) - start )) s"
