"""Plot one or several zotune runs: training loss (raw and smoothed) and the dev evaluations.

    zotune-plot runs/*.h5 -o curves.png [--window 50] [--labels a b] [--title "..."]
    python3 -m zotune_analysis.plot runs/*.h5 -o curves.png

Top panel: each run's logged step loss (thin, faint) and its trailing mean over --window
steps (solid, same colour), with the dev loss at each evaluation (circles, dashed) where the
log has one. Bottom panel (only when some run logged one): the dev metric at each evaluation
(accuracy or F1), with the selected step (the summary's best_step) marked. A log without a
training loss (a run that failed before its first step) is named on stderr and left out.
Needs matplotlib; writes the file without a display.
"""

import argparse
import sys

import numpy as np

from . import zotune_log as zl
from .curves import auto_window, dev_metric_columns, run_labels, smoothed, training_loss


def _unit(run, name, fallback):
    unit = run.units.get(name)
    return unit if unit else fallback


def plot_runs(runs, labels, out_path, window=None, title=None):
    """Draws the runs into out_path; returns the labels of the runs left out (no loss)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves, skipped = [], []
    for run, label in zip(runs, labels):
        series, problem = training_loss(run)
        if series is None:
            print(f"zotune-plot: {run.path}: {problem} (status: {run.status or 'none yet'}); left out", file=sys.stderr)
            skipped.append(label)
        else:
            curves.append((run, label, series))
    if not curves:
        raise ValueError("none of the logs has a training loss to plot")
    has_metric = any(dev_metric_columns(run.eval) for run, _, _ in curves)
    fig, axes = plt.subplots(2 if has_metric else 1, 1, figsize=(8, 6.5 if has_metric else 4.2), sharex=True, squeeze=False)
    loss_ax = axes[0][0]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    longest = max(len(series[0]) for _, _, series in curves)
    w = auto_window(longest, window)
    for i, (run, label, (step, loss)) in enumerate(curves):
        color = colors[i % len(colors)]
        loss_ax.plot(step, loss, color=color, alpha=0.25, linewidth=0.8)
        loss_ax.plot(step, smoothed(loss, w), color=color, linewidth=1.8, label=f"{label} (train, mean of {w})")
        if "dev_loss" in run.eval and len(run.eval):
            dev = run.eval["dev_loss"].to_numpy(dtype=float, na_value=np.nan)
            ok = np.isfinite(dev)
            if ok.any():
                loss_ax.plot(run.eval["step"].to_numpy()[ok], dev[ok], "o--", color=color, markersize=4, linewidth=1,
                             label=f"{label} (dev)")
    # The y range from the completed runs (all runs when none completed), their raw losses'
    # 1st to 99th percentile: a diverged run's 1e11 would flatten every other curve.
    framing = [series[1] for run, _, series in curves if run.status.startswith("completed")] or \
        [series[1] for _, _, series in curves]
    finite = np.concatenate([v[np.isfinite(v)] for v in framing])
    if finite.size:
        lo, hi = np.percentile(finite, [1, 99])
        pad = 0.05 * (hi - lo) if hi > lo else 0.05 * abs(hi) + 1e-3
        loss_ax.set_ylim(lo - pad, hi + pad)
    unit = _unit(curves[0][0], "loss", "nats")
    loss_ax.set_ylabel(f"loss ({unit})")
    loss_ax.grid(alpha=0.3)
    loss_ax.legend(fontsize=8)
    if title:
        loss_ax.set_title(title)
    if has_metric:
        metric_ax = axes[1][0]
        for i, (run, label, _) in enumerate(curves):
            color = colors[i % len(colors)]
            evals = run.eval
            for column in dev_metric_columns(evals):
                values = evals[column].to_numpy(dtype=float, na_value=np.nan)
                ok = np.isfinite(values)
                if not ok.any():
                    continue
                steps = evals["step"].to_numpy()[ok]
                metric_ax.plot(steps, values[ok], "o-", color=color, markersize=4, label=f"{label} {column}")
                best = run.summary_dict().get("best_step")
                if best is not None and best in set(steps.tolist()):
                    metric_ax.plot([best], [values[ok][list(steps).index(best)]], "*", color=color, markersize=12)
        metric_ax.set_ylabel("dev metric (* = selected)")
        metric_ax.grid(alpha=0.3)
        metric_ax.legend(fontsize=8)
    axes[-1][0].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    plt.close(fig)
    return skipped


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="zotune-plot", description=__doc__.splitlines()[0])
    p.add_argument("logs", nargs="+", help="run logs (.h5)")
    p.add_argument("-o", "--output", default="curves.png", help="image to write (default curves.png; .pdf, .svg work too)")
    p.add_argument("--window", type=int, help="smoothing window in steps (default: 50, or a twentieth of a shorter run)")
    p.add_argument("--labels", nargs="*", help="one label per log (default: the file names)")
    p.add_argument("--title")
    a = p.parse_args(argv)
    labels = run_labels(p, a.logs, a.labels)
    try:
        runs = [zl.load(path) for path in a.logs]
        skipped = plot_runs(runs, labels, a.output, a.window, a.title)
    except ValueError as e:
        print(f"zotune-plot: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {a.output} ({len(runs) - len(skipped)} of {len(runs)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
