#!/usr/bin/env bash
# Issue 18 on the GPU machine (one call of the device tool, carry .carry/debs and .carry/m1):
# builds, runs the batched-probe tests of both engines, the batched rank-invariance checks on
# the CUDA engine (3 ranks sharing the GPU), and `zotune bench --peft` on the Llama-2-7B shape
# (random bf16 weights), one probe a forward against every probe of a step in one forward.
# JSON results go to $OUT.
cp .carry/m1/part1 /tmp/part1
bash scripts/device_build.sh .carry/debs zotune zotune_tests zotune_cuda_engine_tests 2>&1 | tail -2
export LD_LIBRARY_PATH=/tmp/ob/usr/lib/x86_64-linux-gnu:/tmp/ob/usr/lib/x86_64-linux-gnu/openblas-pthread
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 200 build-dev/tests/zotune_cuda_engine_tests --gtest_filter='*BatchedProbes*:*PeftGraph*:*Training*' 2>&1 | grep -E "FAILED|PASSED|Failure|rel_error|Which|group" | head -30
timeout 60 build-dev/tests/zotune_tests --gtest_filter='BatchedProbe*' | tail -1
for t in adazeta task; do
  if [ $t = adazeta ]; then rf=experiments/runs/tiny_adazeta.yaml; extra="--varying queries_used --set optimizer.queries_min=2 --set optimizer.queries_target=5 --set optimizer.queries_max=5 --set trainable.mode=adapter --set peft.adapter_bottleneck=8 --set peft.adapter_rank=3 --set engine.probe_batch=4 --set run.steps=30"; else rf=tests/train/invariance_task.yaml; extra="--set task.train=$PWD/experiments/data/movie_reviews/train.tsv --set task.test=$PWD/experiments/data/movie_reviews/test.tsv --set trainable.mode=lora --set engine.probe_batch=2"; fi
  timeout 120 python3 tests/train/check_train_runs.py rank-invariance --zotune build-dev/zotune --repo . --work /tmp/ri_$t --run-file $rf --mpiexec $(which mpiexec) --numproc-flag=-n --ranks 1 2 3 $extra --set engine.device=cuda --set engine.share_gpus=true 2>&1 | grep -E "PASS|FAIL|rror" | head -5
done
for q in "adapter 8 1" "adapter 8 16" "adapter 15 1" "adapter 15 30" "lora 1 1" "lora 1 2"; do set -- $q
  timeout 100 build-dev/zotune bench experiments/benchmarks/shapes/llama-2-7b --random --device cuda --dtype bf16 --batch 16 --seq 128 --iters 5 --peft $1 --queries $2 --probe-batch $3 --json $OUT/z7b_$1_q$2_pb$3.json 2>&1 | grep -E "step ms|forward|peak|rror"
done
