#!/usr/bin/env python3
"""End-to-end checks of `zotune grid` on the tiny training model (CTest: grid.*).

  executor   run --jobs 2 trains every run (two at a time, two logs), a second run trains
             nothing and touches no log, status agrees; a deleted log, a failed log and a
             log left 'running' by a dead process are trained again, nothing else is; a
             changed configuration is refused, then trained with --rerun-changed
  resume     the executor killed half way (SIGTERM, then SIGKILL) and started again finishes
             the grid, runs completed before the kill are not trained again, the interrupted
             run is resumed from its log (zotune train --resume)
  collect    collect --csv / --json load in pandas with one row per run and the varying keys
  search     run --search-seed 1: every learning rate with seed 1, then seeds 2 and 3 only at the
             learning rate of each cell's best seed-1 dev value (read here from the logs with
             h5py); the others stay untrained; a second invocation trains nothing; refusals
  train      zotune train RUN key=value from another current directory

Needs h5py and pandas (scripts/setup.sh installs both); the rest is the standard library.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

# Logs are read while their runs write them: no HDF5 file locks (zotune's reader takes none either).
os.environ["HDF5_USE_FILE_LOCKING"] = "FALSE"
import h5py  # noqa: E402


class CheckFailed(Exception):
    pass


def require(cond, message):
    if not cond:
        raise CheckFailed(message)


def zotune(args, *argv, check=True, cwd=None, timeout=300):
    command = [args.zotune, *argv]
    print("$", " ".join(command), flush=True)
    done = subprocess.run(command, cwd=cwd or args.work, capture_output=True, text=True, timeout=timeout)
    sys.stdout.write(done.stdout)
    sys.stdout.write(done.stderr)
    if check:
        require(done.returncode == 0, f"{' '.join(argv)} exited {done.returncode}")
    return done


def write_grid(args, name, steps, extra=""):
    """A grid over the tiny MeZO run: 2 methods x 2 learning rates x 2 seeds."""
    path = os.path.join(args.work, name + ".yaml")
    with open(path, "w") as f:
        f.write(f"""base: {os.path.join(args.repo, 'experiments/runs/tiny_mezo.yaml')}
set:
  run.steps: {steps}
  run.progress: plain
  run.checksum_every: 0
axes:
  optimizer.name: [mezo, bszo]
  optimizer.lr: [1e-3, 3e-4]
seeds: [1, 2]
when:
  - match: {{optimizer.name: bszo}}
    axes: {{optimizer.lr: [3e-3, 1e-3]}}
name: "{{optimizer.name}}-lr{{optimizer.lr}}-s{{run.seed}}"
output: {name}_runs
{extra}""")
    return path


def listing(args, grid):
    return json.loads(zotune(args, "grid", grid, "list", "--json").stdout)


def summary_status(log_path):
    """The log's /summary status; "" for a log being created (not yet readable)."""
    try:
        with h5py.File(log_path, "r") as f:
            status = f["summary"].attrs.get("status", "")
            return status.decode() if isinstance(status, bytes) else str(status)
    except (OSError, KeyError):
        return ""


def set_status(log_path, status):
    with h5py.File(log_path, "r+") as f:
        f["summary"].attrs["status"] = status


def mtimes(runs):
    return {r["name"]: os.stat(r["log"]).st_mtime_ns for r in runs if os.path.exists(r["log"])}


def status_lines(args, grid):
    out = zotune(args, "grid", grid, "status").stdout
    states = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].isdigit() and parts[1] != "runs:":
            states[parts[1]] = parts[2]
    return states


def check_executor(args):
    grid = write_grid(args, "executor", 30)
    runs = listing(args, grid)
    require(len(runs) == 8, f"{len(runs)} runs listed, expected 8")
    for r in runs:
        if os.path.exists(r["log"]):
            os.remove(r["log"])
    done = zotune(args, "grid", grid, "run", "--jobs", "2")
    require(" 2 running" in done.stdout, "the executor never had two runs at once")
    for r in runs:
        require(summary_status(r["log"]) == "completed", f"{r['log']}: not completed")
        require(os.path.getsize(r["log"].replace(".h5", ".out")) > 0, f"{r['name']}: no output file")
    with h5py.File(runs[0]["log"], "r") as a, h5py.File(runs[1]["log"], "r") as b:
        require(a["summary"].attrs["final_checksum"] != b["summary"].attrs["final_checksum"],
                "two runs with different seeds ended on the same checksum")
    require(set(status_lines(args, grid).values()) == {"completed"}, "status does not say completed for every run")

    before = mtimes(runs)
    again = zotune(args, "grid", grid, "run", "--jobs", "2")
    require("nothing to run (8 completed" in again.stdout, "a second run of a completed grid trained something")
    require(mtimes(runs) == before, "a second run of a completed grid touched a log")

    # A deleted log, a failed one and one a dead process left 'running' are trained again.
    os.remove(runs[0]["log"])
    set_status(runs[1]["log"], "failed: injected by check_grid.py")
    set_status(runs[2]["log"], "running")
    states = status_lines(args, grid)
    require(states[runs[0]["name"]] == "pending" and states[runs[1]["name"]] == "failed"
            and states[runs[2]["name"]] == "interrupted", f"status: {states}")
    before = mtimes(runs)
    redo = zotune(args, "grid", grid, "run", "--jobs", "2")
    require("3 runs to train (5 completed" in redo.stdout, "not exactly the three unfinished runs were trained")
    after = mtimes(runs)
    for r in runs[3:]:
        require(after[r["name"]] == before[r["name"]], f"{r['name']} was trained again")
    require(set(status_lines(args, grid).values()) == {"completed"}, "the grid is not completed")

    # Another configuration under the same names: refused, then trained with --rerun-changed. One
    # run was interrupted (its log left 'running'): its logged steps are not overwritten either.
    set_status(runs[2]["log"], "running")
    write_grid(args, "executor", 31)
    before = mtimes(runs)
    refused = zotune(args, "grid", grid, "run", check=False)
    require(refused.returncode == 1 and "another configuration" in refused.stderr, "a changed grid was not refused")
    require(mtimes(runs) == before, "a refused run touched a log")
    require(set(status_lines(args, grid).values()) == {"changed"}, "status does not say changed")
    status = zotune(args, "grid", grid, "status").stdout
    require("interrupted at step 30 with another configuration (run.steps: the log has 30, the run file gives 31)"
            in status, f"status does not say what differs for the interrupted run:\n{status}")
    zotune(args, "grid", grid, "run", "--jobs", "2", "--rerun-changed")
    require(set(status_lines(args, grid).values()) == {"completed"}, "--rerun-changed left runs unfinished")
    print("executor: skip, rerun of pending/failed/interrupted runs, changed configurations: ok")


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise CheckFailed(f"timed out waiting for {what}")


def check_resume(args):
    # Runs of a few seconds each, one at a time, so that a kill lands in the middle of the grid.
    grid = write_grid(args, "resume", args.resume_steps)
    runs = listing(args, grid)
    for r in runs:
        for ext in (".h5", ".pid"):
            if os.path.exists(r["log"][:-3] + ext):
                os.remove(r["log"][:-3] + ext)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        command = [args.zotune, "grid", grid, "run", "--jobs", "1"]
        print("$", " ".join(command), f"(killed with {sig.name} half way)", flush=True)
        executor = subprocess.Popen(command, cwd=args.work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        done_before = sum(1 for r in runs if os.path.exists(r["log"]) and summary_status(r["log"]) == "completed")

        def next_one_running():
            # One more run completed, and another one in the middle of training (its log written).
            completed = sum(1 for r in runs if os.path.exists(r["log"]) and summary_status(r["log"]) == "completed")
            return completed >= done_before + 1 and any(
                os.path.exists(r["log"][:-3] + ".pid") and summary_status(r["log"]) == "running" for r in runs)

        wait_for(next_one_running, 120, "one more completed run and another one training")
        executor.send_signal(sig)
        out, _ = executor.communicate(timeout=60)
        sys.stdout.write(out)
        expected = 128 + sig if sig != signal.SIGKILL else -signal.SIGKILL
        require(executor.returncode == expected, f"executor exit status {executor.returncode}, expected {expected}")
        # Its runs stopped with it: no zotune train of this grid is left.
        wait_for(lambda: subprocess.run(["pgrep", "-f", "resume_runs/.*yaml"], capture_output=True).returncode != 0,
                 20, "the killed executor's runs to stop")
        states = status_lines(args, grid)
        print(f"after {sig.name}: {states}")
        require("interrupted" in states.values(), f"no run is interrupted after {sig.name}: {states}")
        require("running" not in states.values(), f"a run still looks running after {sig.name}: {states}")
    completed = [r for r in runs if os.path.exists(r["log"]) and summary_status(r["log"]) == "completed"]
    before = mtimes(completed)
    finish = zotune(args, "grid", grid, "run", "--jobs", "2")
    require(f"({len(completed)} completed" in finish.stdout, "the restarted executor did not skip the completed runs")
    # The interrupted run goes on from its log (zotune train --resume), not from step 0.
    require("| resumed " in finish.stdout, "the restarted executor did not resume the interrupted run")
    after = mtimes(completed)
    require(all(after[n] == before[n] for n in before), "a run completed before the kill was trained again")
    require(set(status_lines(args, grid).values()) == {"completed"}, "the restarted executor did not finish the grid")
    print(f"resume: {len(completed)} runs completed before the kills kept, the rest finished: ok")


def check_collect(args):
    import pandas as pd

    grid = write_grid(args, "collect", 20)
    zotune(args, "grid", grid, "run", "--jobs", "2")
    csv_path, json_path = os.path.join(args.work, "collect.csv"), os.path.join(args.work, "collect.json")
    zotune(args, "grid", grid, "collect", "--csv", csv_path, "--json", json_path)
    for frame in (pd.read_csv(csv_path), pd.read_json(json_path)):
        require(len(frame) == 8, f"{len(frame)} rows, expected 8")
        for column in ("name", "optimizer.name", "optimizer.lr", "run.seed", "status", "steps", "forward_passes",
                       "seconds", "final_loss", "log"):
            require(column in frame.columns, f"no column {column}: {list(frame.columns)}")
        require((frame["status"] == "completed").all(), "a collected run is not completed")
        require((frame["steps"] == 20).all(), "steps is not 20 in every row")
        require(set(frame["optimizer.name"]) == {"mezo", "bszo"}, "optimizer.name values")
        # MeZO: 2 forward passes per step; BSZO (k = 2, m = 3): 3 per step.
        fw = dict(zip(frame["optimizer.name"], frame["forward_passes"]))
        require(fw["mezo"] == 40 and fw["bszo"] == 60, f"forward passes {fw}")
    print("collect: CSV and JSON load in pandas, 8 rows, varying keys as columns: ok")


def check_search(args):
    """run --search-seed 1 on 2 methods x 3 learning rates x 3 seeds of tiny sst2 runs with dev:
    (a) both stages in one invocation; (b) the search runs trained first, their dev values then set
    by hand (so the selection is not the tie-break alone), the second stage from a new invocation."""
    data = os.path.join(args.repo, "experiments/data/movie_reviews")

    def write(name):
        path = os.path.join(args.work, name + ".yaml")
        with open(path, "w") as f:
            f.write(f"""set:
  model.path: {os.path.join(args.repo, 'tests/fixtures/train/tiny_lm')}
  task.name: sst2
  task.train: {data}/train.tsv
  task.test: {data}/test.tsv
  task.num_train: 32
  task.num_dev: 16
  task.num_test: 24
  task.max_length: 48
  data.batch_size: 4
  run.steps: 12
  run.progress: off
  run.checksum_every: 0
  eval.every: 4
  eval.select: metric
  optimizer.eps: 1e-3
axes:
  optimizer.name: [mezo, bszo]
  optimizer.lr: [3e-2, 1e-2, 3e-3]
seeds: [1, 2, 3]
name: "{{optimizer.name}}-lr{{optimizer.lr}}-s{{run.seed}}"
output: {name}_runs
""")
        return path, listing(args, path)

    def key(r, k):
        return r["varying"][k]

    def dev(run):
        with h5py.File(run["log"], "r") as f:
            return float(f["summary"].attrs["best_dev_accuracy"])

    def check_selection(runs, what):
        """Every search run completed; of the other seeds, exactly those at the lr with the best
        seed-1 dev of their method (ties: the smaller lr) trained. Returns the selected lrs."""
        chosen = {}
        for method in ("mezo", "bszo"):
            search = sorted([r for r in runs if key(r, "optimizer.name") == method and key(r, "run.seed") == "1"],
                            key=lambda r: float(key(r, "optimizer.lr")))
            for r in search:
                require(summary_status(r["log"]) == "completed", f"{what}: search run {r['name']} not completed")
            best = max(search, key=dev)  # first max: the smaller learning rate on ties
            chosen[method] = key(best, "optimizer.lr")
            for r in runs:
                if key(r, "optimizer.name") != method or key(r, "run.seed") == "1":
                    continue
                trained = os.path.exists(r["log"])
                require(trained == (key(r, "optimizer.lr") == chosen[method]),
                        f"{what}: {r['name']} trained {trained}, but {method}'s search selected lr {chosen[method]} "
                        f"(seed-1 dev {[(key(x, 'optimizer.lr'), dev(x)) for x in search]})")
        return chosen

    # (a) One invocation: seed 1 everywhere, then 2 x 2 runs at the selected learning rates.
    path, runs = write("search")
    require(len(runs) == 18, f"{len(runs)} runs listed, expected 18")
    done = zotune(args, "grid", path, "run", "--jobs", "2", "--search-seed", "1")
    require("then, of 12 runs of other seeds" in done.stdout and "8 runs of other seeds not selected" in done.stdout,
            "the executor did not report the two stages")
    check_selection(runs, "one invocation")
    require(sum(os.path.exists(r["log"]) for r in runs) == 10, "not exactly 6 search runs and 4 selected ones trained")
    again = zotune(args, "grid", path, "run", "--search-seed", "1")
    require("nothing to run (10 completed" in again.stdout and "8 runs of other seeds not selected" in again.stdout,
            "a second invocation did not find the two stages done")

    # (b) The search alone, dev values set by hand: MeZO's best is its largest lr (3e-2); BSZO's
    # 3e-2 and 1e-2 tie above 3e-3, so 1e-2 (the smaller of the two).
    path, runs = write("search_set")
    for r in runs:
        if key(r, "run.seed") == "1":
            zotune(args, "grid", path, "run", "--index", str(r["index"]))
    forced = {("mezo", "3e-2"): 0.9, ("bszo", "3e-2"): 0.8, ("bszo", "1e-2"): 0.8}
    for r in runs:
        if key(r, "run.seed") == "1":
            with h5py.File(r["log"], "r+") as f:
                f["summary"].attrs["best_dev_accuracy"] = forced.get((key(r, "optimizer.name"), key(r, "optimizer.lr")), 0.5)
    zotune(args, "grid", path, "run", "--jobs", "2", "--search-seed", "1")
    chosen = check_selection(runs, "search first, then the second stage")
    require(chosen == {"mezo": "3e-2", "bszo": "1e-2"}, f"selected {chosen}, expected mezo 3e-2 and bszo 1e-2")

    bad = zotune(args, "grid", path, "run", "--search-seed", "7", check=False)
    require(bad.returncode == 1 and "not one of the grid's seeds" in bad.stderr, "a seed the grid lacks was not refused")
    bad = zotune(args, "grid", path, "run", "--search-seed", "1", "--index", "0", check=False)
    require(bad.returncode == 1 and "does not go with --index" in bad.stderr, "--search-seed with --index was not refused")
    bad = zotune(args, "grid", path, "run", "--search-seed", "1", "eval.every=0", check=False)
    require(bad.returncode == 1 and "no dev evaluation" in bad.stderr, "a grid without dev evaluation was not refused")
    print("search: seed 1 at every learning rate, seeds 2 and 3 only at each cell's selected one "
          "(one invocation; and after the search, from its logs' dev values): ok")


def check_train_overrides(args):
    """zotune train RUN key=value from a folder that is not the repository: paths resolve."""
    elsewhere = os.path.join(args.work, "elsewhere")
    os.makedirs(elsewhere, exist_ok=True)
    run_file = os.path.join(args.repo, "experiments/runs/tiny_mezo.yaml")
    done = zotune(args, "train", run_file, "optimizer.lr=1e-3", "run.steps=50", "run.progress=off", "--overwrite",
                  cwd=elsewhere)
    require("50 steps" in done.stdout, "the override run.steps=50 did not take")
    log = os.path.join(elsewhere, "runs", "tiny_mezo.h5")
    with h5py.File(log, "r") as f:
        config = f["config"][()].decode()
    require("lr: 1e-3" in config and "steps: 50" in config, f"/config does not hold the overrides:\n{config}")
    bad = zotune(args, "train", run_file, "optimizer.lrr=1e-3", check=False, cwd=elsewhere)
    require(bad.returncode == 1 and "did you mean 'optimizer.lr'" in bad.stderr, "a misspelt override was not refused")
    print("train with overrides from another folder: ok")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=["executor", "resume", "collect", "search", "train"])
    parser.add_argument("--zotune", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--resume-steps", type=int, default=1500)
    args = parser.parse_args()
    args.zotune, args.repo, args.work = map(os.path.abspath, (args.zotune, args.repo, args.work))
    # Every check starts from an empty folder: logs of an earlier build's runs are a grid's
    # state, and a build with other defaults would find them changed.
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work, exist_ok=True)
    try:
        {"executor": check_executor, "resume": check_resume, "collect": check_collect, "search": check_search,
         "train": check_train_overrides}[args.check](args)
    except (CheckFailed, subprocess.TimeoutExpired) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
