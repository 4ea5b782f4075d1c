"""experiments/benchmarks/kernel_profile_table.py on synthetic Nsight Compute CSVs: the per-step
rows are a profile's totals over its steps, names lose their template arguments and parameters,
units and thousands separators are read, and a file that is not ncu output, STEPS < 1, or a
profile whose launch counts do not divide into its steps (not exactly those steps) is an error."""

import csv
import io
import os
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "experiments", "benchmarks"))
import kernel_profile_table as kpt  # noqa: E402

COLUMNS = ["ID", "Process ID", "Process Name", "Host Name", "Kernel Name", "Context", "Stream", "Block Size",
           "Grid Size", "Device", "CC", "Section Name", "Metric Name", "Metric Unit", "Metric Value"]
GEMM = "sm90_xmma_gemm_f32f32_tf32f32_f32_tn_n_tilesize128x128x32_cublas"
NORM = "void zotune::cuda::rmsnorm_kernel<float, 4>(float *, const float *, int)"
DEQ = "void zotune::cuda::dequantize_q4_1(const unsigned char *, float *, long)"


def write_profile(path, launches):
    """launches: [(kernel name, unit, value text)], one row each, with ncu's ==PROF== lines around."""
    out = io.StringIO()
    w = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(COLUMNS)
    for i, (name, unit, value) in enumerate(launches):
        w.writerow([i, 7, "zotune", "127.0.0.1", name, 1, 7, "(256, 1, 1)", "(64, 1, 1)", 0, "9.0",
                    "Command line profiler metrics", "gpu__time_duration.sum", unit, value])
    with open(path, "w") as f:
        f.write("==PROF== Connected to process 7 (zotune)\n" + out.getvalue() + "==PROF== Disconnected from process 7\n")


def require(ok, what):
    if not ok:
        raise SystemExit(f"FAIL: {what}")


def main():
    work = tempfile.mkdtemp(prefix="kernel_profile_")
    profile = os.path.join(work, "steps.csv")
    step = [(GEMM, "usecond", "12.5"), (GEMM, "usecond", "7.5"), (NORM, "nsecond", "2,400")]  # one step
    write_profile(profile, step * 3)
    rows = kpt.per_step(kpt.kernel_times(profile), 3)
    require([r[0] for r in rows] == [GEMM, "zotune::cuda::rmsnorm_kernel"], f"kernels of a step: {rows}")
    require(abs(rows[0][1] - 2) < 1e-12 and abs(rows[0][2] - 20.0) < 1e-9, f"the GEMM: {rows[0]}")
    require(abs(rows[1][1] - 1) < 1e-12 and abs(rows[1][2] - 2.4) < 1e-9, f"the norm (2,400 ns): {rows[1]}")
    text = kpt.markdown(rows, 25, step_ms=0.05)
    require("| **all kernels** | 3 | 22.4 | 100% | |" in text, text)
    require("0.022 ms of a 0.050 ms step" in text and "0.028 ms with no kernel running" in text, text)
    require("| (1 more kernels) | 1 | 2.4 | 10.7% | |" in kpt.markdown(rows, 1), "the --top summary row")

    # A capture that also held model loading (3 dequantizations over 3 steps would divide; 2 do not).
    with_setup = os.path.join(work, "with_setup.csv")
    write_profile(with_setup, [(DEQ, "msecond", "1.5")] * 2 + step * 3)
    bad = os.path.join(work, "bad.csv")
    with open(bad, "w") as f:
        f.write('"name","value"\n"x","1"\n')
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        require(kpt.main([bad, "1"]) == 1, "a non-ncu CSV was accepted")
        require(kpt.main([profile, "0"]) == 1, "STEPS 0 was accepted")
        require(kpt.main([with_setup, "3"]) == 1, "launch counts that do not divide into the steps were accepted")
        require(kpt.main([profile, "3"]) == 0, "the profile of 3 steps was refused")
    for want in ("not ncu --csv output", "STEPS must be at least 1",
                 "launch counts not a multiple of 3 steps: zotune::cuda::dequantize_q4_1 (2 launches)"):
        require(want in err.getvalue(), f"{want!r} not in: {err.getvalue()}")
    print("kernel_profile_table: per-step totals, names, units and errors: ok")


if __name__ == "__main__":
    main()
