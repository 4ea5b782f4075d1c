"""Compare training runs: loss curves, steps to a loss threshold, final scores.

The question issue 6 asks of AdaZeta against MeZO-LoRA (adazeta.md: "reaches the threshold
in several times fewer steps"): for each run log, the training loss smoothed over a window of
steps, the first step whose smoothed loss is at or below the threshold, the forward passes
spent until then (the `queries` series counts a step's forwards over all ranks, so a method
with more queries per step pays for them here), and the summary's test score.

    python3 analysis/compare_runs.py RUN.h5 [RUN.h5 ...] --threshold 0.6 [--window 50]
        [--labels adazeta mezo-lora] [--plot curves.png] [--markdown table.md]

Prints a markdown table; --plot writes the smoothed curves (matplotlib, no display needed).
"""

import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zotune_log as zl  # noqa: E402


def smoothed(values, window):
    """Trailing mean over `window` steps (shorter at the start): what a noisy ZO loss needs
    before a threshold means anything."""
    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) == 0:
        return values
    csum = np.cumsum(np.insert(values, 0, 0.0))
    out = np.empty_like(values)
    for i in range(len(values)):
        lo = max(0, i + 1 - window)
        out[i] = (csum[i + 1] - csum[lo]) / (i + 1 - lo)
    return out


def first_at_or_below(curve, threshold):
    hits = np.nonzero(curve <= threshold)[0]
    return int(hits[0]) if len(hits) else None


def run_row(path, label, threshold, window):
    steps = zl.load_steps(path)
    summary = zl.summary(path)
    curve = smoothed(steps["loss"].to_numpy(), window)
    hit = first_at_or_below(curve, threshold)
    forwards = None
    if hit is not None and "queries" in steps:
        forwards = int(np.nansum(steps["queries"].to_numpy(dtype=float)[: hit + 1]))
    test = None
    for key in ("test_accuracy", "test_f1", "test_loss"):
        if key in summary:
            test = (key, float(summary[key]))
            break
    return {
        "label": label,
        "path": path,
        "steps": len(curve),
        "initial": float(curve[0]) if len(curve) else math.nan,
        "final": float(curve[-1]) if len(curve) else math.nan,
        "hit": hit,
        "forwards": forwards,
        "test": test,
        "curve": curve,
        "step": steps["step"].to_numpy(),
    }


def markdown(rows, threshold, window):
    out = [f"Smoothed training loss (trailing mean over {window} steps); threshold {threshold}.", "",
           "| run | steps | loss at start | loss at end | first step <= threshold | forward passes until then | test |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        hit = "not reached" if r["hit"] is None else str(r["hit"])
        fw = "" if r["forwards"] is None else str(r["forwards"])
        test = "" if r["test"] is None else f"{r['test'][0]} {r['test'][1]:.4f}"
        out.append(f"| {r['label']} | {r['steps']} | {r['initial']:.4f} | {r['final']:.4f} | {hit} | {fw} | {test} |")
    hits = [r for r in rows if r["hit"] is not None]
    if len(hits) >= 2:
        fastest = min(hits, key=lambda r: r["hit"])
        for r in hits:
            if r is not fastest and fastest["hit"] > 0:
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
        ax.plot(r["step"], r["curve"], label=r["label"])
    ax.axhline(threshold, color="gray", linestyle="--", linewidth=1, label=f"threshold {threshold}")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (smoothed)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("logs", nargs="+")
    p.add_argument("--threshold", type=float, required=True)
    p.add_argument("--window", type=int, default=50)
    p.add_argument("--labels", nargs="*")
    p.add_argument("--plot")
    p.add_argument("--markdown")
    a = p.parse_args(argv)
    labels = a.labels or [os.path.splitext(os.path.basename(x))[0] for x in a.logs]
    if len(labels) != len(a.logs):
        p.error(f"{len(labels)} labels for {len(a.logs)} logs")
    rows = [run_row(path, label, a.threshold, a.window) for path, label in zip(a.logs, labels)]
    text = markdown(rows, a.threshold, a.window)
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")
    if a.plot:
        plot(rows, a.threshold, a.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
