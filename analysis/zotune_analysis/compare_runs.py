"""Compare training runs: loss curves, steps to a loss threshold, final scores.

The question issue 6 asks of AdaZeta against MeZO-LoRA (AdaZeta's paper: "reaches the threshold
in several times fewer steps"): for each run log, the training loss smoothed over a window of
steps, the first step whose smoothed loss is at or below the threshold, the forward passes
spent until then (the `queries` series counts a step's forwards over all ranks, so a method
with more queries per step pays for them here), and the summary's test score.

    zotune-compare-runs RUN.h5 [RUN.h5 ...] [--threshold 0.6] [--window 50]
        [--labels adazeta mezo-lora] [--plot curves.png] [--markdown table.md]
    (or: python3 analysis/compare_runs.py ...)

Without --threshold, the threshold is the highest final smoothed loss among the runs: the
loss every run reaches, so each run's row has a step. Without --window: 50 steps, or a
twentieth of the longest run if that is shorter. A log without a training loss (a run that
failed before its first step) gets a row saying so, never a crash; the exit code is 1 only
when no log has a loss. Prints a markdown table; --plot writes the smoothed curves
(matplotlib, no display needed).
"""

import argparse
import math
import sys

import numpy as np

from . import zotune_log as zl
from .curves import auto_window, first_at_or_below, run_labels, smoothed, training_loss


def run_row(run, label, window):
    """A run's curve and scores; `problem` says why there is no curve (then curve is None)."""
    summary = run.summary_dict()
    test = None
    for key in ("test_accuracy", "test_f1", "test_loss"):
        if key in summary and summary[key] is not None:
            test = (key, float(summary[key]))
            break
    status = (run.status or "(no summary yet)").replace("|", "\\|").replace("\n", " ")
    row = {"label": label, "path": run.path, "status": status, "test": test,
           "curve": None, "problem": None, "hit": None, "forwards": None, "steps": len(run.steps)}
    series, problem = training_loss(run)
    if series is None:
        row["problem"] = problem
        return row
    step, loss = series
    curve = smoothed(loss, window)
    row.update(curve=curve, step=step, initial=float(curve[0]), final=float(curve[-1]))
    if "queries" in run.steps:
        row["queries"] = run.steps["queries"].to_numpy(dtype=float, na_value=np.nan)
    return row


def apply_threshold(row, threshold):
    if row["curve"] is None:
        return
    hit = first_at_or_below(row["curve"], threshold)
    row["hit"] = hit
    row["forwards"] = None
    if hit is not None and "queries" in row:
        row["forwards"] = int(np.nansum(row["queries"][: hit + 1]))


def default_threshold(rows):
    """The highest final smoothed loss among the completed runs with a curve (every one of
    them reaches it); among all runs with a curve when none completed. A failed or diverged
    run's last loss would make the threshold meaningless."""
    usable = [r for r in rows if r["curve"] is not None and math.isfinite(r["final"])]
    completed = [r for r in usable if r["status"].startswith("completed")]
    finals = [r["final"] for r in (completed or usable)]
    return max(finals) if finals else math.nan


def markdown(rows, threshold, window, threshold_note=""):
    head = (f"Smoothed training loss (trailing mean over {window} steps); threshold {threshold:.4g}{threshold_note}."
            if math.isfinite(threshold) else "No run has a training loss to compare.")
    out = [head, "",
           "| run | steps | loss at start | loss at end | first step <= threshold | forward passes until then | test | status |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        test = "" if r["test"] is None else f"{r['test'][0]} {r['test'][1]:.4f}"
        if r["curve"] is None:
            out.append(f"| {r['label']} | {r['steps']} | | | {r['problem']} | | {test} | {r['status']} |")
            continue
        hit = "not reached" if r["hit"] is None else str(int(r["step"][r["hit"]]))
        fw = "" if r["forwards"] is None else str(r["forwards"])
        out.append(f"| {r['label']} | {r['steps']} | {r['initial']:.4f} | {r['final']:.4f} | {hit} | {fw} | {test} | {r['status']} |")
    hits = [r for r in rows if r["hit"] is not None]
    if len(hits) >= 2:
        fastest = min(hits, key=lambda r: r["hit"])
        for r in hits:
            if r is fastest:
                continue
            if r["hit"] == fastest["hit"]:
                out.append("")
                out.append(f"{fastest['label']} and {r['label']} reach the threshold at the same step.")
            elif fastest["hit"] > 0:
                out.append("")
                out.append(f"{fastest['label']} reaches the threshold in {r['hit'] / fastest['hit']:.2f}x fewer steps "
                           f"than {r['label']}.")
    return "\n".join(out)


def plot(rows, threshold, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in rows:
        if r["curve"] is not None:
            ax.plot(r["step"], r["curve"], label=r["label"])
    if math.isfinite(threshold):
        ax.axhline(threshold, color="gray", linestyle="--", linewidth=1, label=f"threshold {threshold:.4g}")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (smoothed)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="zotune-compare-runs", description=__doc__.splitlines()[0],
                                epilog="Without --threshold: the highest final smoothed loss among the runs.")
    p.add_argument("logs", nargs="+", help="run logs (.h5)")
    p.add_argument("--threshold", type=float, help="loss threshold (default: the loss every run reaches)")
    p.add_argument("--window", type=int, help="smoothing window in steps (default: 50, or a twentieth of a shorter run)")
    p.add_argument("--labels", nargs="*", help="one label per log (default: the file names)")
    p.add_argument("--plot", help="write the smoothed curves to this image file")
    p.add_argument("--markdown", help="also write the table to this file")
    a = p.parse_args(argv)
    labels = run_labels(p, a.logs, a.labels)
    try:
        runs = [zl.load(path) for path in a.logs]
    except ValueError as e:
        print(f"zotune-compare-runs: error: {e}", file=sys.stderr)
        return 1
    window = auto_window(max(len(r.steps) for r in runs), a.window)
    rows = [run_row(run, label, window) for run, label in zip(runs, labels)]
    threshold, note = a.threshold, ""
    if threshold is None:
        threshold = default_threshold(rows)
        note = " (the highest final smoothed loss: every run reaches it)"
    for r in rows:
        apply_threshold(r, threshold)
        if r["problem"]:
            print(f"zotune-compare-runs: {r['path']}: {r['problem']} (status: {r['status']})", file=sys.stderr)
    text = markdown(rows, threshold, window, note)
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")
    if a.plot:
        plot(rows, threshold, a.plot)
        print(f"wrote {a.plot}")
    return 0 if any(r["curve"] is not None for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
