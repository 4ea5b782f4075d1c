"""python3 analysis/compare_runs.py RUN.h5 [RUN.h5 ...] [--threshold T] [--window N] [--labels ...]
[--plot curves.png] [--markdown table.md]: zotune_analysis/compare_runs.py without installing
the package (`pip install ./analysis` gives the same as `zotune-compare-runs`)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zotune_analysis.compare_runs import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
