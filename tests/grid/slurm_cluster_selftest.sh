#!/usr/bin/env bash
# Proves tests/grid/slurm_cluster.sh gives a usable cluster: a throttled, requeueable job array
# with a pre-timeout signal (the flags `zotune grid slurm` scripts rely on) runs to completion.
# Exit: 0 ok, 77 cluster could not start (CTest skip), 1 real failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cluster=$here/slurm_cluster.sh
JOB_TIMEOUT=${SLURM_SELFTEST_TIMEOUT:-120}

dir=$(mktemp -d /tmp/zotune-slurm.XXXXXX)
cleanup() {
  "$cluster" stop "$dir" || true
  rm -rf "$dir"
}
trap cleanup EXIT
# An interrupted test must still stop the daemons; the EXIT trap runs on the way out.
trap 'exit 130' INT TERM

fail() { echo "slurm_cluster_selftest: FAIL: $*" >&2; exit 1; }

t0=$SECONDS
rc=0
env_lines=$("$cluster" start "$dir") || rc=$?
if ((rc == 77)); then exit 77; fi   # reason already on stderr
((rc == 0)) || fail "slurm_cluster.sh start exited with $rc"
eval "$env_lines"
echo "cluster up in $((SECONDS - t0))s: $env_lines"

out=$dir/out   # job output lives outside the cluster's own files
mkdir -p "$out"
# shellcheck disable=SC2016  # the job, not this shell, expands the wrapped command
jobid=$(sbatch --parsable --array=0-3%2 --requeue --signal=B:USR1@60 --time=5 \
  --output="$out/task_%a.out" --wrap 'echo task $SLURM_ARRAY_TASK_ID on $(hostname)') ||
  fail "sbatch refused the job array"
jobid=${jobid%%;*}   # --parsable prints "id;cluster" on multi-cluster setups
echo "submitted array job $jobid"

# -r lists each array task on its own line; finished tasks drop out of the default state filter.
deadline=$((SECONDS + JOB_TIMEOUT))
while :; do
  left=$(squeue -h -r -o '%i %T' | awk -v j="$jobid" 'index($1, j "_") == 1' || true)
  [ -z "$left" ] && break
  ((SECONDS < deadline)) || fail "array $jobid still queued after ${JOB_TIMEOUT}s:"$'\n'"$left"
  sleep 0.5
done

host=$(hostname)
for i in 0 1 2 3; do
  f=$out/task_$i.out
  [ -f "$f" ] || fail "missing $f (ls: $(ls "$out"))"
  got=$(cat "$f")
  [ "$got" = "task $i on $host" ] || fail "$f contains '$got', expected 'task $i on $host'"
done

# Accounting is off on purpose (no slurmdbd): anything polling for results must use squeue and
# output files, not sacct.
if sacct -n -j "$jobid" >/dev/null 2>&1; then
  echo "note: sacct answered although accounting_storage/none is configured" >&2
fi

echo "ok: 4 array tasks done in $((SECONDS - t0))s total"
