"""`import zotune_log` and `python3 analysis/zotune_log.py RUN.h5 [ROWS]`: the run-log reader.

The code is zotune_analysis/zotune_log.py (the package `pip install ./analysis` installs, with
this module beside it); this file makes `zotune_log` that same module, so scripts that put
analysis/ on sys.path, or that run this file, keep working without installing anything.
"""

import os
import sys

try:
    from zotune_analysis import zotune_log as _impl
except ImportError:  # run from a checkout: the package is this file's neighbour
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from zotune_analysis import zotune_log as _impl

if __name__ == "__main__":
    sys.exit(_impl.main())
sys.modules[__name__] = _impl
