"""Loss-curve helpers shared by compare_runs and plot."""

import os

import numpy as np

DEFAULT_WINDOW = 50


def auto_window(steps, window=None):
    """The smoothing window: `window` if given, else 50 steps, or a twentieth of a shorter run
    (at least 1), so a 100-step smoke run is not flattened into its running mean."""
    if window is not None:
        return max(1, int(window))
    return max(1, min(DEFAULT_WINDOW, steps // 20))


def smoothed(values, window):
    """Trailing mean over `window` steps (shorter at the start): what a noisy ZO loss needs
    before a threshold means anything. Missing values (NaN: a step whose loss was not
    finite) are left out of the mean; a window with none left is NaN."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return values
    window = max(1, int(window))
    finite = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    hi = np.arange(1, len(values) + 1)
    lo = np.maximum(0, hi - window)
    n = counts[hi] - counts[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[hi] - sums[lo]) / np.maximum(n, 1), np.nan)


def first_at_or_below(curve, threshold):
    """Row index of the first value <= threshold, or None."""
    hits = np.nonzero(np.asarray(curve) <= threshold)[0]
    return int(hits[0]) if len(hits) else None


def training_loss(run):
    """The run's training-loss series as (step, loss) float arrays, or None with the reason
    when the log has none (a run that failed or was stopped before its first logged step)."""
    if "loss" not in run.steps.columns or len(run.steps) == 0:
        return None, "no training loss logged"
    loss = run.steps["loss"].to_numpy(dtype=float, na_value=np.nan)
    if not np.isfinite(loss).any():
        return None, f"no finite training loss in {len(loss)} logged steps"
    return (run.steps["step"].to_numpy(dtype=float), loss), None


def dev_metric_columns(evals):
    """The /eval columns that are dev metrics other than the loss (dev_accuracy, dev_f1, ...),
    in name order."""
    return [c for c in evals.columns if c.startswith("dev_") and c != "dev_loss"]


def run_labels(parser, logs, labels=None):
    """One label per log: `labels` as given, else each file's name without its extension; a
    count that does not match the logs is the parser's usage error."""
    labels = labels or [os.path.splitext(os.path.basename(x))[0] for x in logs]
    if len(labels) != len(logs):
        parser.error(f"{len(labels)} labels for {len(logs)} logs")
    return labels
