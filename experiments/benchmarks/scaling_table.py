"""Tables and a plot of the query-parallel scaling benchmark (issue 7), from the JSON files
run_scaling_bench.sh leaves (one per run: scaling_<shape>_<optimizer>_q<Q>_<backend>_p<P>[_shared].json,
written by zotune_scaling_bench --json).

  python3 scaling_table.py OUT_DIR [--plot scaling.png] [--strict]   Markdown tables, the checks, a plot
  python3 scaling_table.py OUT_DIR --check-invariance                rank-count invariance only

Rank-count invariance: runs of one benchmark (same shape, weights, optimizer, queries, steps,
minibatch, dtype; any P, either backend, shared GPU or not) must have the same loss hash (every
all-reduced probe loss of every step) and the same final parameter checksum. --check-invariance
prints PASS or FAIL per benchmark and exits 3 on any FAIL (so does the table mode, which prints
the same lines first); it needs the standard library only.

The parallel efficiency of a run at P ranks is qps(P) / (P * qps(1)), qps(1) from the P = 1 run of
the same benchmark and backend; a run with two ranks on one GPU (shared_gpu) checks invariance
and measures nothing, so it gets no efficiency and is left out of the plot. The all-reduce share
is the exchange's time (the last rank to reach the all-reduce: it waits for nobody) over the step
time. Checks (issue 7), PASS / FAIL / n/a:
  efficiency   >= 90% at P >= 8 for Q >= 8 queries per step (n/a: no run at 8 or more GPUs)
  all-reduce   share < 1% of the step for every P > 1 run
--strict exits 1 when a check fails or could not be made. Exit 2: no results in the folder.
"""

import argparse
import glob
import json
import os
import sys

EFFICIENCY_TARGET = 0.90
EFFICIENCY_AT_RANKS = 8
EFFICIENCY_MIN_QUERIES = 8
SHARE_TARGET = 0.01

# What makes two runs the same run (their losses and final weights must then agree). Not the
# backend (MPI and NCCL sum each slot exactly, so they give the same bits), not the rank count.
RUN_KEYS = ("shape", "engine", "dtype", "random_weights", "batch", "seq", "examples", "params", "optimizer",
            "queries", "k", "m", "lr", "steps", "tf32")


def load_runs(folder):
    runs = []
    for path in sorted(glob.glob(os.path.join(folder, "scaling_*.json"))):
        with open(path) as f:
            run = json.load(f)
        if run.get("benchmark") != "query-parallel scaling":
            continue
        run["_file"] = os.path.basename(path)
        runs.append(run)
    return runs


def run_key(run):
    return tuple(run.get(k) for k in RUN_KEYS)


def benchmark_title(run):
    name = os.path.basename(str(run.get("shape", "?")).rstrip("/"))
    if run.get("optimizer") == "bszo":
        what = f"BSZO k={run.get('k')} m={run.get('m')} ({run.get('queries')} queries)"
    else:
        what = f"AdaZeta Q={run.get('queries')}"
    params = run.get("params")
    size = f", {int(params) / 1e9:.3f}B parameters" if params and int(params) >= 10**7 else f", {params} parameters"
    return (f"{name}: {what}, {run.get('engine')} {run.get('dtype')}, batch {run.get('batch')} x {run.get('seq')}"
            f"{size}, {run.get('steps')} steps")


def check_invariance(runs):
    """Prints one line per benchmark; returns the number of benchmarks whose runs disagree."""
    groups = {}
    for run in runs:
        groups.setdefault(run_key(run), []).append(run)
    failed = 0
    for members in groups.values():
        members.sort(key=lambda r: (r.get("backend", ""), bool(r.get("shared_gpu")), r.get("ranks", 0)))
        hashes = {(r.get("loss_hash"), r.get("final_checksum")) for r in members}
        where = ", ".join(f"{r.get('backend')} P={r.get('ranks')}{' shared' if r.get('shared_gpu') else ''}"
                          for r in members)
        if len(hashes) == 1:
            loss_hash, checksum = next(iter(hashes))
            note = "" if len(members) > 1 else " (one run only: nothing to compare)"
            print(f"rank-count invariance: PASS: {benchmark_title(members[0])}: {where}: "
                  f"loss hash {loss_hash}, final checksum {checksum}{note}")
        else:
            failed += 1
            print(f"rank-count invariance: FAIL: {benchmark_title(members[0])}: runs disagree:")
            for r in members:
                print(f"    {r['_file']}: {r.get('backend')} P={r.get('ranks')}"
                      f"{' shared GPU' if r.get('shared_gpu') else ''}: loss hash {r.get('loss_hash')}, "
                      f"final checksum {r.get('final_checksum')}")
    return failed


def fmt(v, digits=2):
    if v is None or v != v:  # None or NaN
        return "-"
    return f"{v:.{digits}f}"


def with_efficiency(frame):
    """Adds `eff`: qps / (P * qps of the P = 1 run of the same benchmark and backend)."""
    import numpy as np

    frame = frame.copy()
    frame["eff"] = np.nan
    solo = frame[(frame["ranks"] == 1) & (~frame["shared_gpu"])]
    for idx, row in frame.iterrows():
        if row["shared_gpu"]:
            continue
        base = solo[(solo["key"] == row["key"]) & (solo["backend"] == row["backend"])]
        if len(base):
            frame.at[idx, "eff"] = row["qps"] / (row["ranks"] * float(base["qps"].iloc[0]))
    return frame


def verdict(passed):
    return "n/a" if passed is None else "PASS" if passed else "FAIL"


def tables(frame):
    """Markdown per benchmark; returns (text, [(label, passed or None), ...])."""
    lines, results = [], []
    for key, group in frame.groupby("key", sort=False):
        first = group.iloc[0]
        devices = sorted(set(group["device"]))
        lines.append(f"### {benchmark_title(first['raw'])}")
        lines.append("")
        lines.append(f"Device: {'; '.join(devices)}. Median of {int(first['iters'])} steps after "
                     f"{int(first['warmup'])} warm-up. Exchange ms: the last rank to reach the all-reduce "
                     "(the exchange itself); in all-reduce ms: the mean over ranks (with the wait for the slowest).")
        lines.append("")
        lines.append("| backend | P | GPUs | step ms | queries/s | exchange ms | in all-reduce ms | all-reduce share "
                     "| efficiency | loss hash | final checksum |")
        lines.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        group = group.sort_values(["backend", "shared_gpu", "ranks"])
        for _, r in group.iterrows():
            p = f"{int(r['ranks'])}" + (" (shared GPU: invariance only, not scaling)" if r["shared_gpu"] else "")
            eff = "-" if r["eff"] != r["eff"] else f"{100 * r['eff']:.1f}%"
            gpus = str(int(r["gpus"])) if r["gpus"] else "-"
            lines.append(f"| {r['backend']} | {p} | {gpus} | {fmt(r['step_ms'])} | {fmt(r['qps'])} "
                         f"| {fmt(r['exchange_ms'], 4)} | {fmt(r['in_call_ms'], 4)} | {100 * r['share']:.3f}% "
                         f"| {eff} | {r['loss_hash']} | {r['final_checksum']} |")
        lines.append("")
        measured = group[~group["shared_gpu"]]
        for backend, runs in measured.groupby("backend"):
            label = f"{benchmark_title(first['raw']).split(',')[0]}, {backend}"
            at_scale = runs[runs["ranks"] >= EFFICIENCY_AT_RANKS]
            if int(first["queries"]) >= EFFICIENCY_MIN_QUERIES:
                if len(at_scale) and at_scale["eff"].notna().all():
                    passed = bool((at_scale["eff"] >= EFFICIENCY_TARGET).all())
                    worst = at_scale["eff"].min()
                    text = f"efficiency {100 * worst:.1f}% at P >= {EFFICIENCY_AT_RANKS}"
                else:
                    passed, text = None, f"no run at P >= {EFFICIENCY_AT_RANKS} with a P = 1 baseline"
                results.append((f"{label}: efficiency >= {EFFICIENCY_TARGET:.0%} at P >= {EFFICIENCY_AT_RANKS}", passed, text))
            multi = runs[runs["ranks"] > 1]
            if len(multi):
                worst = multi["share"].max()
                results.append((f"{label}: all-reduce share < {SHARE_TARGET:.0%}", bool(worst < SHARE_TARGET),
                                f"largest {100 * worst:.3f}%"))
            else:
                results.append((f"{label}: all-reduce share < {SHARE_TARGET:.0%}", None, "no run with P > 1"))
    return "\n".join(lines), results


def plot(frame, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = frame[~frame["shared_gpu"]]
    fig, (ax_eff, ax_qps) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (key, backend), runs in measured.groupby(["key", "backend"], sort=False):
        runs = runs.sort_values("ranks")
        title = benchmark_title(runs.iloc[0]["raw"]).split(",")[0]
        label = f"{title}, {backend}"
        ax_qps.plot(runs["ranks"], runs["qps"], marker="o", label=label)
        if runs["eff"].notna().any():
            ax_eff.plot(runs["ranks"], 100 * runs["eff"], marker="o", label=label)
    ranks = sorted(set(measured["ranks"])) or [1]
    on_gpus = bool((measured["gpus"] > 0).any())
    for ax in (ax_eff, ax_qps):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ranks)
        ax.set_xticklabels([str(int(r)) for r in ranks])
        ax.set_xlabel("ranks P (one GPU each)" if on_gpus else "ranks P (CPU processes)")
        ax.grid(True, alpha=0.3)
    ax_eff.axhline(100 * EFFICIENCY_TARGET, color="grey", linestyle="--", linewidth=1)
    ax_eff.set_ylabel("parallel efficiency qps(P) / (P qps(1)), %")
    top = measured["eff"].max()
    ax_eff.set_ylim(0, max(110.0, 100 * top + 10) if top == top else 110.0)
    ax_qps.set_ylabel("queries per second")
    ax_qps.set_yscale("log")
    handles, labels = ax_qps.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle("zotune query-parallel scaling (issue 7)")
    fig.tight_layout(rect=(0, 0.06 + 0.035 * ((len(labels) + 1) // 2), 1, 1))
    fig.savefig(path, dpi=130)
    print(f"plot: {path}")


def main():
    ap = argparse.ArgumentParser(description="query-parallel scaling tables, invariance check and plot")
    ap.add_argument("folder", help="folder with run_scaling_bench.sh's scaling_*.json")
    ap.add_argument("--check-invariance", action="store_true",
                    help="only check that every P of each benchmark gives the same losses and checksum")
    ap.add_argument("--plot", help="write efficiency and qps vs P to this image")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a check fails or could not be made")
    args = ap.parse_args()

    runs = load_runs(args.folder)
    if not runs:
        print(f"scaling_table.py: no scaling_*.json results in {args.folder}", file=sys.stderr)
        return 2
    failed = check_invariance(runs)
    if args.check_invariance:
        return 3 if failed else 0

    import pandas as pd

    frame = pd.DataFrame([{
        "key": json.dumps(run_key(r)), "raw": r, "backend": r.get("backend"), "ranks": int(r.get("ranks", 0)),
        "gpus": int(r.get("gpus", 0)), "shared_gpu": bool(r.get("shared_gpu", False)),
        "queries": int(r.get("queries", 0)), "iters": r.get("iters", 0), "warmup": r.get("warmup", 0),
        "device": r.get("device", "?"), "step_ms": r.get("step_ms_median"), "qps": r.get("qps"),
        "exchange_ms": r.get("exchange_ms_median"), "in_call_ms": r.get("allreduce_in_call_ms_median"),
        "share": r.get("allreduce_share", float("nan")), "loss_hash": r.get("loss_hash"),
        "final_checksum": r.get("final_checksum"),
    } for r in runs])
    frame = with_efficiency(frame)
    text, results = tables(frame)
    print("\n" + text)
    print("| check | result | measured |")
    print("| --- | --- | --- |")
    for label, passed, measured in results:
        print(f"| {label} | {verdict(passed)} | {measured} |")
    n_failed = sum(1 for _, p, _ in results if p is False)
    n_missing = sum(1 for _, p, _ in results if p is None)
    print(f"\n{n_failed} check(s) failed, {n_missing} not measured; rank-count invariance: "
          f"{'FAIL' if failed else 'PASS'}.")
    if args.plot:
        plot(frame, args.plot)
    if failed:
        return 3
    return 1 if args.strict and (n_failed or n_missing) else 0


if __name__ == "__main__":
    sys.exit(main())
