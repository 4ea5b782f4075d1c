"""python3 analysis/paper_table.py INPUT --table ID [--markdown out.md] [--latex out.tex]
[--csv out.csv] [--plot out.png] [--select mean|per-seed] [--threshold T]:
zotune_analysis/paper_table.py without installing the package (`pip install ./analysis` gives
the same as `zotune-paper-table`). INPUT: a grid's collect output or a folder of run logs."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zotune_analysis.paper_table import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
