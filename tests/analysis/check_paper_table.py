#!/usr/bin/env python3
"""analysis/paper_table.py on tiny runs (CTest: analysis.paper_table, analysis.paper_table_fixture).

  live     trains two tiny grids with `zotune grid ... run` (the tiny Llama fixture; MeZO and
           BSZO x 2 learning rates x 2 seeds, on the movie reviews as `sst2` and as a custom
           task: 16 runs of 12 steps), then builds a Table-1-shaped table from the folder of
           logs and from a grid's collect CSV, and checks every cell of its CSV output (mean,
           std, selected learning rate, best mark) against values computed here from the logs
           with h5py alone; the Markdown and LaTeX name the same numbers; the memory (Table 4)
           and loss-threshold tables against h5py too; the plots are written.
  fixture  regenerates the committed table tests/fixtures/paper_table/expected.md from the
           committed logs of tiny runs in that folder and compares it byte for byte.
  blocks   analysis/update_results.py: rewrites a page's generated block to the table, fails
           --check on a hand-edited number; docs/RESULTS.md's generated tables are current.
  regenerate  (by hand) trains the fixture's runs again and rewrites the logs and expected.md:
           python3 tests/analysis/check_paper_table.py regenerate --zotune build/zotune --repo . --work /tmp/pt

Needs h5py, numpy, pandas, matplotlib and PyYAML.
"""
import argparse
import math
import os
import re
import shutil
import sys

os.environ["HDF5_USE_FILE_LOCKING"] = "FALSE"
import h5py  # noqa: E402
import numpy as np  # noqa: E402
from check_util import CheckFailed, require  # noqa: E402  (tests/analysis, beside this file)
from check_util import run as run_checked  # noqa: E402


def run(command, cwd=None, expect_rc=0):
    return run_checked(command, cwd=cwd, expect_rc=expect_rc, timeout=600, echo=True)


def tool(args, *argv, expect_rc=0):
    return run([sys.executable, os.path.join(args.repo, "analysis", "paper_table.py"), *argv], expect_rc=expect_rc)


def analysis_module(args, name):
    """zotune_analysis.<name> from the repository under test."""
    import importlib
    sys.path.insert(0, os.path.join(args.repo, "analysis"))
    return importlib.import_module(f"zotune_analysis.{name}")


# The two tasks: sst2 (a registered task) and a custom task on the same reviews. Every key is
# given in the grid (no base), so the test does not depend on a run file's other keys.
COMMON = """  run.steps: 12
  run.progress: off
  run.checksum_every: 0
  model.path: {repo}/tests/fixtures/train/tiny_lm
  data.batch_size: 4
  eval.every: 4
  eval.select: metric
  eval.patience: 0
  optimizer.eps: 1e-3
"""
TASKS = {
    "sst2": """  task.name: sst2
  task.train: {repo}/experiments/data/movie_reviews/train.tsv
  task.test: {repo}/experiments/data/movie_reviews/test.tsv
  task.num_train: 32
  task.num_dev: 16
  task.num_test: 24
  task.max_length: 48
""",
    "custom": """  task.name: custom
  task.train: {repo}/tests/fixtures/tasks/custom/reviews_train.jsonl
  task.test: {repo}/tests/fixtures/tasks/custom/reviews_test.csv
  task.prompt: "Review: {{review}}\\nSentiment:"
  task.candidates: [" negative", " positive"]
  task.label_field: sentiment
  task.labels: [negative, positive]
  task.num_train: 32
  task.num_dev: 16
  task.num_test: 24
  task.max_length: 96
""",
}
LRS = {"mezo": [3e-2, 1e-2], "bszo": [3e-2, 1e-1]}


def write_grid(work, task, out_dir, methods=("mezo", "bszo"), seeds=(1, 2), repo=""):
    path = os.path.join(work, f"grid_{task}.yaml")
    rules = "".join(f"  - match: {{optimizer.name: {m}}}\n    axes: {{optimizer.lr: [{', '.join(map(str, LRS[m]))}]}}\n"
                    for m in methods if m != methods[0])
    with open(path, "w") as f:
        f.write("set:\n" + COMMON.format(repo=repo) + TASKS[task].format(repo=repo) +
                f"axes:\n  optimizer.name: [{', '.join(methods)}]\n"
                f"  optimizer.lr: [{', '.join(map(str, LRS[methods[0]]))}]\n"
                f"seeds: [{', '.join(map(str, seeds))}]\n"
                + (f"when:\n{rules}" if rules else "") +
                "name: \"{optimizer.name}-lr{optimizer.lr}-s{run.seed}\"\n"
                f"output: {out_dir}\n")
    return path


def train_grid(args, grid):
    run([args.zotune, "grid", grid, "run", "--jobs", "2"])
    csv = grid[:-5] + ".csv"
    run([args.zotune, "grid", grid, "collect", "--csv", csv])
    return csv


# ---- the independent computation: h5py and numpy only ----------------------------------------


def _text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def read_log(path):
    """(optimizer.name, lr, seed, task.name, best_dev, test %, loss, queries, ms, peak_rss) from
    the log's /config_resolved (parsed with PyYAML) and /summary, /steps with h5py."""
    import yaml
    with h5py.File(path, "r") as f:
        config = yaml.safe_load(_text(f["config_resolved"][()]))
        s = {k: (_text(v) if isinstance(v, (bytes, str)) else v) for k, v in f["summary"].attrs.items()}
        rows = len(f["steps/step"])
        loss = f["steps/loss"][:rows].astype(float)
        queries = f["steps/queries"][:rows].astype(float)
        ms = f["steps/ms"][:rows].astype(float)
        rss = f["steps/peak_memory_bytes"][:rows].astype(float)
    return {"method": config["optimizer"]["name"], "lr": float(config["optimizer"]["lr"]),
            "seed": int(config["run"]["seed"]), "task": config["task"]["name"], "status": s["status"],
            "dev": float(s["best_dev_accuracy"]), "test": 100.0 * float(s["test_accuracy"]),
            "loss": loss, "queries": queries, "ms": ms, "rss": rss, "path": path}


def expected_cells(logs):
    """{(method label, task): (mean, std, lr)}: per (method, task) the learning rate whose dev
    accuracy averaged over seeds is highest (ties: the smaller learning rate), then the mean and
    sample std of the test accuracy of its seeds."""
    label = {"mezo": "MeZO", "bszo": "BSZO"}
    groups = {}
    for r in logs:
        groups.setdefault((label[r["method"]], r["task"]), {}).setdefault(r["lr"], []).append(r)
    out = {}
    for key, by_lr in groups.items():
        best_lr, best_dev = None, -math.inf
        for lr in sorted(by_lr):
            dev = sum(r["dev"] for r in by_lr[lr]) / len(by_lr[lr])
            if dev > best_dev:
                best_lr, best_dev = lr, dev
        tests = [r["test"] for r in sorted(by_lr[best_lr], key=lambda r: r["seed"])]
        mean = sum(tests) / len(tests)
        std = math.sqrt(sum((t - mean) ** 2 for t in tests) / (len(tests) - 1)) if len(tests) > 1 else math.nan
        out[key] = (mean, std, best_lr)
    return out


def trailing_mean(values, window):
    out = np.empty(len(values))
    for i in range(len(values)):
        out[i] = np.mean(values[max(0, i - window + 1): i + 1])
    return out


def close(a, b, tol=1e-9):
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def check_accuracy_csv(csv_path, cells, task_labels, what):
    import pandas as pd
    frame = pd.read_csv(csv_path)
    frame = frame[frame["column"] != "Avg"]
    require(len(frame) == len(cells), f"{what}: {len(frame)} cells, expected {len(cells)}:\n{frame}")
    for (method, task), (mean, std, lr) in cells.items():
        rows = frame[(frame["row"] == method) & (frame["column"] == task_labels[task])]
        require(len(rows) == 1, f"{what}: no single cell for {method} / {task}:\n{frame}")
        row = rows.iloc[0]
        require(close(float(row["mean"]), mean), f"{what}: {method} {task} mean {row['mean']}, expected {mean}")
        require(close(float(row["std"]), std), f"{what}: {method} {task} std {row['std']}, expected {std}")
        require(str(row["lr"]).split(";") == [f"{lr:g}"] * int(row["n"]),
                f"{what}: {method} {task} lr {row['lr']}, expected {lr:g} for each seed")
    for task in {t for _, t in cells}:
        best = max(m for (meth, t), (m, _, _) in cells.items() if t == task)
        for (method, t), (m, _, _) in cells.items():
            if t != task:
                continue
            flag = bool(frame[(frame["row"] == method) & (frame["column"] == task_labels[task])].iloc[0]["best"])
            require(flag == (m == best), f"{what}: {method} {task}: best mark {flag}, mean {m}, column best {best}")
    return frame


def check_search_seed_records(args):
    """--select search-seed on made-up runs where it and the mean selection disagree: the two-stage
    grid (every learning rate with seed 1, seeds 2 and 3 at seed 1's best), a diverged seed at the
    selected learning rate, a search run still missing; and bszo-3-smollm2 selects so by default."""
    pt = analysis_module(args, "paper_table")

    def rec(lr, seed, dev, test, status="completed", task="sst2", method="mezo"):
        config = {"optimizer.name": method, "task.name": task, "optimizer.lr": lr, "run.seed": seed,
                  "model.path": "m.gguf"}
        summary = {} if status != "completed" else {"best_dev_accuracy": dev, "test_accuracy": test,
                                                     "selection": "accuracy"}
        return pt.RunRecord(path=f"{task}-{lr}-{seed}", config=config, summary=summary, status=status)

    def cell(records, select):
        table = pt.build_table(records, "bszo-1", select=select)
        (c,) = table.cells.values()
        return c

    # lr 1e-5: seed 1 best on dev (0.8), seeds 2, 3 low; lr 1e-6: 0.7 on every seed (higher mean).
    full = [rec(1e-5, 1, 0.8, 0.70), rec(1e-5, 2, 0.5, 0.60), rec(1e-5, 3, 0.5, 0.62),
            rec(1e-6, 1, 0.7, 0.65), rec(1e-6, 2, 0.7, 0.66), rec(1e-6, 3, 0.7, 0.67)]
    mean_cell, search_cell = cell(full, "mean"), cell(full, "search-seed")
    require(mean_cell.lrs == [1e-6] * 3, f"mean selection: {mean_cell.lrs}")
    require(search_cell.lrs == [1e-5] * 3 and close(search_cell.mean, (70 + 60 + 62) / 3) and
            close(search_cell.dev, 0.8), f"search-seed selection: {search_cell.lrs}, {search_cell.values}, "
            f"dev {search_cell.dev}")
    two_stage = [r for r in full if r.config["run.seed"] == 1 or r.config["optimizer.lr"] == 1e-5]
    c = cell(two_stage, "search-seed")
    require(c.lrs == [1e-5] * 3 and c.seeds == [1, 2, 3], f"two-stage grid: {c.lrs} seeds {c.seeds}")
    diverged = [r for r in two_stage if r.config["run.seed"] != 3] + [rec(1e-5, 3, None, None, status="failed")]
    c = cell(diverged, "search-seed")
    require(c.lrs == [1e-6] and c.values == [65.0], f"a failed seed at the selected lr: {c.lrs} {c.values}")
    missing = [r for r in full if not (r.config["optimizer.lr"] == 1e-5 and r.config["run.seed"] == 1)]
    c = cell(missing, "search-seed")
    require(c.lrs == [1e-6] * 3, f"a learning rate without its search run competes: {c.lrs}")
    table = pt.build_table(full, "bszo-3-smollm2")
    require(table.select == "search-seed" and next(iter(table.cells.values())).lrs == [1e-5] * 3,
            f"bszo-3-smollm2's default selection: {table.select}")
    require("search seed" in pt.markdown(table, "x"), "the caption does not name the search-seed rule")
    print("search-seed selection on made-up runs: ok (two-stage grid, a failed seed, a missing search run)")

    # A row with a cell missing (a grid part way through) averages fewer tasks (†): its higher
    # average is not marked best over a whole row's.
    partial = [rec(1e-5, 1, 0.7, 0.60, task="sst2"), rec(1e-5, 1, 0.6, 0.50, task="rte"),
               rec(1e-5, 1, 0.8, 0.90, task="sst2", method="bszo"),
               rec(1e-5, 1, 0.5, 0.55, task="sst2", method="lozo"), rec(1e-5, 1, 0.5, 0.45, task="rte", method="lozo")]
    table = pt.build_table(partial, "bszo-3-smollm2")
    best = pt._best(table)
    rows = {r[0]: r for r in table.rows}
    require(table.avg[rows["BSZO"]] == (90.0, True) and (rows["MeZO"], "Avg") in best
            and (rows["BSZO"], "Avg") not in best, f"a partial average marked best: {table.avg}, {best}")
    caption = pt.markdown(table, "x").split("\n\n")[1]
    require("(1 seed per cell)" in caption, "caption: one seed per cell")
    require("Model: m." in caption and "Every run: model" not in caption,
            f"the caption names the one model twice: {caption}")

    # A search part way through: LOZO's SST-2 search seed has run 1 of the 2 learning rates the
    # other cells ran, so its cell (the column's highest) and its row's average (the highest) are
    # provisional (‡), never bold; the whole cells keep their marks.
    searching = [rec(1e-5, 1, 0.7, 0.60, task="sst2"), rec(1e-6, 1, 0.6, 0.62, task="sst2"),
                 rec(1e-5, 1, 0.6, 0.50, task="rte"), rec(1e-6, 1, 0.5, 0.40, task="rte"),
                 rec(1e-5, 1, 0.9, 0.95, task="sst2", method="lozo"),
                 rec(1e-5, 1, 0.5, 0.55, task="rte", method="lozo"),
                 rec(1e-6, 1, 0.4, 0.45, task="rte", method="lozo"),
                 rec(1e-5, 1, 0.7, 0.58, task="sst2", method="hizoo"),
                 rec(1e-6, 1, 0.5, 0.30, task="sst2", method="hizoo"),
                 rec(1e-5, 1, 0.6, 0.48, task="rte", method="hizoo"),
                 rec(1e-6, 1, 0.5, 0.10, task="rte", method="hizoo")]
    table = pt.build_table(searching, "bszo-3-smollm2")
    best = pt._best(table)
    rows = {r[0]: r for r in table.rows}
    cells = {(r[0], c[0]): cell for (r, c), cell in table.cells.items()}
    require(cells[("LOZO", "sst2")].provisional and cells[("LOZO", "sst2")].searched == 1
            and not cells[("LOZO", "rte")].provisional and not cells[("MeZO", "sst2")].provisional,
            f"provisional cells: {[(k, c.searched, c.provisional) for k, c in cells.items()]}")
    require((rows["MeZO"], ("sst2",)) in best and (rows["LOZO"], ("sst2",)) not in best
            and (rows["LOZO"], ("rte",)) in best and (rows["MeZO"], "Avg") in best
            and (rows["LOZO"], "Avg") not in best, f"a provisional cell or average marked best: {best}")
    md = pt.markdown(table, "x")
    require("| 95.00‡ |" in md and "75.00‡" in md and "‡ provisional" in md
            and "its search seed has run 1 of the 2 learning rates" in md and "1e-05 (0.9)‡" in md,
            f"markdown does not mark the provisional cell:\n{md}")
    tex = pt.latex(table, "x")
    require(r"95.00$^\ddagger$" in tex and r"\textbf{75.00" not in tex, f"LaTeX:\n{tex}")
    frame = pt.csv_frame(table)
    avg_note = frame[(frame["row"] == "LOZO") & (frame["column"] == "Avg")]["note"].item()
    require(avg_note == "provisional", f"CSV Avg note: {avg_note!r}")
    require(not any(c.provisional for c in pt.build_table(searching, "bszo-3-smollm2", select="mean").cells.values()),
            "the mean selection marks provisional cells")
    print("search-seed selection part way through its search: ok (provisional cell and average, never bold)")

    # analysis/search_seed_runs.py: the second stage's runs from a listing and the finished rows.
    # Cells: sst2 (dev tie: the smaller lr), rte (its better lr's search run failed), cb (a search
    # run still pending: nothing yet). Index = 6 * cell + 3 * lr position + seed - 1.
    work = os.path.join(args.work, "search_seed")
    os.makedirs(work, exist_ok=True)
    lrs, listing, rows = ("1e-5", "1e-6"), [], ["index,name,optimizer.name,task.name,optimizer.lr,run.seed,status,best_dev_accuracy"]
    dev = {("sst2", "1e-5"): 0.7, ("sst2", "1e-6"): 0.7, ("rte", "1e-5"): None, ("rte", "1e-6"): 0.6,
           ("cb", "1e-5"): 0.9}
    for c, task in enumerate(("sst2", "rte", "cb")):
        for j, lr in enumerate(lrs):
            for seed in (1, 2, 3):
                i = 6 * c + 3 * j + seed - 1
                listing.append(f"  {i}  mezo-{task}-lr{lr}-s{seed}  optimizer.name=mezo  task.name={task}  "
                               f"optimizer.lr={lr}  run.seed={seed}")
                if seed == 1 and (task, lr) in dev:
                    d = dev[(task, lr)]
                    rows.append(f"{i},n,mezo,{task},{lr},1,{'failed' if d is None else 'completed'},{'' if d is None else d}")
    listing.append("18 runs; logs in somewhere")
    with open(os.path.join(work, "listing.txt"), "w") as f:
        f.write("\n".join(listing) + "\n")
    with open(os.path.join(work, "done.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    got = run([sys.executable, os.path.join(args.repo, "analysis", "search_seed_runs.py"),
               os.path.join(work, "listing.txt"), os.path.join(work, "done.csv")]).stdout.split()
    # sst2: lr 1e-6 (index 3..5) ties 1e-5 (0..2): the smaller, 1e-6, seeds 2, 3 = 4, 5;
    # rte: 1e-5 failed, so 1e-6 (9..11): 10, 11; cb: 1e-6's search run pending: none.
    require(got == ["4", "5", "10", "11"], f"search_seed_runs.py printed {got}, expected 4 5 10 11")
    print("search_seed_runs.py: ok (a tie, a failed search run, an unfinished search)")


def check_live(args):
    work = args.work
    shutil.rmtree(os.path.join(work, "runs"), ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    csvs = {}
    for task in TASKS:
        grid = write_grid(work, task, os.path.join(work, "runs", task), repo=args.repo)
        csvs[task] = train_grid(args, grid)
    logs = []
    for task in TASKS:
        folder = os.path.join(work, "runs", task)
        logs += [read_log(os.path.join(folder, n)) for n in sorted(os.listdir(folder)) if n.endswith(".h5")]
    require(len(logs) == 16 and all(r["status"] == "completed" for r in logs), f"{len(logs)} logs, statuses "
            f"{sorted({r['status'] for r in logs})}")
    cells = expected_cells(logs)
    task_labels = {"sst2": "SST-2", "custom": "custom"}
    tests = {r["test"] for r in logs}
    require(len(tests) > 2, f"the tiny runs' test accuracies do not differ ({tests}): the check could not fail")

    out = os.path.join(work, "out")
    os.makedirs(out, exist_ok=True)
    # From the folder of logs: both tasks.
    tool(args, os.path.join(work, "runs"), "--table", "bszo-1", "--csv", f"{out}/t1.csv", "--markdown",
         f"{out}/t1.md", "--latex", f"{out}/t1.tex", "--plot", f"{out}/t1.png")
    frame = check_accuracy_csv(f"{out}/t1.csv", cells, task_labels, "folder input")
    md = open(f"{out}/t1.md").read()
    tex = open(f"{out}/t1.tex").read()
    for _, row in frame.iterrows():
        text = f"{row['mean']:.2f} ± {row['std']:.2f}"
        require(text in md, f"markdown lacks the cell {row['row']} {row['column']}: {text}\n{md}")
        require(text.replace("±", r"$\pm$") in tex, f"latex lacks {text}\n{tex}")
        if row["best"]:
            require(f"**{text}**" in md, f"markdown: best cell {text} not bold")
    require("BSZO (arXiv 2601.01452), Table 1" in md and "another model" in md, "markdown: no paper table beside")
    require(os.path.getsize(f"{out}/t1.png") > 10000, "plot too small")
    print("folder input: ok (every cell equals the h5py computation; markdown, latex, plot)")

    # From a grid's collect CSV: the sst2 column alone, the same numbers.
    tool(args, csvs["sst2"], "--table", "bszo-1", "--csv", f"{out}/t1_sst2.csv")
    check_accuracy_csv(f"{out}/t1_sst2.csv", {k: v for k, v in cells.items() if k[1] == "sst2"}, task_labels,
                       "collect csv input")
    print("collect input: ok")
    check_ingest(args, csvs["sst2"], {k: v for k, v in cells.items() if k[1] == "sst2"}, task_labels, out)

    # Per-seed selection: each seed its own learning rate.
    tool(args, os.path.join(work, "runs"), "--table", "bszo-1", "--select", "per-seed", "--csv", f"{out}/ps.csv")
    import pandas as pd
    ps = pd.read_csv(f"{out}/ps.csv")
    for (method, task), _ in cells.items():
        name = {"MeZO": "mezo", "BSZO": "bszo"}[method]
        vals = []
        for seed in (1, 2):
            runs = sorted([r for r in logs if r["method"] == name and r["task"] == task and r["seed"] == seed],
                          key=lambda r: r["lr"])
            best = max(runs, key=lambda r: r["dev"])  # first max: the smaller learning rate on ties
            vals.append(best["test"])
        row = ps[(ps["row"] == method) & (ps["column"] == task_labels[task])].iloc[0]
        require(close(float(row["mean"]), float(np.mean(vals))), f"per-seed {method} {task}: {row['mean']} vs {vals}")
    print("per-seed selection: ok")

    # Search-seed selection: the learning rate by seed 1's dev alone, every seed reported at it.
    tool(args, os.path.join(work, "runs"), "--table", "bszo-1", "--select", "search-seed", "--csv", f"{out}/ss.csv")
    ss = pd.read_csv(f"{out}/ss.csv")
    for (method, task), _ in cells.items():
        name = {"MeZO": "mezo", "BSZO": "bszo"}[method]
        cell_runs = [r for r in logs if r["method"] == name and r["task"] == task]
        search = sorted([r for r in cell_runs if r["seed"] == 1], key=lambda r: r["lr"])
        lr = max(search, key=lambda r: r["dev"])["lr"]  # first max: the smaller learning rate on ties
        vals = [r["test"] for r in sorted(cell_runs, key=lambda r: r["seed"]) if r["lr"] == lr]
        row = ss[(ss["row"] == method) & (ss["column"] == task_labels[task])].iloc[0]
        require(close(float(row["mean"]), float(np.mean(vals))) and str(row["lr"]).split(";") == [f"{lr:g}"] * 2,
                f"search-seed {method} {task}: {row['mean']} at {row['lr']}, expected {vals} at {lr:g}")
    print("search-seed selection: ok")
    check_search_seed_records(args)

    # Table 4 shape: peak memory (process RSS here: CPU engine) and the median step time.
    tool(args, os.path.join(work, "runs"), "--table", "bszo-4", "--csv", f"{out}/t4.csv", "--plot", f"{out}/t4.png")
    t4 = pd.read_csv(f"{out}/t4.csv")
    for method, name in (("MeZO", "mezo"), ("BSZO", "bszo")):
        for task in TASKS:
            runs = [r for r in logs if r["method"] == name and r["task"] == task]
            want_mem = np.mean([r["rss"].max() / 2 ** 30 for r in runs])
            want_ms = np.mean([np.median(r["ms"]) for r in runs])
            col = task_labels[task]
            got_mem = t4[(t4["row"] == method) & (t4["column"] == f"{col} Mem (GB)")]["mean"].iloc[0]
            got_ms = t4[(t4["row"] == method) & (t4["column"] == f"{col} Time (ms)")]["mean"].iloc[0]
            require(close(got_mem, want_mem) and close(got_ms, want_ms),
                    f"table 4 {method} {task}: {got_mem}, {got_ms}; expected {want_mem}, {want_ms}")
    print("memory table: ok")

    # The threshold table: steps, forward passes, seconds to a smoothed loss, per seed, and each run's test value.
    window = 3
    finals = [trailing_mean(r["loss"], window)[-1] for r in logs]
    threshold = float(np.median(finals))
    tool(args, os.path.join(work, "runs"), "--table", "adazeta-threshold", "--threshold", repr(threshold),
         "--window", str(window), "--csv", f"{out}/th.csv", "--plot", f"{out}/th.png", "--markdown", f"{out}/th.md")
    th = pd.read_csv(f"{out}/th.csv")
    checked = 0
    for method, name in (("MeZO", "mezo"), ("BSZO", "bszo")):
        for task in TASKS:
            for lr in LRS[name]:
                runs = [r for r in logs if r["method"] == name and r["task"] == task and r["lr"] == lr]
                steps, fwd = [], []
                for r in sorted(runs, key=lambda r: r["seed"]):
                    hit = np.nonzero(trailing_mean(r["loss"], window) <= threshold)[0]
                    if len(hit):
                        steps.append(float(hit[0])), fwd.append(float(r["queries"][: hit[0] + 1].sum()))
                row_label = f"{method} lr={lr:g}"
                got = th[(th["row"] == row_label) & (th["column"] == f"{task_labels[task]} steps")]
                require(len(got) == 1, f"threshold table: no row {row_label!r}, {task}:\n{th}")
                got_f = th[(th["row"] == row_label) & (th["column"] == f"{task_labels[task]} forward passes")]
                # the test column: every completed run's test accuracy, reached or not
                tests = [r["test"] for r in runs if r["status"].startswith("completed")]
                got_t = th[(th["row"] == row_label) & (th["column"] == f"{task_labels[task]} test")]
                require(len(got_t) == 1 and tests and close(float(got_t["mean"].iloc[0]), float(np.mean(tests))),
                        f"threshold {row_label} {task}: test column {got_t.to_dict('records')}; expected mean of {tests}")
                if steps:
                    require(close(float(got["mean"].iloc[0]), float(np.mean(steps))) and
                            close(float(got_f["mean"].iloc[0]), float(np.mean(fwd))),
                            f"threshold {row_label} {task}: {got['mean'].iloc[0]}, {got_f['mean'].iloc[0]}; "
                            f"expected {steps}, {fwd}")
                    checked += 1
                else:
                    require(bool(got["collapsed"].iloc[0]), f"threshold {row_label} {task}: should not be reached")
    require(checked > 0, "no run reached the threshold: the check could not fail")
    print(f"threshold table: ok ({checked} cells checked)")

    # Errors name the problem, never a traceback.
    p = tool(args, os.path.join(work, "runs"), "--table", "no-such-table", expect_rc=1)
    require("unknown table" in p.stderr, p.stderr)
    p = tool(args, os.path.join(args.repo, "README.md"), "--table", "bszo-1", expect_rc=1)
    require("README.md" in p.stderr, p.stderr)
    print("errors: ok")


def ingest(args, *argv, expect_rc=0):
    p = run([sys.executable, os.path.join(args.repo, "analysis", "update_results.py"), "ingest", *argv],
            expect_rc=expect_rc)
    return p.stdout + p.stderr


def check_ingest(args, collect_csv, cells, task_labels, out):
    """update_results.py ingest: a grid's collect output brought in over two "sessions" (the first
    with half the runs unfinished), from the runs' tarball, with slim logs; the merged results give
    the same table as the original collect output, with and without the logs."""
    import csv
    import tarfile
    work = args.work  # the grids' logs: WORK/runs/TASK/RUN.h5
    rows = list(csv.DictReader(open(collect_csv)))
    header = list(rows[0].keys())
    require(all(os.path.isabs(r["log"]) and "/runs/" in r["log"] for r in rows), "collect logs are not absolute")
    part = os.path.join(out, "part1.csv")
    with open(part, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        w.writeheader()
        for i, r in enumerate(rows):
            w.writerow(dict(r, status="running" if i % 2 else r["status"]))
    into = os.path.join(out, "ingested")
    for folder in ("ingested", "ingested2", "ingested3"):
        shutil.rmtree(os.path.join(out, folder), ignore_errors=True)
    said = ingest(args, part, "--into", into, "--logs")
    first = (len(rows) + 1) // 2
    require(f"{first} added" in said and f"{len(rows) - first} rows" in said, f"first ingest: {said}")
    got = list(csv.DictReader(open(os.path.join(into, "collect.csv"))))
    require(len(got) == first and all(r["log"].startswith("runs/sst2/") for r in got), f"first ingest rows: {got}")
    require(all(r["task.name"] == "sst2" and r.get("model.path", "").endswith("tests/fixtures/train/tiny_lm") for r in got),
            "the model and task columns are not the logs' model.path and task.name")
    # The second session: every run, read from the tarball of the grid's folder (as device_paper_grid.sh returns it).
    tar = os.path.join(out, "runs.tar.xz")
    with tarfile.open(tar, "w:xz") as t:
        t.add(os.path.join(work, "runs"), arcname="runs")
    said = ingest(args, collect_csv, "--into", into, "--runs", tar, "--logs")
    require(f"{len(rows) - first} added, 0 replaced, {first} kept" in said, f"second ingest: {said}")
    before = open(os.path.join(into, "collect.csv")).read()
    said = ingest(args, collect_csv, "--into", into, "--runs", tar)
    require("0 added, 0 replaced" in said and open(os.path.join(into, "collect.csv")).read() == before,
            f"ingesting the same runs again changed the results: {said}")
    # Slim logs: the tables' and plots' series, no replay record.
    for r in rows:
        slim = os.path.join(into, os.path.basename(r["log"]))
        with h5py.File(r["log"], "r") as full, h5py.File(slim, "r") as f:
            require("updates" not in f and "steps/probe_losses.values" not in f, f"{slim}: not slim")
            n = len(full["steps/step"])
            for name in ("steps/loss", "steps/queries", "steps/ms", "eval/step", "eval/dev_accuracy"):
                a, b = full[name][: len(f[name])], f[name][()]
                require(len(b) == (n if name.startswith("steps") else len(full[name])) and
                        np.array_equal(a, b, equal_nan=True), f"{slim}: {name} differs from the log")
            require(dict(full["summary"].attrs) == dict(f["summary"].attrs), f"{slim}: summary differs")
    merged = os.path.join(into, "collect.csv")
    for what in ("ingested, with slim logs", "ingested, collect rows only"):
        tool(args, merged, "--table", "bszo-1", "--csv", f"{out}/ing.csv", "--markdown", f"{out}/ing.md")
        check_accuracy_csv(f"{out}/ing.csv", cells, task_labels, what)
        md = open(f"{out}/ing.md").read()
        require("tiny_lm" in md and "SST-2" in md, f"{what}: the caption does not name the model and task:\n{md}")
        for n in os.listdir(into):
            if n.endswith(".h5"):
                os.remove(os.path.join(into, n))
    # Errors: a run of another grid at a committed index; logs that are not where --runs says.
    other = os.path.join(out, "other.csv")
    with open(other, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        w.writeheader()
        w.writerow(dict(rows[0], name="another-run"))
    said = ingest(args, other, "--into", into, "--runs", tar, expect_rc=1)
    require("another-run" in said and rows[0]["name"] in said and "error" in said, f"index conflict: {said}")
    empty = os.path.join(out, "no_logs")
    os.makedirs(empty, exist_ok=True)
    said = ingest(args, collect_csv, "--into", os.path.join(out, "ingested2"), "--runs", empty, expect_rc=1)
    require(rows[0]["name"] in said and "--runs" in said, f"missing logs: {said}")
    require(open(merged).read() == before, "a failed ingest changed the results")
    # A run that failed before its log was written is still a result (its model and task left empty).
    no_log = os.path.join(out, "failed_no_log.csv")
    with open(no_log, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        w.writeheader()
        w.writerow(dict(rows[0], status="failed", message="the run file does not parse", log=""))
    said = ingest(args, no_log, "--into", os.path.join(out, "ingested3"), "--runs", empty)
    got = list(csv.DictReader(open(os.path.join(out, "ingested3", "collect.csv"))))
    require("has no log" in said and len(got) == 1 and got[0]["status"] == "failed" and got[0]["model.path"] == "",
            f"a failed run without a log: {said} {got}")
    print(f"ingest: ok ({first} then {len(rows)} runs merged from a tarball, slim logs, the same table; errors named)")


# ---- the committed fixture -------------------------------------------------------------------

FIXTURE = "tests/fixtures/paper_table"
FIXTURE_SOURCE = "tests/fixtures/paper_table (tiny runs: zotune train on the tiny Llama fixture, 12 steps)"


def fixture_table(args, folder, out_md):
    tool(args, folder, "--table", "bszo-1", "--markdown", out_md, "--source", FIXTURE_SOURCE)


def regenerate(args):
    work = args.work
    shutil.rmtree(os.path.join(work, "fixture_runs"), ignore_errors=True)
    grid = write_grid(work, "sst2", os.path.join(work, "fixture_runs"), repo=args.repo)
    train_grid(args, grid)
    dest = os.path.join(args.repo, FIXTURE)
    os.makedirs(dest, exist_ok=True)
    for n in os.listdir(dest):
        if n.endswith(".h5"):
            os.remove(os.path.join(dest, n))
    folder = os.path.join(work, "fixture_runs")
    compact_copy = analysis_module(args, "results_ingest").compact_copy
    for n in sorted(os.listdir(folder)):
        if n.endswith(".h5"):
            compact_copy(os.path.join(folder, n), os.path.join(dest, n))
    fixture_table(args, dest, os.path.join(dest, "expected.md"))
    print(f"rewrote {dest}")


def check_fixture(args):
    folder = os.path.join(args.repo, FIXTURE)
    require(os.path.isfile(os.path.join(folder, "expected.md")), f"{folder}: no expected.md")
    os.makedirs(args.work, exist_ok=True)
    out = os.path.join(args.work, "fixture_table.md")
    fixture_table(args, folder, out)
    got, want = open(out).read(), open(os.path.join(folder, "expected.md")).read()
    if got != want:
        import difflib
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "expected.md", "regenerated"))
        raise CheckFailed(f"the table regenerated from {folder} differs from expected.md:\n{diff}")
    # The committed table's cells are the logs' own numbers (h5py), not just a stable text.
    logs = [read_log(os.path.join(folder, n)) for n in sorted(os.listdir(folder)) if n.endswith(".h5")]
    for (method, task), (mean, std, lr) in expected_cells(logs).items():
        require(f"{mean:.2f} ± {std:.2f}" in want, f"expected.md lacks {method} {task} {mean:.2f} ± {std:.2f}")
    print(f"fixture: ok ({len(logs)} committed logs give expected.md)")


def update_results(args, page, *flags, expect_rc=0):
    p = run([sys.executable, os.path.join(args.repo, "analysis", "update_results.py"), *flags, page,
             "--root", args.repo], expect_rc=expect_rc)
    return p.stdout + p.stderr


def check_blocks(args):
    """analysis/update_results.py: a generated block is rewritten to paper_table.py's output, a
    hand-edited number fails --check, a bad command is an error naming it; docs/RESULTS.md is
    current."""
    page = os.path.join(args.work, "page.md")
    command = f'paper_table.py {FIXTURE} --table bszo-1 --source "{FIXTURE_SOURCE}"'
    with open(page, "w") as f:
        f.write(f"# A page\n\ntext before\n\n<!-- generated: {command} -->\n| stale |\n<!-- end of generated -->\n\nafter\n")
    update_results(args, page, "--check", expect_rc=1)
    update_results(args, page)
    want = open(os.path.join(args.repo, FIXTURE, "expected.md")).read()
    text = open(page).read()
    require(f"<!-- generated: {command} -->\n{want}<!-- end of generated -->\n" in text,
            "the rewritten block is not paper_table.py's table (expected.md)")
    require(text.startswith("# A page\n\ntext before\n\n") and text.endswith("\n\nafter\n"),
            "text around the block changed")
    update_results(args, page, "--check")
    cell = re.search(r"\d+\.\d\d ± \d+\.\d\d", want).group(0)
    with open(page, "w") as f:
        f.write(text.replace(cell, "99.99" + cell[cell.index(" "):], 1))
    out = update_results(args, page, "--check", expect_rc=1)
    require("not current" in out and "99.99" in out, f"--check did not name the edited cell:\n{out}")
    with open(page, "w") as f:
        f.write(text.replace("--table bszo-1", "--table no-such-table"))
    out = update_results(args, page, "--check", expect_rc=1)
    require("no-such-table" in out, f"a bad block command is not named:\n{out}")
    out = update_results(args, os.path.join(args.repo, "docs", "RESULTS.md"), "--check")
    print(f"blocks: ok ({out.strip().splitlines()[-1]})")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("check", choices=["live", "fixture", "regenerate", "blocks"])
    p.add_argument("--zotune")
    p.add_argument("--repo", required=True)
    p.add_argument("--work", required=True)
    args = p.parse_args()
    args.repo = os.path.abspath(args.repo)
    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)
    try:
        {"live": check_live, "fixture": check_fixture, "regenerate": regenerate, "blocks": check_blocks}[args.check](args)
    except CheckFailed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    print(f"analysis.paper_table {args.check}: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
