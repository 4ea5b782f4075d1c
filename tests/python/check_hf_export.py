#!/usr/bin/env python3
"""Loads a zotune export (docs/EXPORT.md) with transformers (and peft for a LoRA adapter) and
compares its logits with zotune's own (`zotune export ... --reference-logits FILE`).

Checks, each a failure when it does not hold:
  - the export loads with no missing and no unexpected tensors (a misnamed tensor would be
    silently re-initialized or dropped);
  - the exported tokenizer (when the export has one) encodes every reference text to the ids
    zotune's tokenizer gave;
  - max |logits_transformers - logits_zotune| <= --tolerance for every text (fp32);
  - LoRA: every adapter tensor PEFT holds equals the file's, the adapter changes the base's
    logits by more than 100 x the tolerance (so equality is not the base's alone), and with
    --merged the merged model DIR/merged matches too.
Exit status: 0 pass, 1 fail, 77 skip (torch, transformers, safetensors or peft not importable:
ctest's SKIP_RETURN_CODE).
"""
import argparse
import json
import os
import sys

SKIP = 77


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("export", help="the export directory")
    ap.add_argument("reference", help="zotune's logits (.safetensors from zotune export --reference-logits)")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="max absolute logit difference (default 1e-4)")
    ap.add_argument("--merged", action="store_true", help="LoRA: also check DIR/merged (zotune export --merge-lora)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = ap.parse_args()

    lora = os.path.exists(os.path.join(args.export, "adapter_config.json"))
    try:
        import torch
        import transformers
        from safetensors import safe_open
        if lora:
            import peft
    except ImportError as e:
        print(f"SKIP: {e} (this Python cannot load the export: {sys.executable})")
        return SKIP
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()

    with safe_open(args.reference, "pt") as f:
        meta = f.metadata() or {}
        refs = []
        i = 0
        while f"logits.{i}" in f.keys():
            refs.append((meta.get(f"text.{i}", ""), f.get_tensor(f"input_ids.{i}").long(), f.get_tensor(f"logits.{i}")))
            i += 1
    if not refs:
        print(f"FAIL: {args.reference} holds no logits.<i> tensors")
        return 1
    failures = []

    def load_plain(path):
        try:
            model, info = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32,
                                                                            output_loading_info=True)
        except TypeError:  # transformers before 4.56 names it torch_dtype
            model, info = transformers.AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32,
                                                                            output_loading_info=True)
        for what in ("missing_keys", "unexpected_keys", "mismatched_keys"):
            if info.get(what):
                failures.append(f"{path}: {what} {sorted(info[what])[:8]}")
        return model.eval()

    def compare(name, model):
        worst = 0.0
        with torch.no_grad():
            for text, ids, expected in refs:
                got = model(input_ids=ids[None]).logits[0].float()
                diff = (got - expected).abs().max().item()
                worst = max(worst, diff)
        status = "ok" if worst <= args.tolerance else "FAIL"
        print(f"{name}: max |logit difference| {worst:.3g} over {len(refs)} texts ({status}, tolerance {args.tolerance:g})")
        if worst > args.tolerance:
            failures.append(f"{name}: max logit difference {worst:.3g} > {args.tolerance:g}")
        return worst

    def check_tokenizer(path):
        if not os.path.exists(os.path.join(path, "tokenizer.json")):
            print(f"{path}: no tokenizer.json (see its README.md); tokenizer not checked")
            return
        tok = transformers.AutoTokenizer.from_pretrained(path)
        for text, ids, _ in refs:
            got = tok(text, add_special_tokens=True)["input_ids"]
            if got != ids.tolist():
                failures.append(f"{path}: the tokenizer encodes {text!r} as {got[:12]}... but zotune as {ids.tolist()[:12]}...")
        print(f"{path}: tokenizer ({type(tok).__name__}) gives zotune's ids for {len(refs)} texts")

    peft_spec = os.path.join(args.export, "zotune_peft.json")
    if not lora and os.path.exists(peft_spec):
        with open(peft_spec) as f:
            kind = json.load(f)["kind"]
        if kind != "tt_adapter":
            print(f"SKIP: {args.export} holds zotune {kind} modules, which no transformers loader reads")
            return SKIP
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "analysis"))
        import zotune_tt_adapters
        model = load_plain(args.export)
        with torch.no_grad():
            base_logits = [model(input_ids=ids[None]).logits[0].float() for _, ids, _ in refs]
        effect = max((b - e).abs().max().item() for b, (_, _, e) in zip(base_logits, refs))
        print(f"adapter effect: max |zotune - backbone logits| {effect:.3g}")
        if effect <= 100 * args.tolerance:
            failures.append(f"the adapters change the logits by only {effect:.3g}: the check could not tell a lost adapter")
        zotune_tt_adapters.attach(model, args.export)
        compare(f"{args.export} (TT adapters, analysis/zotune_tt_adapters.py)", model)
        check_tokenizer(args.export)
    elif not lora:
        compare(args.export, load_plain(args.export))
        check_tokenizer(args.export)
    else:
        with open(os.path.join(args.export, "adapter_config.json")) as f:
            adapter_config = json.load(f)
        base_path = adapter_config["base_model_name_or_path"]
        base = load_plain(base_path)
        with torch.no_grad():
            base_logits = [base(input_ids=ids[None]).logits[0].float() for _, ids, _ in refs]
        effect = max((b - e).abs().max().item() for b, (_, _, e) in zip(base_logits, refs))
        print(f"adapter effect: max |zotune - base logits| {effect:.3g}")
        if effect <= 100 * args.tolerance:
            failures.append(f"the adapter changes the logits by only {effect:.3g}: the check could not tell a lost adapter")
        model = peft.PeftModel.from_pretrained(base, args.export).eval()
        # Every tensor of the file reached the model under PEFT's names.
        held = peft.utils.get_peft_model_state_dict(model)
        with safe_open(os.path.join(args.export, "adapter_model.safetensors"), "pt") as f:
            names = list(f.keys())
            for name in names:
                if name not in held:
                    failures.append(f"adapter tensor {name} is not in the PEFT model")
                elif not torch.equal(held[name].float().cpu(), f.get_tensor(name).float()):
                    failures.append(f"adapter tensor {name} differs once loaded")
        extra = sorted(set(held) - set(names))
        if extra:
            failures.append(f"PEFT model tensors the file lacks: {extra[:8]}")
        print(f"{args.export}: {len(names)} adapter tensors loaded by peft {peft.__version__}")
        compare(f"{args.export} (peft {adapter_config['peft_type']} r={adapter_config['r']})", model)
        check_tokenizer(args.export)
        if args.merged:
            merged = os.path.join(args.export, "merged")
            compare(merged, load_plain(merged))
            check_tokenizer(merged)

    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
