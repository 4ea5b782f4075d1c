#!/usr/bin/env python3
"""Checks that a run log explains itself and can be read by others (issue 20 item 3,
docs/LOGS.md), one subcommand per property, each run by CTest (tests/CMakeLists.txt) and
exiting non-zero when the property fails:

  live-read    plain h5py.File(log, "r") (no locking=False, no HDF5_USE_FILE_LOCKING) opens the
               log of a `zotune train` still running, several times: /steps/loss grows, every
               read is consistent (rows = len(/steps/step), finite losses), `zotune show`
               reads it too; the finished log is complete
  explained    every dataset has `description` and `unit` attributes (the units of loss, ms,
               queries), counts are integers, /config_resolved holds every default and, used
               as a run file, trains the same run (same checksum), /eval has dev_loss and
               dev_accuracy at every evaluation
  show-export  `zotune show --csv`, `--csv --eval` and `--json` hold exactly what h5py reads

Every run writes into --work (a folder of the build tree). Needs h5py and numpy.
"""
import argparse
import csv
import io
import json
import math
import os
import subprocess
import sys
import time

# The property under test is that readers need no special setting: nothing may turn locking
# off for this process or for the zotune it starts.
os.environ.pop("HDF5_USE_FILE_LOCKING", None)

import h5py  # noqa: E402  (after the environment is cleaned)
import numpy as np  # noqa: E402
from check_train_runs import run_file_variant  # noqa: E402  (tests/train, beside this file)


class CheckFailed(Exception):
    pass


def require(condition, message):
    if not condition:
        raise CheckFailed(message)


def text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def write_run_file(args, name, settings):
    """A run file in --work that names --run-file as its base and sets `settings`
    ({"section.key": "yaml value"}); its log goes to <work>/<name>.h5."""
    settings = {"run.output": os.path.join(args.work, name + ".h5"), "run.progress": "off", **settings}
    return run_file_variant(args.run_file, os.path.join(args.work, name + ".yaml"), settings), settings["run.output"]


def zotune(args, argv, check=True):
    print("$", args.zotune, " ".join(argv), flush=True)
    done = subprocess.run([args.zotune, *argv], cwd=args.work, capture_output=True, text=True, timeout=300)
    if check:
        sys.stderr.write(done.stderr)
        require(done.returncode == 0, f"zotune {' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done


def train(args, name, settings):
    run_file, log = write_run_file(args, name, settings)
    zotune(args, ["train", "--overwrite", run_file])
    return log


# ---------------------------------------------------------------------------------------


def check_live_read(args):
    steps = 600
    run_file, log = write_run_file(args, "live", {"run.steps": steps, "run.flush_every": 5, "eval.every": 100,
                                                  "optimizer.lr": "1e-3"})
    if os.path.exists(log):
        os.remove(log)
    print("$", args.zotune, "train --overwrite", run_file, flush=True)
    proc = subprocess.Popen([args.zotune, "train", "--overwrite", run_file], cwd=args.work,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rows_seen, failures, shown = [], [], False
    deadline = time.time() + 240
    try:
        while proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
            if not os.path.exists(log):
                continue
            try:
                with h5py.File(log, "r") as f:  # plain: the property under test
                    if "loss" not in f["steps"]:
                        continue  # no step flushed yet
                    rows = len(f["steps/step"])
                    loss = f["steps/loss"][:rows]
                    status = text(f["summary"].attrs["status"])
                    eval_rows = len(f["eval/step"])
            except (OSError, RuntimeError) as e:  # a read that overlapped a flush (docs/LOGS.md): h5py
                # raises OSError for most HDF5 errors, RuntimeError for some (an address overflow)
                failures.append(str(e))
                continue
            require(len(loss) == rows, f"live read: /steps/loss has {len(loss)} of {rows} rows")
            require(bool(np.all(np.isfinite(loss))), f"live read: non-finite loss in the first {rows} rows: {loss}")
            if rows < steps:  # read while the run was still stepping
                require(status == "running", f"live read at {rows} of {steps} steps: status {status!r}")
                rows_seen.append(rows)
                print(f"  read while running: {rows} steps, {eval_rows} evaluations", flush=True)
                if not shown and rows > 0:
                    # zotune's own reader (a forked child, locking off) on the live log.
                    done = zotune(args, ["show", log, "--csv"])
                    require(len(done.stdout.splitlines()) >= rows + 1,
                            f"zotune show --csv of the live log: {len(done.stdout.splitlines())} lines, expected >= {rows + 1}")
                    shown = True
        output = proc.communicate(timeout=max(1, deadline - time.time()))[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    sys.stdout.write(output)
    require(proc.returncode == 0, f"zotune train exited {proc.returncode}")
    print(f"{len(rows_seen)} reads while the run wrote, {len(failures)} failed (overlapping a flush)"
          + (f": {failures[:3]}" if failures else ""))
    require(len(rows_seen) >= 5, f"only {len(rows_seen)} successful reads of the live log (failures: {failures[:3]})")
    require(all(a <= b for a, b in zip(rows_seen, rows_seen[1:])), f"row counts went back: {rows_seen}")
    require(len(set(rows_seen)) >= 3, f"/steps/loss did not grow across the reads: {rows_seen}")
    require(rows_seen[-1] < steps, f"every read came after the last step ({rows_seen[-1]} rows)")
    require(len(failures) <= len(rows_seen), f"most reads failed: {failures[:3]}")
    with h5py.File(log, "r") as f:
        require(len(f["steps/step"]) == steps and len(f["steps/loss"]) == steps,
                f"the finished log has {len(f['steps/step'])} rows, expected {steps}")
        require(text(f["summary"].attrs["status"]) == "completed", "the finished log's status is not completed")
        require(list(f["eval/step"][:]) == list(range(0, steps + 1, 100)), f"/eval/step {f['eval/step'][:]}")


def check_explained(args):
    log = train(args, "explained", {})
    with h5py.File(log, "r") as f:
        for group in ("steps", "updates", "eval"):
            for name, dset in f[group].items():
                attrs = {k: text(v) for k, v in dset.attrs.items()}
                require("description" in attrs and attrs["description"], f"/{group}/{name}: no description attribute")
                require("unit" in attrs, f"/{group}/{name}: no unit attribute")
        units = {name: text(f["steps"][name].attrs["unit"]) for name in ("loss", "ms", "queries", "step")}
        require(units == {"loss": "nats", "ms": "ms", "queries": "count", "step": "step"}, f"units {units}")
        for count in ("queries", "exchange_calls", "exchange_bytes", "allreduce_bytes", "peak_memory_bytes"):
            dtype = f["steps"][count].dtype
            require(np.issubdtype(dtype, np.integer), f"/steps/{count} is {dtype}, expected an integer type")
        require(f["steps/loss"].dtype == np.float64, f"/steps/loss is {f['steps/loss'].dtype}")
        summary_steps = f["summary"].attrs["steps"]
        require(isinstance(summary_steps, (np.integer, int)), f"/summary steps is {type(summary_steps)}")

        config = text(f["config"][()])
        resolved = text(f["config_resolved"][()])
        defaults = [line[4:] for line in config.splitlines() if line.startswith("#   ")]
        require(len(defaults) > 5, f"/config lists {len(defaults)} defaults")
        for line in defaults:
            require(f"\n  {line}\n" in resolved, f"/config_resolved lacks the default '{line}'")

        eval_steps = list(f["eval/step"][:])
        require(eval_steps == [0, 4, 8, 12], f"/eval/step {eval_steps}")
        for metric in ("dev_loss", "dev_accuracy"):
            require(metric in f["eval"], f"/eval has no {metric}")
            values = f["eval"][metric][:]
            require(bool(np.all(np.isfinite(values))), f"/eval/{metric} {values}")
        checksum = text(f["summary"].attrs["final_checksum"])

    # The resolved configuration is a run file of the same run.
    resolved_file = os.path.join(args.work, "resolved.yaml")
    with open(resolved_file, "w", encoding="utf-8") as out:
        out.write(resolved)
    again = os.path.join(args.work, "again.h5")
    zotune(args, ["train", "--overwrite", resolved_file, f"run.output={again}"])
    with h5py.File(again, "r") as f:
        require(text(f["summary"].attrs["final_checksum"]) == checksum,
                f"/config_resolved trained to {text(f['summary'].attrs['final_checksum'])}, the run to {checksum}")
    print(f"ok: every dataset described, counts int64, /config_resolved reproduces checksum {checksum}")


def missing(value, dset):
    return (np.issubdtype(dset.dtype, np.integer) and value == dset.fillvalue) or (
        np.issubdtype(dset.dtype, np.floating) and math.isnan(value))


def check_table_csv(out, group, what):
    rows = list(csv.reader(io.StringIO(out)))
    rows_logged = len(group["step"])
    names = sorted(n for n in group if n != "step" and "." not in n)
    require(rows[0] == ["step"] + names, f"{what} header {rows[0]}, expected {['step'] + names}")
    require(len(rows) == rows_logged + 1, f"{what}: {len(rows) - 1} rows, the log {rows_logged}")
    for i, row in enumerate(rows[1:]):
        require(int(row[0]) == group["step"][i], f"{what} row {i}: step {row[0]}")
        for name, field in zip(names, row[1:]):
            value = group[name][i]
            if missing(value, group[name]):
                require(field == "", f"{what} row {i} {name}: '{field}' for a missing value")
            else:
                require(field != "" and float(field) == float(value), f"{what} row {i} {name}: '{field}' != {value!r}")


def check_show_export(args):
    log = train(args, "exported", {})
    with h5py.File(log, "r") as f:
        check_table_csv(zotune(args, ["show", log, "--csv"]).stdout, f["steps"], "--csv")
        check_table_csv(zotune(args, ["show", log, "--csv", "--eval"]).stdout, f["eval"], "--csv --eval")
        doc = json.loads(zotune(args, ["show", log, "--json"]).stdout)
        require(doc["format"] == "zotune-run-log" and doc["format_version"] == 1, "--json: format")
        require(doc["config"] == text(f["config"][()]), "--json config differs from /config")
        require(doc["config_resolved"] == text(f["config_resolved"][()]), "--json config_resolved differs")
        require(doc["provenance"]["ranks"] == int(f["provenance"].attrs["ranks"]), "--json provenance ranks")
        for key, value in f["summary"].attrs.items():
            got = doc["summary"].get(key)
            if isinstance(value, (str, bytes)):
                require(got == text(value), f"--json summary {key}: {got!r} != {text(value)!r}")
            else:
                require(got == value.item(), f"--json summary {key}: {got!r} != {value!r}")
                require(isinstance(got, int) == np.issubdtype(value.dtype, np.integer), f"--json summary {key}: {got!r}")
        require(set(doc["summary"]) == set(f["summary"].attrs), "--json summary keys")
        for group_name in ("steps", "eval"):
            group, table = f[group_name], doc[group_name]
            require(table["rows"] == len(group["step"]) and table["step"] == [int(s) for s in group["step"]],
                    f"--json {group_name} steps")
            names = sorted(n for n in group if n != "step" and "." not in n)
            require(sorted(table["series"]) == names, f"--json {group_name} series {sorted(table['series'])}")
            for name in names:
                dset = group[name]
                attrs = table["attributes"][name]
                require(attrs == {"description": text(dset.attrs["description"]), "unit": text(dset.attrs["unit"])},
                        f"--json {group_name}/{name} attributes {attrs}")
                for i, got in enumerate(table["series"][name]):
                    value = dset[i]
                    if missing(value, dset):
                        require(got is None, f"--json {group_name}/{name}[{i}]: {got!r} for a missing value")
                    else:
                        require(got == value.item(), f"--json {group_name}/{name}[{i}]: {got!r} != {value!r}")
                        require(isinstance(got, int) == np.issubdtype(dset.dtype, np.integer),
                                f"--json {group_name}/{name}[{i}]: {got!r} is not of the dataset's kind ({dset.dtype})")
        require("dev_loss" in doc["eval"]["series"], "--json eval has no dev_loss")
        require(doc["updates"]["rows"] == len(f["updates/step"]), "--json updates rows")
    for bad in (["--eval"], ["--csv", "--json"], ["--json", "--series", "loss"]):
        done = zotune(args, ["show", log, *bad], check=False)
        require(done.returncode != 0, f"zotune show {' '.join(bad)} was accepted")
    print("ok: --csv, --csv --eval and --json hold what h5py reads")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=["live-read", "explained", "show-export"])
    parser.add_argument("--zotune", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--run-file", required=True, help="the run file the checks' run files take as their base")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    checks = {"live-read": check_live_read, "explained": check_explained, "show-export": check_show_export}
    try:
        checks[args.check](args)
    except CheckFailed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
