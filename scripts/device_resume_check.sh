#!/usr/bin/env bash
# Resume on the CUDA engine (issue 17): a run stopped by SIGTERM at a random step and resumed
# with `zotune train --resume` must end on the uninterrupted run's checksum with the same
# /steps, /updates and /eval series, as on the CPU (tests/train/check_train_runs.py kill-resume,
# which CTest runs on the CPU engine). Run it on a machine with a GPU:
#
#   scripts/device_resume_check.sh build/zotune [WORK_DIR]
#
# Cases: MeZO and BSZO on 1 rank, MeZO in the reference perturbation mode on 1 rank, MeZO on 2
# ranks over MPI (sharing the GPU when there is one), and with two GPUs or more MeZO on 2 ranks
# over NCCL and a hung rank under NCCL (ncclCommAbort after distributed.timeout_s). Each case
# prints "passed (...)" or "FAILED (...)"; the script exits non-zero when any fails.
set -uo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 ZOTUNE_BINARY [WORK_DIR]" >&2
  exit 2
fi
zotune=$(realpath "$1")
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${2:-$(mktemp -d /tmp/zotune_device_resume.XXXXXX)}
mkdir -p "$work"
python=""
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c "import h5py, numpy" 2>/dev/null; then python=$candidate; break; fi
done
[ -n "$python" ] || { echo "no Python 3 with h5py and numpy" >&2; exit 2; }
mpiexec=$(command -v mpiexec || command -v mpirun || true)
gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
echo "zotune $zotune, $gpus GPU(s), work in $work, mpiexec ${mpiexec:-none}"

failed=0
check() {  # check NAME SUBCOMMAND RUN_FILE [arguments...]
  local name=$1 subcommand=$2 run_file=$3
  shift 3
  local mpi=()
  [ -n "$mpiexec" ] && mpi=(--mpiexec "$mpiexec" --numproc-flag=-np)
  echo "=== $name"
  if ! "$python" "$repo/tests/train/check_train_runs.py" "$subcommand" --zotune "$zotune" --repo "$repo" \
      --work "$work/$name" --run-file "$run_file" "${mpi[@]}" "$@"; then
    failed=$((failed + 1))
  fi
}
tiny_mezo=$repo/experiments/runs/tiny_mezo.yaml
check cuda_mezo_1rank kill-resume "$tiny_mezo" --ranks 1 --steps 3000 --set engine.device=cuda
check cuda_bszo_1rank kill-resume "$repo/tests/train/invariance_bszo.yaml" --ranks 1 --steps 2000 --set engine.device=cuda
check cuda_reference_1rank kill-resume "$tiny_mezo" --ranks 1 --steps 3000 --set engine.device=cuda \
  --set model.perturbation=reference
if [ -n "$mpiexec" ]; then
  # 30000 steps: a 2-rank GPU step of the tiny model takes ~0.6 ms, and a 3000-step run can end
  # before the signal the test sends once step N is logged reaches it.
  check cuda_mezo_2ranks_mpi kill-resume "$tiny_mezo" --ranks 2 --steps 30000 --set engine.device=cuda \
    --set engine.share_gpus=true
  if [ "$gpus" -ge 2 ]; then
    check cuda_mezo_2ranks_nccl kill-resume "$tiny_mezo" --ranks 2 --steps 30000 --set engine.device=cuda \
      --set distributed.backend=nccl
    check cuda_hung_rank_nccl hung-rank "$tiny_mezo" --set engine.device=cuda --set distributed.backend=nccl
  fi
fi
echo "device resume check: $failed case(s) failed"
[ "$failed" -eq 0 ]
