"""Per-kernel GPU time of one training step, from an Nsight Compute (ncu) CSV that holds exactly
STEPS training steps (run_kernel_profile.sh: ncu --profile-from-start off, with zotune's
ZOTUNE_PROFILE_STEPS starting the capture before the first of those steps and stopping it after
the last, so model loading, evaluation and the warm-up steps are not in it).

  python3 kernel_profile_table.py PROFILE.csv STEPS [--top N] [--step-ms MS]

The CSV is `ncu --csv --metrics gpu__time_duration.sum` output (one row per kernel launch and
metric; the columns "Kernel Name", "Metric Name", "Metric Unit", "Metric Value"). Kernels are
grouped by their function name (the demangled name up to its parameter list, without template
arguments). Prints a Markdown table: kernel, launches a step, microseconds a step, share, mean
microseconds a launch; and the step's total kernel time against --step-ms (the step time of the
same run file without the profiler), whose difference is time the GPU did not run a kernel
(launch gaps, host work, synchronization).
"""

import argparse
import csv
import sys

UNIT_US = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3, "second": 1e6, "s": 1e6}


class ProfileError(ValueError):
    pass


def function_name(kernel):
    """`void ns::k<float, 4>(float *, int)` -> `ns::k`; cuBLAS's plain names stay as they are."""
    name = kernel.strip()
    if name.startswith("void "):
        name = name[5:]
    depth, out = 0, []
    for ch in name:  # drop template arguments, keep what is outside angle brackets
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(depth - 1, 0)
        elif depth == 0:
            if ch == "(":
                break
            out.append(ch)
    return "".join(out).strip() or kernel.strip()


def kernel_times(path):
    """{function name: (launches, microseconds)} of one ncu CSV."""
    out = {}
    with open(path, newline="") as f:
        lines = [line for line in f if line.startswith('"')]  # ncu's own ==PROF== lines are not CSV
    rows = list(csv.DictReader(lines))
    if not rows or "Kernel Name" not in rows[0] or "Metric Value" not in rows[0]:
        raise ProfileError(f"{path}: not ncu --csv output (no \"Kernel Name\" and \"Metric Value\" columns)")
    for r in rows:
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        unit = r.get("Metric Unit", "").strip()
        if unit not in UNIT_US:
            raise ProfileError(f"{path}: kernel {r['Kernel Name'][:60]}: unknown time unit '{unit}'")
        us = float(r["Metric Value"].replace(",", "")) * UNIT_US[unit]
        name = function_name(r["Kernel Name"])
        n, t = out.get(name, (0, 0.0))
        out[name] = (n + 1, t + us)
    if not out:
        raise ProfileError(f"{path}: no gpu__time_duration.sum rows")
    return out


def per_step(totals, steps):
    """[(name, launches a step, us a step)] of a profile holding `steps` steps, largest time first.
    A kernel whose launch count is not a multiple of `steps` is launched unevenly across the
    steps (or the capture held a part of a step): an error, since a per-step share would mislead."""
    if steps < 1:
        raise ProfileError(f"STEPS must be at least 1, got {steps}")
    uneven = [f"{name} ({n} launches)" for name, (n, _) in totals.items() if n % steps]
    if uneven:
        raise ProfileError(f"launch counts not a multiple of {steps} steps: {', '.join(sorted(uneven)[:5])}; "
                           "does the profile hold exactly those steps?")
    rows = [(name, n / steps, us / steps) for name, (n, us) in totals.items()]
    rows.sort(key=lambda r: -r[2])
    return rows


def markdown(rows, top, step_ms=None):
    total = sum(us for _, _, us in rows)
    out = ["| kernel | launches / step | us / step | share | us / launch |", "| --- | --- | --- | --- | --- |"]
    shown = rows[:top] if top else rows
    for name, launches, us in shown:
        mean = us / launches if launches > 0 else float("nan")
        out.append(f"| `{name[:80]}` | {launches:g} | {us:.1f} | {100 * us / total:.1f}% | {mean:.2f} |")
    if len(shown) < len(rows):
        rest = rows[len(shown):]
        us = sum(r[2] for r in rest)
        out.append(f"| ({len(rest)} more kernels) | {sum(r[1] for r in rest):g} | {us:.1f} | {100 * us / total:.1f}% | |")
    launches = sum(r[1] for r in rows)
    out.append(f"| **all kernels** | {launches:g} | {total:.1f} | 100% | |")
    text = "\n".join(out) + "\n"
    if step_ms:
        text += (f"\nKernel time {total / 1000:.3f} ms of a {step_ms:.3f} ms step (without the profiler): "
                 f"{step_ms - total / 1000:.3f} ms with no kernel running.\n")
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("profile", help="ncu --csv output holding exactly STEPS steps")
    p.add_argument("steps", type=int)
    p.add_argument("--top", type=int, default=25, help="kernels listed (the rest summed in one row; 0 = all)")
    p.add_argument("--step-ms", type=float, help="the step time of the same run without the profiler")
    args = p.parse_args(argv)
    try:
        rows = per_step(kernel_times(args.profile), args.steps)
    except (ProfileError, OSError) as e:
        print(f"kernel_profile_table: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(markdown(rows, args.top, args.step_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
