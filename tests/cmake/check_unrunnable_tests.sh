#!/usr/bin/env bash
# A build that cannot run the end-to-end tests must still list them, and fail them with the
# reason: configures a scratch build tree without MPI, CUDA and h5py (a Python that cannot
# import it), then runs one test of each kind there. Nothing is compiled: the failing tests
# only echo their reason.
#   check_unrunnable_tests.sh SOURCE_DIR SCRATCH_DIR
set -euo pipefail
src=$1 scratch=$2
rm -rf "$scratch"
cmake -S "$src" -B "$scratch" -G Ninja -DZOTUNE_MPI=OFF -DZOTUNE_CUDA=OFF -DZOTUNE_NCCL=OFF \
  -DZOTUNE_CHECK_PYTHON=/bin/false >"$scratch.configure.log" 2>&1 || { cat "$scratch.configure.log"; exit 1; }
grep -q "no Python 3 with h5py and numpy" "$scratch.configure.log" || {
  echo "FAIL: configure did not warn about the missing h5py"; exit 1; }
cd "$scratch"
fail=0
for name in train.rank_invariance_mezo train.learning_mezo grid.executor analysis.compare_runs bench.scaling_invariance_cpu; do
  if ! ctest -N -R "^${name//./\\.}\$" | grep -q "Total Tests: 1"; then
    echo "FAIL: $name is not registered"; fail=1; continue
  fi
  if out=$(ctest -R "^${name//./\\.}\$" --output-on-failure 2>&1); then
    echo "FAIL: $name passed in a build that cannot run it"; fail=1
  elif ! grep -q "CANNOT RUN $name: " <<<"$out"; then
    echo "FAIL: $name failed without saying why:"; echo "$out"; fail=1
  else
    grep -o "CANNOT RUN $name: .*" <<<"$out" | head -1
  fi
done
[ $fail = 0 ] && echo "PASS: every test that cannot run here is listed and fails with its reason"
exit $fail
