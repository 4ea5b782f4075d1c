#!/usr/bin/env python3
"""The Python analysis package on real run logs (CTest: analysis.package).

Trains three tiny runs with zotune (MeZO on the toy corpus; MeZO on the shipped movie reviews
with dev evaluations; a run whose model is missing, so its log holds no step), installs
analysis/ with `pip install --target` (offline: --no-build-isolation --no-deps --no-index, from
a copy so the checkout gets no build folder), then from outside the checkout, with only the
install on PYTHONPATH:
  - zotune_log.load() gives DataFrames whose values are the file's (read back with h5py), the
    config as keys, the summary, and units/descriptions where the log has them;
  - zotune-plot (the console script) writes an image of all three, naming the failed log;
  - zotune-compare-runs without flags prints a row for every run (the failed one as "no
    training loss logged"), exit 0; on the failed log alone it exits 1 with a message; on a
    file that is not a run log it names the file; never a traceback;
  - the smoothing and the default threshold on known inputs;
and the uninstalled scripts (python3 analysis/zotune_log.py, analysis/compare_runs.py) still run.

Needs h5py, numpy, pandas, matplotlib and pip (scripts/setup.sh installs them).
"""
import argparse
import os
import shutil
import sys

os.environ["HDF5_USE_FILE_LOCKING"] = "FALSE"
import h5py  # noqa: E402
import numpy as np  # noqa: E402
from check_util import CheckFailed, require, run  # noqa: E402  (tests/analysis, beside this file)


def train_logs(args, work):
    repo = args.repo
    logs = {name: os.path.join(work, name + ".h5") for name in ("tiny_mezo", "reviews", "missing")}
    for path in logs.values():
        if os.path.exists(path):
            os.remove(path)
    run([args.zotune, "train", os.path.join(repo, "experiments/runs/tiny_mezo.yaml"), "run.steps=60",
         "run.progress=off", "run.output=" + logs["tiny_mezo"]])
    reviews = os.path.join(repo, "experiments/data/movie_reviews")
    run([args.zotune, "train", os.path.join(repo, "tests/train/invariance_task.yaml"), "run.steps=16",
         "run.progress=off", "task.train=" + os.path.join(reviews, "train.tsv"),
         "task.test=" + os.path.join(reviews, "test.tsv"), "run.output=" + logs["reviews"]])
    run([args.zotune, "train", os.path.join(repo, "tests/train/missing_model.yaml"), "run.progress=off",
         "run.output=" + logs["missing"]], expect_rc=None)
    for name, path in logs.items():
        require(os.path.isfile(path), f"{name}: zotune train wrote no log at {path}")
    return logs


def install(args, work):
    source = os.path.join(work, "src")
    site = os.path.join(work, "site")
    for d in (source, site):
        shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(os.path.join(args.repo, "analysis"), source,
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    run([sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-deps", "--no-index",
         "--target", site, source])
    for name in ("zotune_log.py", "zotune_analysis/__init__.py", "bin/zotune-plot", "bin/zotune-compare-runs",
                 "bin/zotune-log"):
        require(os.path.exists(os.path.join(site, name)), f"pip install --target {site}: no {name}")
    return site


# Run in a child with only the install on the path (cwd outside the checkout).
LOAD_CHECK = r'''
import json, sys
import numpy as np, h5py
import zotune_log
import zotune_analysis
assert zotune_log.__file__.startswith(sys.argv[1]), zotune_log.__file__
assert zotune_log is zotune_analysis.zotune_log, "zotune_log and zotune_analysis.zotune_log differ"
logs = json.loads(sys.argv[2])
out = {}
for name, path in logs.items():
    run = zotune_log.load(path)
    with h5py.File(path, "r") as f:
        rows = len(f["steps/step"]) if "step" in f["steps"] else 0
        file_loss = f["steps/loss"][:rows] if "loss" in f["steps"] else None
        eval_rows = len(f["eval/step"]) if "step" in f["eval"] else 0
        file_status = f["summary"].attrs.get("status")
    file_status = file_status.decode() if isinstance(file_status, bytes) else file_status
    assert len(run.steps) == rows, (name, len(run.steps), rows)
    if file_loss is not None:
        assert np.array_equal(run.steps["loss"].to_numpy(dtype=float), file_loss.astype(float)), name
    assert len(run.eval) == eval_rows, (name, len(run.eval), eval_rows)
    assert run.status == file_status, (name, run.status, file_status)
    assert len(run.summary) == 1
    out[name] = {
        "rows": rows, "columns": list(run.steps.columns), "eval_columns": list(run.eval.columns),
        "status": run.status, "optimizer": run.config["value"].get("optimizer.name"),
        "steps_key": run.config["value"].get("run.steps"),
        "queries_dtype": str(run.steps["queries"].dtype) if "queries" in run.steps else None,
        "units": run.units, "best_step": run.summary_dict().get("best_step"),
    }
print(json.dumps(out, default=str))
'''


def check_load(args, site, logs, work):
    env = dict(os.environ, PYTHONPATH=site)
    p = run([sys.executable, "-c", LOAD_CHECK, site, __import__("json").dumps(logs)], env=env, cwd=work)
    result = __import__("json").loads(p.stdout.strip().splitlines()[-1])
    mezo, reviews, missing = result["tiny_mezo"], result["reviews"], result["missing"]
    require(mezo["rows"] == 60, f"tiny_mezo: {mezo['rows']} rows loaded, expected 60 (run.steps=60)")
    require({"step", "loss", "queries"} <= set(mezo["columns"]), f"tiny_mezo: steps columns {mezo['columns']}")
    require(mezo["status"] == "completed", f"tiny_mezo: status {mezo['status']!r}")
    require(mezo["optimizer"] == "mezo" and str(mezo["steps_key"]) == "60",
            f"tiny_mezo: config frame gives optimizer.name={mezo['optimizer']!r} run.steps={mezo['steps_key']!r}")
    require(mezo["queries_dtype"] == "Int64", f"tiny_mezo: queries loaded as {mezo['queries_dtype']}, expected Int64")
    if mezo["units"]:  # logs that carry units (issue 20): the loss is in nats
        require(mezo["units"].get("loss") == "nats", f"tiny_mezo: loss unit {mezo['units'].get('loss')!r}")
    require(reviews["rows"] == 16, f"reviews: {reviews['rows']} rows")
    require(any(c.startswith("dev_") for c in reviews["eval_columns"]), f"reviews: eval columns {reviews['eval_columns']}")
    require(reviews["best_step"] is not None, "reviews: no best_step in the summary")
    require(missing["rows"] == 0 and missing["status"].startswith("failed"),
            f"missing: {missing['rows']} rows, status {missing['status']!r}")
    print("load: ok (values equal to h5py's; config, summary, eval as DataFrames)")


def check_commands(args, site, logs, work):
    env = dict(os.environ, PYTHONPATH=site)
    image = os.path.join(work, "curves.png")
    if os.path.exists(image):
        os.remove(image)
    p = run([os.path.join(site, "bin", "zotune-plot"), logs["tiny_mezo"], logs["reviews"], logs["missing"], "-o", image],
            env=env, cwd=work)
    require(os.path.getsize(image) > 10000, f"zotune-plot wrote {os.path.getsize(image)} bytes")
    require("2 of 3 runs" in p.stdout, f"zotune-plot: {p.stdout!r}")
    require(logs["missing"] in p.stderr and "no training loss" in p.stderr, f"zotune-plot stderr: {p.stderr!r}")

    compare = os.path.join(site, "bin", "zotune-compare-runs")
    p = run([compare, logs["tiny_mezo"], logs["reviews"], logs["missing"]], env=env, cwd=work)
    require("the highest final smoothed loss" in p.stdout, f"compare_runs without flags: no default threshold:\n{p.stdout}")
    rows = {line.split("|")[1].strip(): line for line in p.stdout.splitlines() if line.startswith("| ") and "---" not in line}
    require(set(rows) >= {"tiny_mezo", "reviews", "missing"}, f"compare_runs rows: {sorted(rows)}")
    require("no training loss logged" in rows["missing"] and "failed" in rows["missing"], rows["missing"])
    for name in ("tiny_mezo", "reviews"):  # the default threshold is a loss every completed run reaches
        cell = rows[name].split("|")[5].strip()
        require(cell.isdigit(), f"compare_runs: {name} never reaches the default threshold: {rows[name]}")
    p = run([compare, logs["missing"]], env=env, cwd=work, expect_rc=1)
    require("no training loss logged" in p.stderr, f"compare_runs on the failed log alone: {p.stderr!r}")
    p = run([compare, os.path.join(args.repo, "README.md")], env=env, cwd=work, expect_rc=1)
    require("README.md" in p.stderr and "HDF5" in p.stderr, f"compare_runs on a text file: {p.stderr!r}")
    p = run([os.path.join(site, "bin", "zotune-log"), logs["reviews"], "3"], env=env, cwd=work)
    require("status  completed" in p.stdout, f"zotune-log: {p.stdout!r}")
    print("commands: ok (zotune-plot, zotune-compare-runs without flags and on a failed log, zotune-log)")

    # The checkout's scripts without the install.
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = run([sys.executable, os.path.join(args.repo, "analysis/compare_runs.py"), logs["tiny_mezo"], "--threshold", "100",
             "--window", "5", "--plot", os.path.join(work, "compare.png")], env=clean, cwd=work)
    require("| tiny_mezo | 60 |" in p.stdout and os.path.isfile(os.path.join(work, "compare.png")), p.stdout)
    p = run([sys.executable, os.path.join(args.repo, "analysis/zotune_log.py"), logs["tiny_mezo"], "2"], env=clean, cwd=work)
    require("final_checksum" in p.stdout, p.stdout)
    print("checkout scripts: ok (analysis/compare_runs.py, analysis/zotune_log.py)")


def check_curves(site):
    sys.path.insert(0, site)
    from zotune_analysis import curves
    from zotune_analysis.compare_runs import default_threshold
    got = curves.smoothed([1.0, 2.0, 3.0, np.nan, 5.0, 7.0], 2)
    want = [1.0, 1.5, 2.5, 3.0, 5.0, 6.0]
    require(np.allclose(got, want), f"smoothed: {got}, expected {want}")
    require(np.isnan(curves.smoothed([np.nan, np.nan, 1.0], 2)[1]), "smoothed: a window of missing values is not NaN")
    require(curves.auto_window(100) == 5 and curves.auto_window(10000) == 50 and curves.auto_window(7, 3) == 3,
            "auto_window")
    rows = [{"curve": np.array([3.0, 2.0]), "final": 2.0, "status": "completed"},
            {"curve": np.array([3.0, 2.5]), "final": 2.5, "status": "completed"},
            {"curve": np.array([3.0, 1e11]), "final": 1e11, "status": "failed: step 1: NaN"},
            {"curve": None, "status": "failed: no model"}]
    require(default_threshold(rows) == 2.5, f"default threshold {default_threshold(rows)}, expected 2.5")
    print("curves: ok")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--zotune", required=True)
    p.add_argument("--repo", required=True)
    p.add_argument("--work", required=True)
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    try:
        logs = train_logs(args, args.work)
        site = install(args, args.work)
        check_load(args, site, logs, args.work)
        check_commands(args, site, logs, args.work)
        check_curves(site)
    except CheckFailed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    print("analysis package: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
