"""Markdown tables of the GPU step benchmark: zotune beside PyTorch, one table per shape, with
the targets of the performance issue checked (PASS / FAIL):
  MeZO step    PyTorch / zotune >= 2.0 on opt-1.3b, >= 1.8 on the other shapes
  perturb pass zotune's perturb GB/s >= 70% of the device-to-device copy GB/s (the higher of
               the two copy measurements, so a slow copy cannot make the bar easier)
  forward      zotune no slower than PyTorch
  peak memory  zotune no higher than PyTorch
Ratios are PyTorch / zotune for times and memory (above 1: zotune is better) and zotune /
PyTorch for bandwidths (above 1: zotune is better).

  python3 step_table.py OUT_DIR [SHAPE ...]        reads OUT_DIR/{zotune,pytorch}_SHAPE.json
  python3 step_table.py --pair ZOTUNE.json PYTORCH.json
Exit status 0, or 1 with --strict when a check fails or a file is missing.
"""

import argparse
import glob
import json
import os
import sys

MEZO_TARGET = {"opt-1.3b": 2.0}
MEZO_TARGET_DEFAULT = 1.8
PERTURB_OF_COPY = 0.70

# (key, label, kind): kind "time" and "mem" are lower-is-better, "bw" higher-is-better.
ROWS = [
    ("forward_ms", "forward ms", "time"),
    ("perturb_ms", "one perturb pass ms", "time"),
    ("perturb_gbps", "perturb pass GB/s", "bw"),
    ("copy_gbps", "device copy GB/s", "bw"),
    ("mezo_step_ms", "MeZO step ms", "time"),
    ("bszo_step_ms", "BSZO step ms", "time"),
    ("peak_memory_gib", "peak memory GiB", "mem"),
]


def load(path):
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def number(d, key):
    if d is None:
        return None
    v = d.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def fmt(v):
    if v is None:
        return "-"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"


def ratio(z, t, kind):
    if z is None or t is None or z <= 0 or t <= 0:
        return None
    return z / t if kind == "bw" else t / z


def checks(name, z, t, tolerance):
    """{key: (passed or None, text)} for the rows that carry a target."""
    out = {}
    target = MEZO_TARGET.get(name, MEZO_TARGET_DEFAULT)
    r = ratio(number(z, "mezo_step_ms"), number(t, "mezo_step_ms"), "time")
    out["mezo_step_ms"] = (None if r is None else r >= target, f">= {target:.1f}x")

    copies = [c for c in (number(z, "copy_gbps"), number(t, "copy_gbps")) if c]
    zp = number(z, "perturb_gbps")
    if zp is None or not copies:
        out["perturb_gbps"] = (None, f">= {PERTURB_OF_COPY:.0%} of copy")
    else:
        frac = zp / max(copies)
        out["perturb_gbps"] = (frac >= PERTURB_OF_COPY, f"{frac:.0%} of copy {max(copies):.0f} (>= {PERTURB_OF_COPY:.0%})")

    for key, what in (("forward_ms", "no slower"), ("peak_memory_gib", "no higher")):
        zv, tv = number(z, key), number(t, key)
        out[key] = (None if zv is None or tv is None else zv <= tv * (1 + tolerance), what)
    return out


def verdict(passed):
    return "n/a" if passed is None else "PASS" if passed else "FAIL"


def table(name, z, t, tolerance):
    ref = t or z or {}
    head = (f"### {name}: {ref.get('dtype', '?')}, batch {ref.get('batch', '?')} x {ref.get('seq', '?')}, "
            f"{int(ref['params']) / 1e9:.3f}B parameters" if ref.get("params") else f"### {name}")
    devices = {d.get("device") for d in (z, t) if d and d.get("device")}
    if devices:
        head += f" ({', '.join(sorted(devices))})"
    lines = [head, ""]
    if t and t.get("torch"):
        lines.append(f"PyTorch {t.get('torch')}, transformers {t.get('transformers', '?')}"
                     + (", TF32" if t.get("tf32") else "") + "; median of " + str(t.get("iters", "?")) + ".")
        lines.append("")
    if z and t and z.get("params") and t.get("params") and int(z["params"]) != int(t["params"]):
        lines.append(f"**parameter counts differ: zotune {z['params']}, PyTorch {t['params']}**")
        lines.append("")
    lines += ["| metric | zotune | PyTorch | ratio | target | check |", "| --- | --- | --- | --- | --- | --- |"]
    marks = checks(name, z, t, tolerance)
    results = []
    for key, label, kind in ROWS:
        zv, tv = number(z, key), number(t, key)
        r = ratio(zv, tv, kind)
        passed, target = marks.get(key, (None, ""))
        mark = verdict(passed) if key in marks else ""
        if key in marks:
            results.append(passed)
        lines.append(f"| {label} | {fmt(zv)} | {fmt(tv)} | {'-' if r is None else f'{r:.2f}x'} | {target} | {mark} |")
    return "\n".join(lines), results


ISSUE_ORDER = ["roberta-large", "opt-1.3b", "opt-13b", "llama-2-7b"]


def shapes_in(folder):
    names = set()
    for prefix in ("zotune_", "pytorch_"):
        for path in glob.glob(os.path.join(folder, prefix + "*.json")):
            names.add(os.path.basename(path)[len(prefix):-len(".json")])
    return sorted(names, key=lambda n: (ISSUE_ORDER.index(n) if n in ISSUE_ORDER else len(ISSUE_ORDER), n))


def main():
    ap = argparse.ArgumentParser(description="zotune vs PyTorch step benchmark tables")
    ap.add_argument("folder", nargs="?", help="folder with zotune_<shape>.json and pytorch_<shape>.json")
    ap.add_argument("shapes", nargs="*", help="shape names (default: every pair found)")
    ap.add_argument("--pair", nargs=2, metavar=("ZOTUNE_JSON", "PYTORCH_JSON"))
    ap.add_argument("--tolerance", type=float, default=0.0,
                    help="slack for 'no slower' / 'no higher', as a fraction (default 0)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a check fails or is missing")
    args = ap.parse_args()

    runs = []
    if args.pair:
        z, t = load(args.pair[0]), load(args.pair[1])
        if z is None and t is None:
            print("step_table.py: neither file exists", file=sys.stderr)
            return 2
        runs.append(((t or z).get("shape", "shape"), z, t))
    elif args.folder:
        for name in args.shapes or shapes_in(args.folder):
            runs.append((name, load(os.path.join(args.folder, f"zotune_{name}.json")),
                         load(os.path.join(args.folder, f"pytorch_{name}.json"))))
    else:
        ap.error("give a folder or --pair")
    if not runs:
        print(f"step_table.py: no results in {args.folder}", file=sys.stderr)
        return 2

    summary, failed, missing = [], 0, 0
    for name, z, t in runs:
        text, results = table(name, z, t, args.tolerance)
        if z is None:
            text += f"\n\n(no zotune result for {name})"
        if t is None:
            text += f"\n\n(no PyTorch result for {name})"
        print(text + "\n")
        failed += sum(1 for r in results if r is False)
        missing += sum(1 for r in results if r is None)
        summary.append((name, results))

    print("| shape | MeZO step | perturb vs copy | forward | peak memory |")
    print("| --- | --- | --- | --- | --- |")
    for name, results in summary:
        # results follow ROWS order of the checked keys: forward, perturb GB/s, MeZO step, memory
        fwd, perturb, mezo, mem = (verdict(r) for r in results)
        print(f"| {name} | {mezo} | {perturb} | {fwd} | {mem} |")
    print(f"\n{failed} check(s) failed, {missing} not measured.")
    return 1 if args.strict and (failed or missing) else 0


if __name__ == "__main__":
    sys.exit(main())
