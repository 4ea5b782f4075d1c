"""python3 analysis/update_results.py [--check] docs/RESULTS.md: rewrite (or, with --check,
compare) the page's generated tables, each the output of the paper_table.py command its
`<!-- generated: ... -->` line names (zotune_analysis/generated_blocks.py).
python3 analysis/update_results.py ingest COLLECT --into experiments/results/NAME [--runs TAR]:
merge a grid's finished runs into its committed results (zotune_analysis/results_ingest.py)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zotune_analysis.generated_blocks import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
