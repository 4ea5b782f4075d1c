"""The second stage of a grid that searches its learning rates with one seed: the runs of the
other seeds at each cell's selected learning rate, as grid indices (one a line).

    python3 analysis/search_seed_runs.py LISTING DONE_CSV [--search-seed 1]

LISTING: `zotune grid GRID list` output (index, name, then the varying key=value pairs);
DONE_CSV: the grid's committed collect rows (experiments/results/NAME/collect.csv). A cell is a
combination of the varying keys other than optimizer.lr and run.seed. Once every learning rate
of a cell has its search-seed run in DONE_CSV (completed or failed), the cell's learning rate is
the one whose completed search run has the best dev value (best_dev_*: higher is better, lower
for a loss; ties go to the smaller learning rate), as `paper_table.py --select search-seed`
selects it, and the cell's runs of every other seed at that learning rate are printed. Cells whose
search is not complete print nothing yet. Standard library only (it runs on the GPU machine).
"""

import argparse
import csv
import sys


def read_listing(path):
    """[(index, {key: value})] from `zotune grid ... list` (its last line, the run count, skipped)."""
    runs = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or not parts[0].isdigit() or not all("=" in p for p in parts[2:]):
                continue  # the closing "N runs; logs in ..." line
            keys = dict(p.split("=", 1) for p in parts[2:])
            runs.append((int(parts[0]), keys))
    if not runs:
        sys.exit(f"search_seed_runs: {path}: no runs (not a `zotune grid ... list` output)")
    return runs


def dev_of(row):
    """(value, higher_is_better) of a collect row's best_dev_* column, or (None, None)."""
    for key in sorted(k for k in row if k.startswith("best_dev_")):
        if row[key] not in ("", None):
            return float(row[key]), not key.endswith("loss")
    return None, None


def cell_of(keys):
    return tuple(sorted((k, v) for k, v in keys.items() if k not in ("optimizer.lr", "run.seed")))


def second_stage(listing, done_rows, search_seed):
    done = {int(r["index"]): r for r in done_rows if r.get("status") in ("completed", "failed")}
    cells = {}
    for index, keys in listing:
        if "optimizer.lr" not in keys or "run.seed" not in keys:
            sys.exit("search_seed_runs: the grid does not vary optimizer.lr and run.seed")
        cells.setdefault(cell_of(keys), []).append((index, float(keys["optimizer.lr"]), int(keys["run.seed"])))
    out = []
    for runs in cells.values():
        search = [(i, lr) for i, lr, seed in runs if seed == search_seed]
        if not search or any(i not in done for i, _ in search):
            continue
        best = None
        for i, lr in sorted(search, key=lambda x: x[1]):  # smaller learning rate first: it wins ties
            row = done[i]
            dev, higher = dev_of(row)
            if row["status"] != "completed" or dev is None:
                continue
            score = dev if higher else -dev
            if best is None or score > best[0]:
                best = (score, lr)
        if best is not None:
            out += sorted(i for i, lr, seed in runs if seed != search_seed and lr == best[1])
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("listing", help="`zotune grid GRID list` output")
    p.add_argument("done_csv", help="the grid's committed collect CSV")
    p.add_argument("--search-seed", type=int, default=1)
    a = p.parse_args(argv)
    with open(a.done_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"index", "status"} <= set(rows[0]):
        sys.exit(f"search_seed_runs: {a.done_csv}: not a collect CSV (no index and status columns)")
    for index in second_stage(read_listing(a.listing), rows, a.search_seed):
        print(index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
