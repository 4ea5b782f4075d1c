"""zotune's Python side: run logs into pandas, loss curves, run comparisons.

    from zotune_analysis import load          # or: import zotune_log; zotune_log.load(path)
    run = load("runs/quickstart_bszo.h5")     # run.steps, run.eval, run.summary, run.config

Command-line tools (installed by `pip install ./analysis`): zotune-plot, zotune-compare-runs,
zotune-log; each is also `python3 -m zotune_analysis.<plot|compare_runs|zotune_log>`.
"""

from .zotune_log import Run, load, load_eval, load_steps, summary, updates, vector, vectors

__version__ = "0.1.0"
__all__ = ["Run", "load", "load_eval", "load_steps", "summary", "updates", "vector", "vectors"]
