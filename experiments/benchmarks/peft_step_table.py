"""Markdown tables of the parameter-efficient step benchmark (run_peft_step_bench.sh): per
setting, one AdaZeta step and one MeZO-LoRA step in zotune (probes one per forward, and batched)
beside PyTorch's reference (paper: the official code's arithmetic; fast: batched probes, in place,
TF32), with the peak memory of each, and the issue's targets checked (PASS / FAIL / n/a):
  smollm2     zotune batched AdaZeta step <= 25 ms; MeZO-LoRA batched >= 1.6x its sequential path
  llama-2-7b, opt-13b
              zotune batched step >= 10x faster than the PyTorch reference of the official trainer
              (paper), AdaZeta and MeZO-LoRA, and peak memory no higher; the achieved backbone
              TFLOP/s of the batched step against the GPU's dense 16-bit peak
Ratio columns: other time / zotune batched time (above 1: zotune batched is faster); for memory,
other peak / zotune batched peak (above 1: zotune uses less). "best PyTorch" is the lower of the
two PyTorch variants, row by row.

  python3 peft_step_table.py OUT_DIR [SETTING ...]   reads OUT_DIR/pytorch_SETTING.json and
      OUT_DIR/zotune_SETTING_{adapter,lora}_{sequential,batched}.json
Exit status 0, or 1 with --strict when a check fails or a number is missing.
"""

import argparse
import glob
import json
import os
import sys

ORDER = ["smollm2", "smollm2-shape", "smollm2-bf16", "llama-2-7b-q8", "llama-2-7b-q15", "opt-13b-q8", "opt-13b-q15"]
# Dense fp16/bf16 tensor-core peak, TFLOP/s, of the SXM parts (NVIDIA's data sheets, without sparsity).
DENSE_16BIT_PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0}
# zotune's key for a step's time: the method's own, else the generic one.
ZOTUNE_STEP_KEYS = {"adapter": ("adazeta_step_ms", "step_ms"), "lora": ("mezo_lora_step_ms", "step_ms")}
SMOLLM2_ADAZETA_MS = 25.0
SMOLLM2_LORA_BATCHING = 1.6
LLAMA_VS_PAPER = 10.0

# (label, method, kind): kind "time" or "mem"; method "adapter" (AdaZeta) or "lora" (MeZO-LoRA).
ROWS = [
    ("AdaZeta step ms", "adapter", "time"),
    ("MeZO-LoRA step ms", "lora", "time"),
    ("AdaZeta peak GiB", "adapter", "mem"),
    ("MeZO-LoRA peak GiB", "lora", "mem"),
]
TORCH_KEYS = {("adapter", "time"): "adazeta_step_ms", ("lora", "time"): "mezo_lora_step_ms",
              ("adapter", "mem"): "adazeta_peak_memory_gib", ("lora", "mem"): "mezo_lora_peak_memory_gib"}


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def number(d, *keys):
    for key in keys:
        v = (d or {}).get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    return None


def fmt(v):
    if v is None:
        return "-"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"


def ratio(other, mine):
    return None if other is None or mine is None or other <= 0 or mine <= 0 else other / mine


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def verdict(passed):
    return "n/a" if passed is None else "PASS" if passed else "FAIL"


class Setting:
    def __init__(self, folder, name):
        self.name = name
        self.torch = load(os.path.join(folder, f"pytorch_{name}.json"))
        self.zotune = {(peft, mode): load(os.path.join(folder, f"zotune_{name}_{peft}_{mode}.json"))
                       for peft in ("adapter", "lora") for mode in ("sequential", "batched")}

    def zotune_value(self, method, mode, kind):
        d = self.zotune[(method, mode)]
        return number(d, *ZOTUNE_STEP_KEYS[method]) if kind == "time" else number(d, "peak_memory_gib")

    def torch_value(self, variant, method, kind):
        return number((self.torch or {}).get(variant), TORCH_KEYS[(method, kind)])

    def cells(self, method, kind):
        """zotune sequential, zotune batched, PyTorch paper, PyTorch fast."""
        return (self.zotune_value(method, "sequential", kind), self.zotune_value(method, "batched", kind),
                self.torch_value("paper", method, kind), self.torch_value("fast", method, kind))

    def header(self):
        ref = self.torch or next((d for d in self.zotune.values() if d), {})
        head = f"### {self.name}"
        if ref:
            head += (f": {ref.get('dtype', '?')}, batch {ref.get('batch', '?')} x {ref.get('seq', '?')}, "
                     f"AdaZeta Q {ref.get('queries', '?')}")
        devices = sorted({d.get("device") for d in [self.torch, *self.zotune.values()] if d and d.get("device")})
        if devices:
            head += f" ({', '.join(devices)})"
        return head

    def notes(self):
        lines = []
        t = self.torch
        if t:
            lines.append(f"PyTorch {t.get('torch', '?')}, transformers {t.get('transformers', '?')}; median of "
                         f"{t.get('iters', '?')}; {t.get('adapter_sites', '?')} adapters "
                         f"({t.get('adapter_params', '?')} parameters, TT {t.get('tt_down_modes')} rank "
                         f"{t.get('tt_rank')}), LoRA {t.get('lora_params', '?')} parameters.")
            for variant in ("paper", "fast"):
                v = t.get(variant)
                if not v:
                    continue
                line = (f"PyTorch {variant}: one forward {fmt(number(v, 'adazeta_forward_ms'))} ms with adapters, "
                        f"{fmt(number(v, 'mezo_lora_forward_ms'))} ms with LoRA")
                if variant == "fast":
                    line += (f"; {v.get('groups_per_forward', '?')} probe groups per forward "
                             f"({fmt(number(v, 'adazeta_batched_forward_ms'))} ms); batched vs sequential losses: "
                             f"max rel diff {v.get('max_rel_diff', float('nan')):.1e} at eps {t.get('eps', '?')}, "
                             f"{v.get('max_rel_diff_check_eps', float('nan')):.1e} at eps "
                             f"{v.get('check_eps', '?')}, fast vs paper modules "
                             f"{v.get('paper_module_rel_diff', float('nan')):.1e} (tolerance "
                             f"{v.get('check_tolerance', '?')}): "
                             f"{'ok' if v.get('check_passed') else '**CHECK FAILED**'}")
                lines.append(line + ".")
        z = self.zotune[("adapter", "batched")]
        if z and z.get("probe_batch") is not None:
            lines.append(f"zotune batched: {z['probe_batch']} probe groups per forward.")
        for (peft, mode), d in self.zotune.items():
            rate = number(d, "step_tflops")
            if rate is None or mode != "batched":
                continue
            line = f"zotune batched {'AdaZeta' if peft == 'adapter' else 'MeZO-LoRA'}: {rate:.0f} TFLOP/s achieved by the backbone"
            gpu = next((k for k in DENSE_16BIT_PEAK_TFLOPS if k in str(d.get("device", ""))), None)
            if gpu and d.get("dtype") in ("bf16", "f16"):
                peak = DENSE_16BIT_PEAK_TFLOPS[gpu]
                line += f", {100 * rate / peak:.0f}% of the {gpu}'s dense 16-bit peak ({peak:.0f})"
            lines.append(line + ".")
        missing = [f"zotune {peft} {mode}" for (peft, mode), d in self.zotune.items() if d is None]
        if self.torch is None:
            missing.append("PyTorch")
        if missing:
            lines.append(f"(missing: {', '.join(missing)})")
        return lines

    def checks(self):
        """[(description, passed or None)] for this setting's targets."""
        out = []
        if self.name.startswith("smollm2"):
            z = self.zotune_value("adapter", "batched", "time")
            out.append((f"AdaZeta step <= {SMOLLM2_ADAZETA_MS:g} ms (zotune batched: {fmt(z)} ms)",
                        None if z is None else z <= SMOLLM2_ADAZETA_MS))
            r = ratio(self.zotune_value("lora", "sequential", "time"), self.zotune_value("lora", "batched", "time"))
            out.append((f"MeZO-LoRA batched >= {SMOLLM2_LORA_BATCHING:g}x its sequential path ({fmt_ratio(r)})",
                        None if r is None else r >= SMOLLM2_LORA_BATCHING))
        elif self.name.startswith(("llama", "opt")):
            for method, label in (("adapter", "AdaZeta"), ("lora", "MeZO-LoRA")):
                r = ratio(self.torch_value("paper", method, "time"), self.zotune_value(method, "batched", "time"))
                out.append((f"{label} step >= {LLAMA_VS_PAPER:g}x faster than PyTorch paper ({fmt_ratio(r)})",
                            None if r is None else r >= LLAMA_VS_PAPER))
                z, t = self.zotune_value(method, "batched", "mem"), self.torch_value("paper", method, "mem")
                out.append((f"{label} peak memory no higher than PyTorch paper ({fmt(z)} vs {fmt(t)} GiB)",
                            None if z is None or t is None else z <= t))
        return out

    def render(self):
        lines = [self.header(), ""]
        lines += ["| | zotune sequential | zotune batched | PyTorch paper | PyTorch fast | batched vs sequential "
                  "| batched vs paper | batched vs best PyTorch |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for label, method, kind in ROWS:
            seq, bat, paper, fast = self.cells(method, kind)
            best = min((v for v in (paper, fast) if v is not None), default=None)
            lines.append(f"| {label} | {fmt(seq)} | {fmt(bat)} | {fmt(paper)} | {fmt(fast)} | "
                         f"{fmt_ratio(ratio(seq, bat))} | {fmt_ratio(ratio(paper, bat))} | "
                         f"{fmt_ratio(ratio(best, bat))} |")
        lines.append("")
        lines += self.notes()
        results = self.checks()
        if results:
            lines.append("")
            lines += [f"- {verdict(passed)}: {text}" for text, passed in results]
        return "\n".join(lines), [passed for _, passed in results]


def settings_in(folder):
    names = {os.path.basename(p)[len("pytorch_"):-len(".json")] for p in glob.glob(os.path.join(folder, "pytorch_*.json"))}
    for p in glob.glob(os.path.join(folder, "zotune_*.json")):
        stem = os.path.basename(p)[len("zotune_"):-len(".json")]
        parts = stem.rsplit("_", 2)  # SETTING_PEFT_MODE
        if len(parts) == 3:
            names.add(parts[0])
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def main():
    ap = argparse.ArgumentParser(description="zotune vs PyTorch parameter-efficient step tables")
    ap.add_argument("folder", help="run_peft_step_bench.sh's OUT folder")
    ap.add_argument("settings", nargs="*", help="setting names (default: every one found)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a check fails or is missing")
    args = ap.parse_args()

    names = args.settings or settings_in(args.folder)
    if not names:
        print(f"peft_step_table.py: no results in {args.folder}", file=sys.stderr)
        return 2
    failed = missing = 0
    for name in names:
        text, results = Setting(args.folder, name).render()
        print(text + "\n")
        failed += sum(1 for r in results if r is False)
        missing += sum(1 for r in results if r is None)
    print(f"{failed} check(s) failed, {missing} not measured.")
    return 1 if args.strict and (failed or missing) else 0


if __name__ == "__main__":
    sys.exit(main())
