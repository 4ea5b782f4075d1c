"""Zero-shot accuracy of a GGUF causal LM on SST-2, RTE and BoolQ under the MeZO protocol,
computed with Hugging Face transformers: the independent reference that zotune's numbers are
checked against (issues 4 and 16; docs/RESULTS.md). Written from the protocol
(docs/papers/baselines.md 8.1-8.3) and MeZO's large_models code, not from zotune's code:

  * test split = the official validation file; MeZO takes sample_subset(valid, seed=0,
    num=1000): np.random.seed(0); np.random.permutation(n)[:1000] -- all of SST-2's 872 and
    RTE's 277 examples, 1000 of BoolQ's 3270 (order does not change accuracy);
  * data as MeZO loads it: BoolQ from HF `boolq`, whose passage has no "<title> -- " prefix
    (the SuperGLUE file in DATA_DIR has it: the text after the first " -- " is HF's passage);
  * templates (MeZO templates.py): SST-2 "{sentence.strip()} It was" + " terrible" / " great";
    RTE "{premise}\nDoes this mean that \"{hypothesis}\" is true? Yes or No?\n" + "Yes" / "No";
    BoolQ V3 "{passage} {Question?}\n" + "Yes" / "No" (question: "?" appended if missing,
    first letter upper-cased; "Yes" = a true answer);
  * utils.encode_prompt: option length = #tokens(prompt.strip(' ')) -
    #tokens(verbalized.strip(' ')); the sequence fed is verbalized.strip(' ').lstrip().strip(' ')
    (a trailing "\n" of the prompt is kept when counting); sequences longer than max_length
    (2048, MeZO's default) keep their last max_length tokens (the first, BOS, kept when the
    tokenizer adds one), as zotune's task.max_length 2048 does;
  * score of a candidate = mean log-probability of its option tokens; prediction = argmax
    (first on ties); no calibration.

Usage: python3 hf_reference.py MODEL.gguf DATA_DIR [--device cuda] [--tasks sst2,rte,boolq]
       [--max_length 2048] [--out results.json]
DATA_DIR holds SST-2/dev.tsv, RTE/val.jsonl and BoolQ/val.jsonl (the layout of shared/data).
"""

import argparse
import csv
import json
import os
import sys
import time

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def sst2_examples(data_dir):
    with open(os.path.join(data_dir, "SST-2", "dev.tsv"), encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    header, rows = rows[0], rows[1:]
    s, l = header.index("sentence"), header.index("label")
    for r in rows:
        text = r[s].strip()  # GLUE sentences end in a space; MeZO strips it
        prompt = f"{text} It was"
        yield prompt, [f"{text} It was terrible", f"{text} It was great"], int(r[l])


def rte_examples(data_dir):
    with open(os.path.join(data_dir, "RTE", "val.jsonl"), encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            d = json.loads(line)
            prompt = f"{d['premise']}\nDoes this mean that \"{d['hypothesis']}\" is true? Yes or No?\n"
            label = 0 if d["label"] == "entailment" else 1
            yield prompt, [prompt + "Yes", prompt + "No"], label


def boolq_examples(data_dir):
    with open(os.path.join(data_dir, "BoolQ", "val.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    # MeZO: sample_subset(data_split="valid", seed=0, num=1000)
    state = np.random.get_state()
    np.random.seed(0)
    order = np.random.permutation(len(rows)).tolist()[:1000]
    np.random.set_state(state)
    for i in order:
        d = rows[i]
        passage = d["passage"].split(" -- ", 1)[1]  # HF boolq: without the SuperGLUE title prefix
        question = d["question"]
        if not question.endswith("?"):
            question = question + "?"
        question = question[0].upper() + question[1:]
        prompt = f"{passage} {question}\n"
        yield prompt, [prompt + "Yes", prompt + "No"], 0 if d["label"] else 1


def truncate(tokenizer, ids, max_length):
    """utils.encode_prompt: keep the last max_length tokens, and the first when it is a BOS."""
    if len(ids) <= max_length:
        return ids
    if getattr(tokenizer, "add_bos_token", False):
        return ids[0:1] + ids[1:][-(max_length - 1):]
    return ids[-max_length:]


@torch.no_grad()
def candidate_score(model, tokenizer, prompt, full, device, max_length=2048):
    prompt_ids = tokenizer.encode(prompt.strip(" "))
    option_len = len(tokenizer.encode(full.strip(" "))) - len(prompt_ids)
    ids = truncate(tokenizer, tokenizer.encode(full.strip(" ").lstrip().strip(" ")), max_length)
    x = torch.tensor([ids], device=device)
    logp = torch.log_softmax(model(x).logits[0].float(), dim=-1)  # [T, vocab]
    targets = x[0, 1:]
    token_logp = logp[:-1].gather(1, targets[:, None])[:, 0]
    return token_logp[-option_len:].mean().item(), ids, option_len


def accuracy(model, tokenizer, examples, device, max_length):
    correct = total = 0
    for prompt, candidates, label in examples:
        scores = [candidate_score(model, tokenizer, prompt, c, device, max_length)[0] for c in candidates]
        correct += int(max(range(len(scores)), key=scores.__getitem__) == label)
        total += 1
    return correct / total, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("data_dir")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--tasks", default="sst2,rte,boolq")
    ap.add_argument("--max_length", type=int, default=2048)
    ap.add_argument("--out")
    args = ap.parse_args()
    d, name = os.path.split(os.path.abspath(args.gguf))
    tokenizer = AutoTokenizer.from_pretrained(d, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32).to(args.device).eval()
    results = {}
    readers = {"sst2": sst2_examples, "rte": rte_examples, "boolq": boolq_examples}
    for task in args.tasks.split(","):
        gen = readers[task]
        t0 = time.time()
        acc, n = accuracy(model, tokenizer, gen(args.data_dir), args.device, args.max_length)
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
