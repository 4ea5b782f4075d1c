#!/usr/bin/env bash
# Throwaway one-node Slurm cluster for tests, entirely inside one folder.
#
#   slurm_cluster.sh start DIR   # prints `export ...` lines on stdout; exit 77 if it cannot start
#   slurm_cluster.sh stop DIR    # bounded, idempotent
#
# Typical caller:
#   dir=$(mktemp -d); trap 'tests/grid/slurm_cluster.sh stop "$dir"; rm -rf "$dir"' EXIT
#   eval "$(tests/grid/slurm_cluster.sh start "$dir")"
#
# Runs as root because slurmd must be able to run jobs as the submitting user and we want no
# /etc changes; every path (config, state, spool, logs, pids, munge key and socket) lives in DIR
# so it never touches /etc/slurm or the system munged. No cgroup plugins, so it also works in
# containers (gVisor, docker) without a cgroup hierarchy to delegate.
set -euo pipefail

SKIP=77
START_TIMEOUT=${SLURM_CLUSTER_START_TIMEOUT:-30}
STOP_TIMEOUT=${SLURM_CLUSTER_STOP_TIMEOUT:-10}

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
verb=$1
# Absolute: slurm.conf paths and the process marker must not depend on the caller's cwd.
dir=$(cd "$2" 2>/dev/null && pwd -P || realpath -m "$2")
conf=$dir/slurm.conf
# Every daemon we start carries this variable, so `stop` can still find ours if a pid file is
# lost, without ever touching processes of another cluster or of the system.
marker="ZOTUNE_SLURM_CLUSTER_DIR=$dir"

log_tail() {  # indented tail of a log, so the reason line stays the first line of stderr
  local f
  for f in "$@"; do
    [ -s "$f" ] || continue
    echo "  --- tail of $f"
    tail -n 15 "$f" | sed 's/^/  | /'
  done
}

# A zombie counts as dead: some container inits (gVisor) never reap orphans.
pid_alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# Pids of processes this cluster started: the daemons (they carry our marker), slurmstepds
# (setproctitle wipes their environ, but they keep our slurmd.log open) and job processes (a job
# environment holds both SLURM_JOB_ID and our SLURM_CONF; the caller's shell has only the
# latter, so it is never matched).
marked_pids() {
  local e pid fd
  for e in /proc/[0-9]*/environ; do
    pid=${e#/proc/}; pid=${pid%/environ}
    [ "$pid" = "$$" ] && continue
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = slurmstepd ]; then
      for fd in "/proc/$pid"/fd/*; do
        [[ "$(readlink "$fd" 2>/dev/null)" == "$dir/slurmd.log"* ]] && { echo "$pid"; break; }
      done
      continue
    fi
    # Redirect stderr first: processes vanish mid-scan and some environ files are unreadable.
    tr '\0' '\n' 2>/dev/null <"$e" |
      awk -v m="$marker" -v c="SLURM_CONF=$conf" \
        '$0 == m {ours = 1} $0 == c {conf = 1} /^SLURM_JOB_ID=/ {job = 1}
         END {exit !(ours || (conf && job))}' && echo "$pid"
  done 2>/dev/null
  return 0
}

stop_cluster() {
  [ -d "$dir" ] || return 0
  local name pid pids=() deadline
  # Cancel jobs first so slurmd reaps its steps cleanly instead of leaving orphans behind.
  if [ -f "$conf" ] && [ -f "$dir/slurmctld.pid" ] && pid_alive "$(cat "$dir/slurmctld.pid")"; then
    SLURM_CONF=$conf timeout 5 scancel --quiet --user="$(id -un)" >/dev/null 2>&1 || true
    deadline=$((SECONDS + 5))
    while ((SECONDS < deadline)) &&
      [ -n "$(SLURM_CONF=$conf timeout 3 squeue -h -o %i 2>/dev/null || true)" ]; do
      sleep 0.2
    done
  fi
  # Reverse start order: munged last so slurmd/slurmctld can still authenticate while exiting.
  for name in slurmd slurmctld munged; do
    pid=$(cat "$dir/$name.pid" 2>/dev/null || true)
    if pid_alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); fi
  done
  deadline=$((SECONDS + STOP_TIMEOUT))
  for pid in "${pids[@]}"; do
    while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  done
  # Anything left over that we started (e.g. a slurmstepd stuck after slurmd died).
  for pid in $(marked_pids); do kill -KILL "$pid" 2>/dev/null || true; done
  rm -f "$dir"/slurmd.pid "$dir"/slurmctld.pid "$dir"/munged.pid
}

fail() {  # fail REASON [LOG...]: one-line reason, log tails, clean up, skip code
  local reason=$1; shift
  {
    echo "slurm_cluster: cannot start: $reason"
    log_tail "$@"
  } >&2
  stop_cluster >/dev/null 2>&1 || true
  exit "$SKIP"
}

# Two distinct free TCP ports. Asking the kernel (bind to port 0) avoids guessing; the tiny
# race until the daemons bind is acceptable for tests.
free_ports() {
  if command -v python3 >/dev/null; then
    python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
  else
    local p ports=()
    while ((${#ports[@]} < 2)); do
      p=$((20000 + RANDOM % 30000))
      [[ " ${ports[*]} " == *" $p "* ]] && continue
      ss -Htln "sport = :$p" 2>/dev/null | grep -q . || ports+=("$p")
    done
    echo "${ports[*]}"
  fi
}

# Start a daemon in the foreground flavour, in its own session (so a Ctrl-C aimed at the test
# does not half-kill the cluster; `stop` does that), with no inherited stdout: callers use
# $(...) and would otherwise hang until the daemon exits. setsid execs in place (this
# non-interactive shell never makes its children group leaders), so $! is the daemon itself.
launch() {
  local name=$1; shift
  env "$marker" SLURM_CONF="$conf" setsid "$@" </dev/null >>"$dir/$name.out" 2>&1 &
  echo $! >"$dir/$name.pid"
}

start_cluster() {
  [ "$(id -u)" -eq 0 ] || fail "must run as root (slurmd runs jobs as other users; uid $(id -u))"
  local cmd
  for cmd in munged slurmctld slurmd sinfo squeue sbatch scancel setsid; do
    command -v "$cmd" >/dev/null || fail "command '$cmd' not found (run scripts/setup.sh)"
  done
  mkdir -p "$dir" 2>/dev/null || fail "cannot create $dir"
  # A leftover cluster in the same folder would fight over pid files and ports.
  stop_cluster >/dev/null 2>&1 || true

  local host cpus mem_avail_mb real_mem ctld_port slurmd_port
  host=$(hostname -s)
  cpus=$(nproc)
  mem_avail_mb=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
  # Below available memory: slurmd drains a node that reports less than configured.
  real_mem=$((mem_avail_mb * 9 / 10))
  ((real_mem >= 100)) || real_mem=100
  read -r ctld_port slurmd_port < <(free_ports) || fail "could not find free TCP ports"

  mkdir -p "$dir/state" "$dir/spool"
  # munged refuses a socket directory others can write to; others may traverse it so that a
  # non-root client (sbatch as a test user) can still reach the munge socket.
  chmod 711 "$dir"
  : >"$dir/plugstack.conf"  # keep /etc/slurm/plugstack.conf (SPANK plugins) out of the picture
  rm -f "$dir"/*.out "$dir"/*.log

  cat >"$conf" <<EOF
# Generated by tests/grid/slurm_cluster.sh; throwaway test cluster.
ClusterName=zotune-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.daemon.pid
SlurmdPidFile=$dir/slurmd.daemon.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$dir/plugstack.conf
# No cgroups: containers rarely delegate a writable hierarchy.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
# Several 1-CPU jobs share the node at once.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Jobs start right after submission or after a slot frees, and finished jobs leave squeue fast.
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1,batch_sched_delay=0,sched_min_interval=0
MinJobAge=5
KillWait=2
MessageTimeout=10
SlurmdTimeout=30
SlurmctldTimeout=30
InactiveLimit=0
ReturnToService=2
MaxArraySize=100001
MaxJobCount=200000
# Trust the configured node size; a container's view of the hardware may differ.
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF

  # munge with its own key, socket, seed, log and pid in DIR; --force lets it run as root with
  # DIR under /tmp (sticky world-writable parent), which it otherwise rejects.
  if [ ! -s "$dir/munge.key" ]; then
    (umask 077 && head -c 1024 /dev/urandom >"$dir/munge.key")
  fi
  chmod 400 "$dir/munge.key"
  launch munged munged --foreground --force \
    --socket="$dir/munge.socket" --key-file="$dir/munge.key" --pid-file="$dir/munged.daemon.pid" \
    --seed-file="$dir/munged.seed" --log-file="$dir/munged.log" --num-threads=2
  local deadline=$((SECONDS + START_TIMEOUT))
  until [ -S "$dir/munge.socket" ]; do
    pid_alive "$(cat "$dir/munged.pid")" || fail "munged exited" "$dir/munged.log" "$dir/munged.out"
    ((SECONDS < deadline)) || fail "munged socket did not appear within ${START_TIMEOUT}s" "$dir/munged.log"
    sleep 0.1
  done

  # -D keeps each daemon as the very pid we recorded; -c starts from empty state even when the
  # folder is reused, so old jobs never reappear.
  launch slurmctld slurmctld -D -c -f "$conf"
  launch slurmd slurmd -D -f "$conf" -N "$host"

  local state=""
  while :; do
    pid_alive "$(cat "$dir/munged.pid")" || fail "munged exited" "$dir/munged.log" "$dir/munged.out"
    pid_alive "$(cat "$dir/slurmctld.pid")" ||
      fail "slurmctld exited" "$dir/slurmctld.log" "$dir/slurmctld.out"
    pid_alive "$(cat "$dir/slurmd.pid")" || fail "slurmd exited" "$dir/slurmd.log" "$dir/slurmd.out"
    state=$(SLURM_CONF=$conf timeout 5 sinfo -h -n "$host" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    ((SECONDS < deadline)) ||
      fail "node $host not idle within ${START_TIMEOUT}s (state '${state:-unknown}')" \
        "$dir/slurmctld.log" "$dir/slurmd.log"
    sleep 0.2
  done

  echo "export SLURM_CONF=$conf"
}

case $verb in
  start) start_cluster ;;
  stop) stop_cluster ;;
  *) usage ;;
esac
