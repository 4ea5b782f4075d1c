"""How much of a padded training batch is real tokens: the token counts `zotune prompts` prints
for a task's training examples under the paper grids' protocol (MeZO template, BSZO's splits;
every candidate's sequence, as the MeZO loss forwards them), drawn
into batches of BATCH at random (seeded; the protocol's batches are random draws), each padded to
its longest sequence. The share of real tokens bounds what engine.unpadded can save of the GEMM,
norm and MLP work of a forward; the mean padded length sets the attention's.
    python3 experiments/benchmarks/padding_share.py ZOTUNE MODEL DATA_DIR [--tasks sst2 rte cb] [--batch 16]
MODEL: the model whose tokenizer counts the tokens; --tasks: one row each."""

import argparse
import random
import re
import os
import subprocess
import sys
import tempfile


def sequence_lengths(zotune, model, data_dir, task):
    with tempfile.TemporaryDirectory() as tmp:
        run_file = os.path.join(tmp, "run.yaml")
        with open(run_file, "w") as f:
            f.write(f"model: {{path: {os.path.abspath(model)}}}\n"
                    f"task: {{name: {task}, data_dir: {os.path.abspath(data_dir)}, sampling: bszo}}\n"
                    "optimizer: {name: mezo}\n")
        out = subprocess.run([zotune, "prompts", run_file, "--n", "100000"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"zotune prompts (task {task}): {out.stderr.strip()}")
    return [int(n) for n in re.findall(r"^  ids \((\d+) tokens\)", out.stdout, re.M)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("zotune")
    ap.add_argument("model")
    ap.add_argument("data_dir")
    ap.add_argument("--tasks", nargs="+", default=["sst2", "rte", "cb"])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--draws", type=int, default=2000)
    a = ap.parse_args()
    rng = random.Random(0)
    print(f"| task | sequences | mean tokens | longest | mean padded length, batch {a.batch} | real share of padded |")
    print("| --- | --- | --- | --- | --- | --- |")
    for task in a.tasks:
        lengths = sequence_lengths(a.zotune, a.model, a.data_dir, task)
        if len(lengths) < a.batch:
            sys.exit(f"{task}: {len(lengths)} sequences, fewer than a batch of {a.batch}")
        real = padded = 0
        for _ in range(a.draws):
            b = rng.sample(lengths, a.batch)
            real += sum(b)
            padded += a.batch * max(b)
        print(f"| {task} | {len(lengths)} | {sum(lengths) / len(lengths):.1f} | {max(lengths)} | "
              f"{padded / a.batch / a.draws:.1f} | {real / padded:.1%} |")


if __name__ == "__main__":
    main()
