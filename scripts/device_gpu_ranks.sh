#!/usr/bin/env bash
# On the GPU machine: the quickstart BSZO run (300 steps) on the CUDA engine with 1 rank, 2
# ranks sharing the GPU (MPI exchange) and 1 rank with the NCCL exchange; prints each log's
# final checksum and last loss (rank-count and backend invariance on the device).
# Usage: OUT=dir bash scripts/device_gpu_ranks.sh   (after scripts/device_gpu_suite.sh built build-dev)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu_ranks}
mkdir -p "$out"
export LD_LIBRARY_PATH=/tmp/ob/usr/lib/x86_64-linux-gnu:/tmp/ob/usr/lib/x86_64-linux-gnu/openblas-pthread:${LD_LIBRARY_PATH:-}
run=experiments/runs/quickstart_bszo.yaml
cuda=(run.steps=300 engine.device=cuda engine.share_gpus=true)
mpirun=(mpirun --allow-run-as-root --oversubscribe)
build-dev/zotune train "$run" "${cuda[@]}" --overwrite --output "$out/p1.h5" | tail -2
"${mpirun[@]}" -np 2 build-dev/zotune train "$run" "${cuda[@]}" --overwrite --output "$out/p2.h5" | tail -2
build-dev/zotune train "$run" "${cuda[@]}" distributed.backend=nccl --overwrite --output "$out/nccl.h5" | tail -2
build-dev/zotune replay "$out/p2.h5" --base tests/fixtures/train/tiny_lm 2>&1 | tail -2
python3 - "$out" <<'PY'
import sys, h5py
for name in ["p1", "p2", "nccl"]:
    with h5py.File(f"{sys.argv[1]}/{name}.h5", "r") as f:
        s = f["summary"]
        get = lambda k: s.attrs[k] if k in s.attrs else (s[k][()] if k in s else None)
        loss = f["steps/loss"][()]
        print(name, "checksum", get("final_checksum"), "status", get("status"), "loss[0]", loss[0], "loss[-1]", loss[-1],
              "engine", get("engine"))
PY
