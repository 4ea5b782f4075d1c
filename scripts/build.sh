#!/usr/bin/env bash
# Configures and builds zotune into build/ (Release). CUDA is built when nvcc is found
# (on PATH or in /usr/local/cuda); pass extra CMake arguments after the script name, and the
# ninja targets to build in ZOTUNE_TARGETS (default: everything, tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >build.configure.log 2>&1 || {
  cat build.configure.log >&2; exit 1; }
grep -E "^-- zotune:" build.configure.log || true
ninja -C build -j "$(nproc)" ${ZOTUNE_TARGETS:-} >build.log 2>&1 || { tail -60 build.log >&2; exit 1; }
echo "build: ok (build/zotune)"
