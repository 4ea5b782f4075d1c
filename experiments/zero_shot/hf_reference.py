"""Zero-shot accuracy of a GGUF causal LM on SST-2 and RTE under the MeZO protocol, computed
with Hugging Face transformers: the independent reference that zotune's numbers are checked
against (issue 4; docs/RESULTS.md). Written from the protocol (shared/papers/baselines.md
8.1-8.3), not from zotune's code:

  * test split = the official validation file; MeZO samples min(1000, n) of it with
    np.random.seed(0), i.e. all of SST-2's 872 and RTE's 277 examples (order does not
    change accuracy);
  * templates (MeZO templates.py): SST-2 "{sentence} It was" + " terrible" / " great";
    RTE "{premise}\\nDoes this mean that \\"{hypothesis}\\" is true? Yes or No?\\n" + "Yes" / "No";
    the assembled strings are stripped of leading and trailing whitespace;
  * score of a candidate = mean log-probability of its option tokens, option length =
    #tokens(prompt + candidate) - #tokens(prompt); prediction = argmax; no calibration.

Usage: python3 hf_reference.py MODEL.gguf DATA_DIR [--device cuda] [--out results.json]
DATA_DIR holds SST-2/dev.tsv and RTE/val.jsonl (the layout of shared/data).
"""

import argparse
import csv
import json
import os
import sys
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def sst2_examples(data_dir):
    with open(os.path.join(data_dir, "SST-2", "dev.tsv"), encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    header, rows = rows[0], rows[1:]
    s, l = header.index("sentence"), header.index("label")
    for r in rows:
        prompt = f"{r[s]} It was"
        yield prompt, [f"{r[s]} It was terrible", f"{r[s]} It was great"], int(r[l])


def rte_examples(data_dir):
    with open(os.path.join(data_dir, "RTE", "val.jsonl"), encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            d = json.loads(line)
            prompt = f"{d['premise']}\nDoes this mean that \"{d['hypothesis']}\" is true? Yes or No?\n"
            label = 0 if d["label"] == "entailment" else 1
            yield prompt, [prompt + "Yes", prompt + "No"], label


@torch.no_grad()
def candidate_score(model, tokenizer, prompt, full, device):
    prompt_ids = tokenizer.encode(prompt.strip())
    ids = tokenizer.encode(full.strip())
    option_len = len(ids) - len(prompt_ids)
    x = torch.tensor([ids], device=device)
    logp = torch.log_softmax(model(x).logits[0].float(), dim=-1)  # [T, vocab]
    targets = x[0, 1:]
    token_logp = logp[:-1].gather(1, targets[:, None])[:, 0]
    return token_logp[-option_len:].mean().item(), ids, option_len


def accuracy(model, tokenizer, examples, device):
    correct = total = 0
    for prompt, candidates, label in examples:
        scores = [candidate_score(model, tokenizer, prompt, c, device)[0] for c in candidates]
        correct += int(max(range(len(scores)), key=scores.__getitem__) == label)
        total += 1
    return correct / total, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("data_dir")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out")
    args = ap.parse_args()
    d, name = os.path.split(os.path.abspath(args.gguf))
    tokenizer = AutoTokenizer.from_pretrained(d, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32).to(args.device).eval()
    results = {}
    for task, gen in (("sst2", sst2_examples), ("rte", rte_examples)):
        t0 = time.time()
        acc, n = accuracy(model, tokenizer, gen(args.data_dir), args.device)
        results[task] = {"accuracy": acc, "examples": n, "seconds": time.time() - t0}
        print(f"{task}: accuracy {100 * acc:.2f} over {n} examples ({time.time() - t0:.1f} s)", flush=True)
    first = next(sst2_examples(args.data_dir))
    results["sst2_first_candidate_ids"] = candidate_score(model, tokenizer, first[0], first[1][0], args.device)[1]
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
