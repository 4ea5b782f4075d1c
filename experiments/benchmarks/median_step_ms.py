"""The median training-step time of a run log, the measure the run_*_check.sh benchmarks and
run_kernel_profile.sh report: the median of /steps/ms without step 1, which warms up (CUDA
graph capture, the first allocations).

  python3 median_step_ms.py LOG.h5 [LOG.h5 ...]   one value per line, ms to 3 decimals
"""

import sys

import h5py
import numpy as np


def median_step_ms(log_path):
    with h5py.File(log_path, "r") as f:
        return float(np.median(f["steps/ms"][1:]))


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(f"{median_step_ms(path):.3f}")
