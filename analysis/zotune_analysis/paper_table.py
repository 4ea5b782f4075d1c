"""A paper's table from a grid of runs: rows = methods, columns = tasks, each cell the test
metric at the learning rate selected on dev, mean +- std over seeds; the paper's printed numbers
beside it; Markdown, LaTeX, CSV and a plot.

    zotune-paper-table INPUT --table bszo-3 [--markdown out.md] [--latex out.tex] [--csv out.csv]
        [--plot out.png] [--select mean|per-seed|search-seed] [--threshold T] [--window N]
    (or: python3 analysis/paper_table.py ...)

INPUT is a grid's `zotune grid GRID collect --csv FILE` / `--json FILE` output (its `log`
column locates each run's log) or a folder of run logs (*.h5, searched recursively).

**Runs are identified by their configuration**, read from each log's /config_resolved (the
collect file's columns where a log cannot be read), never by their names: the method from
optimizer.name and trainable.mode (`MeZO`, `MeZO (LoRA)`, `BSZO-B`, ...), the task from
task.name, the model from model.path's file or folder name. Any other key that differs
between runs of one cell besides optimizer.lr and run.seed (an ablation's optimizer.k,
model.dtype, ...) becomes part of the row label, so two configurations are never averaged.

**Selection** (the papers' protocol): each run already selected its checkpoint on dev (the
summary's best_dev_<metric or loss>, per eval.select) and scored it on test (test_accuracy /
test_f1, printed in %). The learning rate is then selected per (method, task) by the dev value
averaged over seeds (`--select mean`, the default: BSZO's launchers pick one learning rate per
method and task, `run_roberta_large_best_lr.sh`, then run it 5 times, and MeZO / AdaZeta report
one configuration per cell); `--select per-seed` picks the best learning rate for each seed on
its own; `--select search-seed` picks it by the dev value of the cell's search seed alone (its
lowest seed, the one every learning rate ran with) and reports every seed at that learning rate:
the grid that searched the learning rates with one seed, then ran the other seeds only at the
selected one (BSZO's launchers' own order: a search, then `run_roberta_large_best_lr.sh`). A table
id may set its default selection (bszo-3-smollm2: search-seed). A learning rate with a failed
(diverged) seed is not eligible; a cell none of whose learning rates is eligible prints `*`
(the BSZO paper's mark for a collapsed run). Runs not completed (pending, running,
interrupted) are left out and listed. std is the sample std
(ddof 1: BSZO's Table 1 std is that of its Table 11 runs). The best cell per column (per
model where the table has several) is bold. Avg = the mean of a row's cells (over the cells
that have a value, marked with a dagger where some have none: BSZO Table 3's rule; such a partial
average is never marked best). Under search-seed selection a cell whose search seed has run fewer
learning rates than the table's fullest cell (a grid part way through its search; finished runs
alone do not tell a cell's own grid) is provisional, marked with a double dagger, as is its row's
average: listed under the table, never marked best.

Table kinds: `accuracy` (above); `memory` (BSZO Table 4: per method, the peak memory, GB =
2^30 bytes, of the device where the log has /steps/peak_device_memory_bytes, else of the
process, RSS, and the median /steps/ms, averaged over the cell's runs); `threshold`
(AdaZeta's figure: steps, forward passes and seconds until the trailing-mean training loss
first reaches a threshold, mean +- std over seeds; default threshold: the highest final
smoothed loss among the completed runs, one every run reaches).
"""

import argparse
import glob
import math
import os
import re
import sys
import textwrap
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import zotune_log as zl
from .curves import auto_window, dev_metric_columns, first_at_or_below, smoothed, training_loss
from .paper_numbers import TABLES as PAPER_TABLES

METHOD_NAMES = {"mezo": "MeZO", "bszo": "BSZO", "bszo-b": "BSZO-B", "adazeta": "AdaZeta", "mezo-adam": "MeZO-Adam",
                "hizoo": "HiZOO", "lozo": "LOZO", "sparse-mezo": "Sparse-MeZO"}
# trainable.mode each optimizer runs by default (docs/CONFIG.md); another mode is named in the label.
DEFAULT_MODE = {"adazeta": "adapter"}
MODE_LABELS = {"lora": "LoRA", "prefix": "prefix", "adapter": "adapter", "head": "head", "full": "full"}
TASK_NAMES = {"sst2": "SST-2", "sst5": "SST-5", "mr": "MR", "trec": "TREC", "rte": "RTE", "cb": "CB", "boolq": "BoolQ",
              "wic": "WIC", "wsc": "WSC", "copa": "COPA", "multirc": "MultiRC", "record": "ReCoRD", "squad": "SQuAD",
              "drop": "DROP", "snli": "SNLI", "mnli": "MNLI", "qnli": "QNLI", "lm": "LM"}
METHOD_ORDER = ["MeZO", "MeZO-Adam", "HiZOO", "LOZO", "Sparse-MeZO", "BSZO", "BSZO-B", "AdaZeta"]
TASK_ORDER = ["sst2", "rte", "cb", "boolq", "wsc", "wic", "multirc", "copa", "record", "squad", "drop", "trec",
              "sst5", "snli", "mnli", "qnli", "mr"]
# Keys that never split a cell: the selection's own axes and per-run bookkeeping.
NOT_A_CONFIGURATION = {"optimizer.lr", "run.seed", "run.name", "run.output", "run.save", "run.progress",
                       "run.log_every", "run.flush_every", "run.checksum_every"}


@dataclass
class TableSpec:
    """What one `--table` id lays out: rows and columns are lists of dimensions ("method",
    "task", "model", or a dotted configuration key); `paper` the paper_numbers tables shown
    beside (matched to a model group by model name)."""
    title: str
    kind: str = "accuracy"  # accuracy | memory | threshold
    rows: list = field(default_factory=lambda: ["method"])
    cols: list = field(default_factory=lambda: ["task"])
    paper: list = field(default_factory=list)
    note: str = ""
    select: str = "mean"  # the default learning-rate selection (mean | per-seed | search-seed)


_BSZO3 = ["bszo-3/opt-1.3b", "bszo-3/mistral-7b", "bszo-3/opt-13b"]
_BSZO4 = ["bszo-4/opt-1.3b", "bszo-4/mistral-7b", "bszo-4/opt-13b"]
_BSZO5 = ["bszo-5a", "bszo-5b", "bszo-5c", "bszo-5d", "bszo-12c"]
SPECS = {
    "bszo-1": TableSpec("BSZO Table 1: RoBERTa-large, test accuracy %", paper=["bszo-1"]),
    "bszo-1-minilm": TableSpec("BSZO Table 1 at our scale (all-MiniLM-L6-v2), test accuracy %", paper=["bszo-1"]),
    "bszo-3": TableSpec("BSZO Table 3: decoders, test accuracy %", rows=["model", "method"], paper=_BSZO3),
    "bszo-3-smollm2": TableSpec("BSZO Table 3 at our scale (SmolLM2-135M), test accuracy %", rows=["model", "method"],
                                paper=_BSZO3, select="search-seed"),
    "bszo-4": TableSpec("BSZO Table 4: peak memory and time per step", kind="memory", cols=["model", "task"],
                        paper=_BSZO4),
    "bszo-5": TableSpec("BSZO Table 5: ablations, test accuracy %", rows=["method", "optimizer.k", "optimizer.m"],
                        paper=_BSZO5),
    "bszo-5a": TableSpec("BSZO Table 5(a): m = k, test accuracy %", rows=["method", "optimizer.k"], paper=["bszo-5a"]),
    "bszo-5b": TableSpec("BSZO Table 5(b): m = k + 1, test accuracy %", rows=["method", "optimizer.k"],
                         paper=["bszo-5b"]),
    "bszo-5c": TableSpec("BSZO Table 5(c): adaptive noise, test accuracy %", rows=["method", "optimizer.k"],
                         cols=["task", "optimizer.adaptive_noise"], paper=["bszo-5c", "bszo-5d"]),
    "bszo-5c-smollm2": TableSpec("BSZO Table 5(c) / the precision claim at our scale (SmolLM2-135M), test accuracy %",
                                 cols=["task", "model.dtype", "model.perturbation"], paper=["bszo-5c"]),
    "adazeta-roberta": TableSpec("AdaZeta Table 1: RoBERTa-large, test accuracy %", paper=["adazeta-roberta"]),
    "adazeta-llama": TableSpec("AdaZeta Table 2: Llama-2-7B, test accuracy %",
                               paper=["adazeta-llama", "sparse-mezo-llama2"]),
    "adazeta-threshold": TableSpec("AdaZeta's loss-threshold figure: steps and forward passes to a training loss",
                                   kind="threshold", paper=["adazeta-threshold"]),
    "adazeta-threshold-smollm2": TableSpec("AdaZeta's loss-threshold figure at our scale (SmolLM2-135M)",
                                           kind="threshold", paper=["adazeta-threshold"]),
    "mezo-opt13b": TableSpec("MeZO Table 1: OPT-13B, test accuracy %", paper=["mezo-opt13b"]),
}


class TableError(ValueError):
    pass


SELECT_MODES = ("mean", "per-seed", "search-seed")


# ---------------------------------------------------------------------------------------------
# Loading runs


@dataclass
class RunRecord:
    """One run: where its log is, its configuration (dotted key -> value), summary and status;
    `run` is the loaded log (None where only a collect row was available)."""
    path: str
    config: dict
    summary: dict
    status: str
    run: object = None


def _norm_value(v):
    if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
        return int(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return _norm_value(float(v))
    if isinstance(v, list):
        return tuple(v)
    return v


def _record_from_log(path, extra_config=None):
    run = zl.load(path)
    config = {k: _norm_value(v) for k, v in run.config["value"].items()}
    for k, v in (extra_config or {}).items():
        config.setdefault(k, _norm_value(v))
    return RunRecord(path=path, config=config, summary=run.summary_dict(), status=run.status, run=run)


def _collect_rows(path):
    try:
        frame = pd.read_json(path, orient="records") if path.endswith(".json") else pd.read_csv(path)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise TableError(f"{path}: not a `zotune grid ... collect` CSV or JSON file ({e})") from None
    if "log" not in frame.columns or "status" not in frame.columns:
        raise TableError(f"{path}: not a `zotune grid ... collect` output (no `log` and `status` columns)")
    return frame


def load_runs(input_path, warn=None):
    """The runs of a collect file (CSV or JSON) or a folder of logs, as RunRecords."""
    warn = warn or (lambda m: print(f"paper_table: {m}", file=sys.stderr))
    if os.path.isdir(input_path):
        paths = sorted(glob.glob(os.path.join(input_path, "**", "*.h5"), recursive=True))
        if not paths:
            raise TableError(f"{input_path}: no run logs (*.h5) in this folder")
        records = []
        for p in paths:
            try:
                records.append(_record_from_log(p))
            except ValueError as e:
                warn(f"{e}; left out")
        return records
    if not os.path.isfile(input_path):
        raise TableError(f"{input_path}: no such file or folder")
    frame = _collect_rows(input_path)
    base = os.path.dirname(os.path.abspath(input_path))
    varying = [c for c in frame.columns if "." in c and c != "log"]
    records = []
    for _, row in frame.iterrows():
        row_config = {k: row[k] for k in varying if not (isinstance(row[k], float) and math.isnan(row[k]))}
        log = row["log"] if isinstance(row["log"], str) else ""
        candidates = [log, os.path.join(base, log), os.path.join(base, os.path.basename(log))] if log else []
        found = next((c for c in candidates if c and os.path.isfile(c)), None)
        if found:
            try:
                records.append(_record_from_log(found, row_config))
                continue
            except ValueError as e:
                warn(f"{e}; using the collect row only")
        summary = {k: row[k] for k in frame.columns
                   if k not in varying and k not in ("index", "name", "log", "message")
                   and not (isinstance(row[k], float) and math.isnan(row[k]))}
        status = str(row["status"])
        if status == "failed" and isinstance(row.get("message"), str):
            status = f"failed: {row['message']}"
        records.append(RunRecord(path=log or str(row.get("name")), config={k: _norm_value(v) for k, v in row_config.items()},
                                 summary=summary, status=status))
    if not records:
        raise TableError(f"{input_path}: no runs")
    return records


# ---------------------------------------------------------------------------------------------
# Labels


def method_label(config):
    opt = str(config.get("optimizer.name", "mezo"))
    label = METHOD_NAMES.get(opt, opt)
    mode = str(config.get("trainable.mode", DEFAULT_MODE.get(opt, "full")))
    if mode != DEFAULT_MODE.get(opt, "full"):
        label += f" ({MODE_LABELS.get(mode, mode)})"
    return label


def model_label(config):
    path = str(config.get("model.path", "")).rstrip("/")
    name = os.path.basename(path)
    for ext in (".gguf", ".safetensors"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name or "(no model)"


def task_label(task):
    return TASK_NAMES.get(task, task)


def _format_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, tuple):
        return "[" + ",".join(_format_value(x) for x in v) + "]"
    return str(v)


def dim_value(record, dim):
    """The record's value of a dimension, as a label part."""
    if dim == "method":
        return method_label(record.config)
    if dim == "model":
        return model_label(record.config)
    if dim == "task":
        return str(record.config.get("task.name", "?"))
    value = record.config.get(dim)
    return f"{dim.split('.')[-1]}={_format_value(value)}" if value is not None else ""


def _normalized(text):
    return re.sub(r"[^a-z0-9]", "", text.lower())


def same_model(paper_model, our_model):
    return bool(paper_model) and _normalized(paper_model) in _normalized(our_model)


def _sort_key(dim, value):
    if dim == "method":
        return (METHOD_ORDER.index(value.split(" (")[0]) if value.split(" (")[0] in METHOD_ORDER else 99, value)
    if dim == "task":
        return (TASK_ORDER.index(value) if value in TASK_ORDER else 99, value)
    m = re.match(r"^[^=]*=(-?[0-9.eE+-]+)$", value)
    if m:
        try:
            return (0, float(m.group(1)))
        except ValueError:
            pass
    return (1, value)


# ---------------------------------------------------------------------------------------------
# Building the table


@dataclass
class Cell:
    row: tuple
    col: tuple
    values: list = field(default_factory=list)  # per seed: the reported number
    seeds: list = field(default_factory=list)
    lrs: list = field(default_factory=list)  # per seed: the selected learning rate
    dev: float = math.nan  # the selected dev value (mean over seeds in mean mode)
    collapsed: bool = False
    searched: int = 0  # search-seed selection: the learning rates its search seed ran (done or failed)
    provisional: bool = False  # selected among fewer learning rates than the table's fullest search
    note: str = ""
    records: list = field(default_factory=list)  # the runs behind the numbers (the selected ones)
    all_records: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def mean(self):
        return float(np.mean(self.values)) if self.values else math.nan

    @property
    def std(self):
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else math.nan


@dataclass
class Table:
    table_id: str
    spec: TableSpec
    row_dims: list
    col_dims: list
    rows: list
    cols: list  # column keys (tuples); for memory/threshold the metric name is the last part
    cells: dict  # (row, col) -> Cell
    fixed: dict  # dims with one value: dim -> value
    left_out: list  # (path, why)
    higher_is_better: dict  # col -> bool
    select: str
    metric_name: str = ""
    threshold: float = math.nan
    window: int = 0
    avg: dict = field(default_factory=dict)  # row -> (value, partial)


def _is_completed(r):
    return r.status.startswith("completed")


def _is_failed(r):
    return r.status.startswith("failed")


def _test_value(summary):
    for key in ("test_accuracy", "test_f1"):
        if key in summary and summary[key] is not None and not _nan(summary[key]):
            return key, 100.0 * float(summary[key])
    if "test_loss" in summary and not _nan(summary["test_loss"]):
        return "test_loss", float(summary["test_loss"])
    return None, None


def _dev_value(summary):
    """(value, higher_is_better) of the run's selected dev value, or (None, None)."""
    keys = [k for k in summary if k.startswith("best_dev_")]
    if not keys:
        return None, None
    selection = str(summary.get("selection", ""))
    by_loss = selection.startswith("loss") or keys == ["best_dev_loss"]
    key = "best_dev_loss" if by_loss and "best_dev_loss" in keys else sorted(keys)[0]
    value = summary[key]
    if value is None or _nan(value):
        return None, None
    return float(value), not key.endswith("loss")


def _nan(v):
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return False


def _extra_dims(records, dims, ignore):
    """Configuration keys that differ between runs of one (dims) group, other than `ignore`."""
    groups = {}
    for r in records:
        groups.setdefault(tuple(dim_value(r, d) for d in dims), []).append(r)
    extra = set()
    for members in groups.values():
        keys = set().union(*(m.config.keys() for m in members))
        for k in keys - ignore - set(dims):
            values = {repr(m.config.get(k)) for m in members}
            if len(values) > 1:
                extra.add(k)
    # method-implied keys (optimizer.name, trainable.mode) are already in "method"
    return sorted(extra - {"optimizer.name", "trainable.mode", "model.path", "task.name"})


def build_table(records, table_id, select=None, threshold=None, window=None):
    """select: mean, per-seed or search-seed (None: the table id's default)."""
    if table_id not in SPECS:
        raise TableError(f"unknown table {table_id!r}; known: {', '.join(sorted(SPECS))}")
    spec = SPECS[table_id]
    select = select or spec.select
    if select not in SELECT_MODES:
        raise TableError(f"unknown selection {select!r}; known: {', '.join(SELECT_MODES)}")
    left_out = []
    usable = []
    for r in records:
        if _is_completed(r) or _is_failed(r):
            usable.append(r)
        else:
            left_out.append((r.path, f"not completed ({r.status or 'no status'})"))
    if not usable:
        raise TableError("no completed or failed runs to tabulate")
    ignore = set(NOT_A_CONFIGURATION) - ({"optimizer.lr"} if spec.kind == "threshold" else set())
    row_dims = list(spec.rows)
    col_dims = list(spec.cols)
    extra = _extra_dims(usable, row_dims + col_dims, ignore)
    row_dims += [d for d in extra if d not in row_dims]
    # Dimensions with one value over every run are dropped from the labels (named in the caption).
    fixed = {}
    for dims in (row_dims, col_dims):
        for d in list(dims):
            values = {dim_value(r, d) for r in usable}
            if len(values) == 1 and len(dims) > 1:
                fixed[d] = values.pop()
                dims.remove(d)
            elif len(values) == 1:
                fixed[d] = next(iter(values))
    groups = {}
    for r in usable:
        key = (tuple(dim_value(r, d) for d in row_dims), tuple(dim_value(r, d) for d in col_dims))
        groups.setdefault(key, []).append(r)
    rows = sorted({k[0] for k in groups}, key=lambda row: [_sort_key(d, v) for d, v in zip(row_dims, row)])
    cols = sorted({k[1] for k in groups}, key=lambda col: [_sort_key(d, v) for d, v in zip(col_dims, col)])
    table = Table(table_id=table_id, spec=spec, row_dims=row_dims, col_dims=col_dims, rows=rows, cols=[], cells={},
                  fixed=fixed, left_out=left_out, higher_is_better={}, select=select)
    if spec.kind == "accuracy":
        _accuracy_cells(table, groups, cols, select)
    elif spec.kind == "memory":
        _memory_cells(table, groups, cols)
    elif spec.kind == "threshold":
        _threshold_cells(table, groups, cols, threshold, window)
    else:
        raise TableError(f"table {table_id}: unknown kind {spec.kind}")
    return table


def _accuracy_cells(table, groups, cols, select):
    table.cols = cols
    metric_names = set()
    for (row, col), members in groups.items():
        cell = Cell(row=row, col=col, all_records=members)
        by_lr = {}
        for r in members:
            by_lr.setdefault(_norm_value(r.config.get("optimizer.lr")), []).append(r)
        # per lr: seed -> (dev, test, record); a failed run makes the lr ineligible
        candidates = {}
        higher = True
        no_test = False
        for lr, runs in by_lr.items():
            entries, ok = {}, True
            for r in runs:
                if _is_failed(r):
                    ok = False
                    continue
                name, test = _test_value(r.summary)
                dev, hib = _dev_value(r.summary)
                if name:
                    metric_names.add(name)
                if hib is not None:
                    higher = hib
                if test is None:
                    ok = False
                    no_test = True
                    table.left_out.append((r.path, "completed without a test value (no test split)"))
                    continue
                entries[r.config.get("run.seed", 0)] = (dev, test, r)
            candidates[lr] = (entries, ok)
        if select in ("mean", "search-seed"):
            eligible = {lr: e for lr, (e, ok) in candidates.items() if ok and e}
            # search-seed: only learning rates whose search-seed run completed compete, by its dev
            search = min((r.config.get("run.seed", 0) for r in members), default=0)
            if select == "search-seed":
                eligible = {lr: e for lr, e in eligible.items() if search in e}
                cell.searched = sum(any(r.config.get("run.seed", 0) == search for r in runs)
                                    for runs in by_lr.values())
            if len(eligible) > 1 and any(d is None for e in eligible.values() for d, _, _ in e.values()):
                cell.note = "no dev value to select the learning rate by"
                eligible = {}
            if not eligible:
                cell.collapsed = True
                cell.note = cell.note or ("no test value" if no_test else "every learning rate has a failed run")
            else:
                def score(item):
                    devs = [item[1][search][0]] if select == "search-seed" else [d for d, _, _ in item[1].values()]
                    m = float(np.mean(devs)) if devs and devs[0] is not None else 0.0
                    return m if higher else -m
                # Ties go to the smaller learning rate (sorted first), then the first best.
                lr, entries = max(sorted(eligible.items(), key=lambda kv: kv[0]), key=score)
                for seed in sorted(entries):
                    dev, test, r = entries[seed]
                    cell.values.append(test), cell.seeds.append(seed), cell.lrs.append(lr), cell.records.append(r)
                devs = [d for seed, (d, _, _) in entries.items()
                        if d is not None and (select == "mean" or seed == search)]
                cell.dev = float(np.mean(devs)) if devs else math.nan
        else:  # per-seed
            seeds = sorted({s for e, _ in candidates.values() for s in e})
            devs = []
            for seed in seeds:
                options = [(lr, e[seed]) for lr, (e, _) in sorted(candidates.items()) if seed in e]
                if len(options) > 1 and any(o[1][0] is None for o in options):
                    continue
                lr, (dev, test, r) = max(options, key=lambda o: (o[1][0] or 0.0) if higher else -(o[1][0] or 0.0))
                cell.values.append(test), cell.seeds.append(seed), cell.lrs.append(lr), cell.records.append(r)
                if dev is not None:
                    devs.append(dev)
            cell.dev = float(np.mean(devs)) if devs else math.nan
            if not cell.values:
                cell.collapsed = True
                cell.note = "every run failed"
        table.cells[(row, col)] = cell
    if select == "search-seed":
        # A grid part way through its search (the committed rows hold finished runs only, so the
        # cell cannot know its own learning-rate grid): a cell whose search seed ran fewer learning
        # rates than the fullest cell's has a provisional selection.
        fullest = max((c.searched for c in table.cells.values()), default=0)
        for cell in table.cells.values():
            if cell.values and cell.searched < fullest:
                cell.provisional = True
                cell.note = (f"provisional: its search seed has run {cell.searched} of the {fullest} learning "
                             f"rates of the table's fullest search")
    table.metric_name = ", ".join(sorted(metric_names)) or "test metric"
    lower = metric_names == {"test_loss"}
    for col in cols:
        table.higher_is_better[col] = not lower
    # Avg over the columns (task columns only; one value per row).
    if len(cols) > 1:
        for row in table.rows:
            means = [table.cells[(row, c)].mean for c in cols if (row, c) in table.cells]
            finite = [m for m in means if math.isfinite(m)]
            if finite:
                table.avg[row] = (float(np.mean(finite)), len(finite) < len(cols))


def _memory_cells(table, groups, cols):
    table.cols = [c + (m,) for c in cols for m in ("Mem (GB)", "Time (ms)")]
    for (row, col), members in groups.items():
        mem, ms, sources = [], [], set()
        for r in members:
            if r.run is None or len(r.run.steps) == 0:
                continue
            steps = r.run.steps
            dev = steps["peak_device_memory_bytes"].to_numpy(dtype=float, na_value=np.nan) \
                if "peak_device_memory_bytes" in steps else np.array([np.nan])
            if np.isfinite(dev).any() and np.nanmax(dev) > 0:
                mem.append(np.nanmax(dev) / 2 ** 30), sources.add("device")
            elif "peak_memory_bytes" in steps:
                mem.append(np.nanmax(steps["peak_memory_bytes"].to_numpy(dtype=float, na_value=np.nan)) / 2 ** 30)
                sources.add("process RSS")
            if "ms" in steps:
                ms.append(float(np.nanmedian(steps["ms"].to_numpy(dtype=float, na_value=np.nan))))
        for metric, values in (("Mem (GB)", mem), ("Time (ms)", ms)):
            cell = Cell(row=row, col=col + (metric,), values=list(values), records=members, all_records=members)
            cell.note = " + ".join(sorted(sources)) if metric.startswith("Mem") else "median ms per step"
            if not values:
                cell.collapsed = True
            table.cells[(row, col + (metric,))] = cell
            table.higher_is_better[col + (metric,)] = False
    table.metric_name = "peak memory (GB = 2^30 bytes) and median wall time per step (ms)"


def _loss_series(records):
    """(record, step, loss) for each record whose run logged a training loss."""
    for r in records:
        if r.run is None:
            continue
        series, _ = training_loss(r.run)
        if series is not None:
            yield r, series[0], series[1]


def _step_column(run, name):
    """/steps column `name` as floats, NaN where missing (all NaN when the log lacks it)."""
    if name in run.steps:
        return run.steps[name].to_numpy(dtype=float, na_value=np.nan)
    return np.full(len(run.steps), np.nan)


def _threshold_cells(table, groups, cols, threshold, window):
    longest = max((len(r.run.steps) for ms in groups.values() for r in ms if r.run is not None), default=0)
    w = auto_window(longest, window)
    curves = {}
    finals = []
    for members in groups.values():
        for r, step, loss in _loss_series(members):
            curve = smoothed(loss, w)
            curves[id(r)] = (step, loss, curve, _step_column(r.run, "queries"), _step_column(r.run, "ms"))
            if _is_completed(r) and math.isfinite(curve[-1]):
                finals.append(float(curve[-1]))
    if threshold is None:
        if not finals:
            raise TableError("no completed run with a training loss: give --threshold")
        threshold = max(finals)
    table.threshold, table.window = float(threshold), w
    # Beside the cost to the threshold, where each run ended up: the test value of its
    # dev-selected checkpoint (a method can reach a training loss sooner and still generalize worse).
    metrics = ("steps", "forward passes", "seconds", "test")
    table.cols = [c + (m,) for c in cols for m in metrics]
    test_names = set()
    for (row, col), members in groups.items():
        hits = {m: [] for m in metrics}
        reached, total = 0, 0
        used = []
        for r in sorted(members, key=lambda r: r.config.get("run.seed", 0)):
            if id(r) not in curves:
                continue
            total += 1
            name, test = _test_value(r.summary) if _is_completed(r) else (None, None)
            if test is not None:
                hits["test"].append(test)
                test_names.add(name)
            step, loss, curve, queries, ms = curves[id(r)]
            hit = first_at_or_below(curve, threshold)
            used.append(r)
            if hit is None:
                continue
            reached += 1
            hits["steps"].append(float(step[hit]))
            hits["forward passes"].append(float(np.nansum(queries[: hit + 1])))
            hits["seconds"].append(float(np.nansum(ms[: hit + 1])) / 1000.0)
        for metric, values in hits.items():
            cell = Cell(row=row, col=col + (metric,), values=values, records=used, all_records=members,
                        extra={"reached": reached, "runs": total})
            if reached < total and metric == "steps":
                cell.note = f"reached by {reached} of {total} runs (the mean is over those)"
            if not values:
                cell.collapsed = True
            table.cells[(row, col + (metric,))] = cell
            table.higher_is_better[col + (metric,)] = metric == "test" and test_names != {"test_loss"}
    test_what = " or ".join(sorted(test_names)) or "test value"
    table.metric_name = (f"first step at or below training loss {threshold:.4g} (trailing mean over {w} steps), "
                         f"forward passes and seconds of step time until then; test: {test_what} "
                         "(% for accuracy and F1) of each completed run's dev-selected checkpoint")


# ---------------------------------------------------------------------------------------------
# Paper numbers beside


def _label_parts(dims, key):
    return {v for v in key if v}


def _paper_lookup(paper, dims_row, row, dims_col, col):
    """The paper's cell for our (row, col): a paper row/column matches when it equals a part of
    our label (method, task, `k=2`, `adaptive_noise=true`)."""
    row_parts = _label_parts(dims_row, row)
    col_parts = _label_parts(dims_col, col)
    prow = next((pr for pr in paper.rows if pr in row_parts or set(pr.split()) <= row_parts), None)
    pcol = next((pc for pc in paper.columns if pc in col_parts or pc in row_parts), None)
    if prow is None or pcol is None:
        return None
    return paper.cells.get((prow, pcol))


def paper_tables_for(table):
    """[(paper table, same model as ours: bool, model group or None)]"""
    out = []
    models = sorted({model_label(r.config) for c in table.cells.values() for r in c.all_records})
    for key in table.spec.paper:
        paper = PAPER_TABLES[key]
        same = [m for m in models if same_model(paper.model, m)]
        out.append((paper, bool(same), same[0] if same else None))
    return out


# ---------------------------------------------------------------------------------------------
# Output


def _fmt(cell, digits=2):
    if cell is None:
        return ""
    if cell.collapsed or not cell.values:
        return "*"
    text = f"{cell.mean:.{digits}f}"
    if len(cell.values) > 1:
        text += f" ± {cell.std:.{digits}f}"
    return text + ("‡" if cell.provisional else "")


def _provisional_row(table, row):
    """Whether a row's average takes in a provisional cell (‡)."""
    return any(c.provisional for (r, _), c in table.cells.items() if r == row)


def _avg_text(table, row):
    v, partial = table.avg[row]
    return f"{v:.2f}" + ("†" if partial else "") + ("‡" if _provisional_row(table, row) else "")


def _best(table):
    """{(row, col)} of the best cell per column, per group of the first row dimension when the
    rows have a 'model' dimension (BSZO Table 3 marks the best per model)."""
    best = set()
    group_dim = 0 if table.row_dims and table.row_dims[0] == "model" else None
    groups = {}
    for row in table.rows:
        groups.setdefault(row[group_dim] if group_dim is not None else None, []).append(row)
    for rows in groups.values():
        for col in table.cols:
            # a provisional cell (‡) is not a selection yet: it never wins
            values = [(table.cells[(r, col)].mean, r) for r in rows
                      if (r, col) in table.cells and math.isfinite(table.cells[(r, col)].mean)
                      and not table.cells[(r, col)].provisional]
            if len(values) < 2:
                continue
            target = (max if table.higher_is_better.get(col, True) else min)(v for v, _ in values)
            best.update((r, col) for v, r in values if v == target)
        if table.avg:
            # an average over fewer cells (†) is not comparable with a whole row's, one over a
            # provisional cell (‡) not final: neither wins
            values = [(table.avg[r][0], r) for r in rows
                      if r in table.avg and not table.avg[r][1] and not _provisional_row(table, r)]
            if len(values) >= 2:
                target = max(v for v, _ in values)
                best.update((r, "Avg") for v, r in values if v == target)
    return best


def _col_label(table, col):
    parts = []
    for d, v in zip(table.col_dims + ["metric"], col):
        parts.append(task_label(v) if d == "task" else v)
    return " ".join(p for p in parts if p)


def _row_label(table, row):
    return " ".join(v for v in row if v)


def _caption(table, source):
    # the model has its own sentence unless it is a row or column; the fixed dims say the rest once
    model_sentence = "model" not in table.row_dims + table.col_dims
    fixed = ", ".join(f"{d}: {task_label(v) if d == 'task' else v}" for d, v in table.fixed.items()
                      if v and d not in table.row_dims and d not in table.col_dims
                      and not (d == "model" and model_sentence))
    models = sorted({model_label(r.config) for c in table.cells.values() for r in c.all_records})
    lines = [f"From `{source}`." + (f" Model: {', '.join(models)}." if model_sentence else "")
             + (f" Every run: {fixed}." if fixed else "")]
    if table.spec.kind == "accuracy":
        rule = {"mean": "the learning rate with the best dev value averaged over seeds, per method and task",
                "per-seed": "per seed, the learning rate with the best dev value",
                "search-seed": "the learning rate with the best dev value of the search seed (each cell's lowest "
                               "seed, run at every learning rate), per method and task"}[table.select]
        seeds = sorted({len(c.values) for c in table.cells.values() if c.values})
        lines.append(f"Cells: {table.metric_name} (%) of each run's dev-selected checkpoint at {rule}; "
                     f"mean ± sample std over seeds ({'/'.join(map(str, seeds)) or 0} "
                     f"seed{'' if seeds == [1] else 's'} per cell); "
                     "bold = best in its column; * = no eligible run (a failed or diverged run at every "
                     "learning rate).")
    else:
        lines.append(f"Cells: {table.metric_name}; mean ± sample std over runs; bold = best in its column.")
    return " ".join(lines)


def _markdown_grid(header, body):
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(cells) + " |" for cells in body]
    return out


def markdown(table, source):
    best = _best(table)
    out = [f"### {table.spec.title}", "", _caption(table, source), ""]
    header = [" / ".join(d.split(".")[-1] for d in table.row_dims)] + [_col_label(table, c) for c in table.cols]
    if table.avg:
        header.append("Avg")
    body = []
    for row in table.rows:
        cells = [_row_label(table, row)]
        for col in table.cols:
            text = _fmt(table.cells.get((row, col)))
            cells.append(f"**{text}**" if (row, col) in best and text not in ("", "*") else text)
        if table.avg:
            if row in table.avg:
                text = _avg_text(table, row)
                cells.append(f"**{text}**" if (row, "Avg") in best else text)
            else:
                cells.append("")
        body.append(cells)
    out += _markdown_grid(header, body)
    if any(p for _, p in table.avg.values()):
        out += ["", "† averaged over the cells that have a value (never bold: not comparable with a whole row's)."]
    if any(c.provisional for c in table.cells.values()):
        out += ["", "‡ provisional: the learning rate selected among fewer learning rates than the table's fullest "
                    "search (a search still running), or a row average over such a cell; never bold."]
    notes = [(r, c, cell.note) for (r, c), cell in sorted(table.cells.items()) if cell.note and table.spec.kind != "memory"]
    if notes:
        out.append("")
        out += [f"- {_row_label(table, r)}, {_col_label(table, c)}: {n}" for r, c, n in notes]
    if table.spec.kind == "accuracy":
        out += ["", "Selected learning rates (dev value of the selection in brackets):", ""]
        lr_body = []
        for row in table.rows:
            cells = [_row_label(table, row)]
            for col in table.cols:
                cell = table.cells.get((row, col))
                if cell is None or not cell.lrs:
                    cells.append("")
                    continue
                lrs = sorted(set(cell.lrs), key=float)
                dev = f" ({cell.dev:.4g})" if math.isfinite(cell.dev) else ""
                cells.append(", ".join(_format_value(lr) for lr in lrs) + dev + ("‡" if cell.provisional else ""))
            lr_body.append(cells)
        out += _markdown_grid(header[: 1 + len(table.cols)], lr_body)
    for paper, same, model in paper_tables_for(table):
        out += ["", f"**{paper.paper}, {paper.table}** ({paper.model}; {paper.metric}; typed from {paper.source}"
                + ("; secondary source, to verify" if paper.secondary else "") + ")"
                + ("" if same else f": another model than these runs', for reference") + ".", ""]
        out += _markdown_grid(["row"] + paper.columns,
                              [[r] + [_paper_text(paper.cells.get((r, c))) for c in paper.columns] for r in paper.rows])
        if paper.note:
            out += ["", paper.note]
        if same and table.spec.kind == "accuracy":
            diff = []
            for row in table.rows:
                if "model" in table.row_dims and row[table.row_dims.index("model")] != model:
                    continue
                cells = [_row_label(table, row)]
                for col in table.cols:
                    p = _paper_lookup(paper, table.row_dims, row, table.col_dims, col)
                    cell = table.cells.get((row, col))
                    cells.append(f"{cell.mean - p[0]:+.2f}" if p and cell and cell.values else "")
                diff.append(cells)
            out += ["", f"Ours − paper ({model}):", ""] + _markdown_grid(header[: 1 + len(table.cols)], diff)
    if table.left_out:
        out += ["", "Runs left out:"] + [f"- `{p}`: {why}" for p, why in table.left_out]
    return "\n".join(out) + "\n"


def _paper_text(v):
    if v is None:
        return "*"
    return f"{v[0]:g}" + (f" ± {v[1]:g}" if v[1] else "")


def _latex_escape(text):
    return (re.sub(r"([_%&#$])", r"\\\1", text).replace("±", r"$\pm$").replace("†", r"$^\dagger$")
            .replace("‡", r"$^\ddagger$"))


def latex(table, source):
    best = _best(table)
    ncols = len(table.cols) + (1 if table.avg else 0)
    out = [f"% {table.spec.title}", f"% {_caption(table, source)}", r"\begin{tabular}{l" + "c" * ncols + "}",
           r"\hline"]
    header = [" / ".join(d.split(".")[-1] for d in table.row_dims)] + [_col_label(table, c) for c in table.cols]
    if table.avg:
        header.append("Avg")
    out.append(" & ".join(_latex_escape(h) for h in header) + r" \\ \hline")
    for row in table.rows:
        cells = [_latex_escape(_row_label(table, row))]
        for col in table.cols:
            text = _latex_escape(_fmt(table.cells.get((row, col))))
            cells.append(rf"\textbf{{{text}}}" if (row, col) in best and text not in ("", "*") else text)
        if table.avg:
            text = _latex_escape(_avg_text(table, row)) if row in table.avg else ""
            cells.append(rf"\textbf{{{text}}}" if (row, "Avg") in best and text else text)
        out.append(" & ".join(cells) + r" \\")
    out += [r"\hline", r"\end{tabular}"]
    return "\n".join(out) + "\n"


def csv_frame(table):
    """One row per cell: the layout keys, n, mean, std, per-seed values, selected learning
    rates, best flag, and the paper's number where the model is the same."""
    best = _best(table)
    papers = [(p, model) for p, same, model in paper_tables_for(table) if same]
    rows = []
    for row in table.rows:
        for col in table.cols:
            cell = table.cells.get((row, col))
            if cell is None:
                continue
            paper_value = paper_std = None
            for paper, model in papers:
                if "model" in table.row_dims and row[table.row_dims.index("model")] != model:
                    continue
                p = _paper_lookup(paper, table.row_dims, row, table.col_dims, col)
                if p:
                    paper_value, paper_std = p
                    break
            rows.append({
                "table": table.table_id, "row": _row_label(table, row), "column": _col_label(table, col),
                "n": len(cell.values), "mean": cell.mean, "std": cell.std,
                "values": ";".join(f"{v:.10g}" for v in cell.values),
                "seeds": ";".join(str(s) for s in cell.seeds),
                "lr": ";".join(_format_value(lr) for lr in cell.lrs), "dev": cell.dev,
                "best": (row, col) in best, "collapsed": cell.collapsed, "note": cell.note,
                "paper": paper_value, "paper_std": paper_std,
                "logs": ";".join(r.path for r in cell.records)})
        if row in table.avg:
            rows.append({"table": table.table_id, "row": _row_label(table, row), "column": "Avg", "n": None,
                         "mean": table.avg[row][0], "std": None, "values": "", "seeds": "", "lr": "", "dev": None,
                         "best": (row, "Avg") in best, "collapsed": False,
                         "note": ", ".join(n for n, on in (("partial", table.avg[row][1]),
                                                            ("provisional", _provisional_row(table, row))) if on),
                         "paper": None, "paper_std": None, "logs": ""})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Plots


def plot(table, out_path, window=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if table.spec.kind == "accuracy":
        panels = table.cols
    else:  # one panel per column group (the metric part stripped)
        panels = list(dict.fromkeys(c[:-1] for c in table.cols))
    ncols = max(1, len(panels))
    extra_row = table.spec.kind == "threshold"
    nrows = 3 if extra_row else 2
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    for j, panel in enumerate(panels):
        loss_ax, dev_ax = axes[0][j], axes[1][j]
        names = []
        for i, row in enumerate(table.rows):
            key = (row, panel) if table.spec.kind == "accuracy" else (row, panel + (table.cols[0][-1],))
            cell = table.cells.get(key)
            if cell is None or not cell.records:
                continue
            color = colors[i % len(colors)]
            label = _row_label(table, row)
            curves = []
            for _, step, loss in _loss_series(cell.records):
                w = table.window or auto_window(len(step), window)
                loss_ax.plot(step, loss, color=color, alpha=0.15, linewidth=0.6)
                curves.append((step, smoothed(loss, w)))
            if curves:
                n = min(len(s) for s, _ in curves)
                loss_ax.plot(curves[0][0][:n], np.nanmean([c[:n] for _, c in curves], axis=0), color=color,
                             linewidth=1.8, label=label)
            evals = [r.run.eval for r in cell.records if r.run is not None and len(r.run.eval)]
            cols = [c for e in evals for c in dev_metric_columns(e)]
            if cols:
                metric = cols[0]
                frames = [e[["step", metric]].dropna() for e in evals if metric in e]
                merged = pd.concat(frames).groupby("step")[metric].mean()
                dev_ax.plot(merged.index, merged.values * 100.0, "o-", color=color, markersize=3, label=label)
                dev_ax.set_ylabel(f"{metric} (%)")
            names.append(label)
            if extra_row:
                steps_cell = table.cells.get((row, panel + ("steps",)))
                fwd_cell = table.cells.get((row, panel + ("forward passes",)))
                ax = axes[2][j]
                for k, (c, name) in enumerate(((steps_cell, "steps"), (fwd_cell, "forward passes"))):
                    if c is not None and c.values:
                        ax.bar(k + i * 0.8 / max(1, len(table.rows)), c.mean, width=0.8 / max(1, len(table.rows)),
                               yerr=c.std if len(c.values) > 1 else 0, color=color, label=label if k == 0 else None)
                ax.set_xticks([0.4 - 0.4 / max(1, len(table.rows)), 1.4 - 0.4 / max(1, len(table.rows))])
                ax.set_xticklabels(["steps", "forward passes"])
                ax.set_title("to the threshold")
                ax.legend(fontsize=7)
        title = _col_label(table, panel) if table.spec.kind == "accuracy" else " ".join(
            task_label(v) if d == "task" else v for d, v in zip(table.col_dims, panel))
        loss_ax.set_title(title or table.spec.title)
        loss_ax.set_xlabel("step")
        loss_ax.set_ylabel("training loss (smoothed; raw faint)")
        if math.isfinite(table.threshold):
            loss_ax.axhline(table.threshold, color="gray", linestyle="--", linewidth=1)
        dev_ax.set_xlabel("step")
        for ax in (loss_ax, dev_ax):
            ax.grid(alpha=0.3)
            if names:
                ax.legend(fontsize=7)
    # wrapped to the figure's width (about 11 characters an inch at this size): one panel is narrow
    fig.suptitle(textwrap.fill(table.spec.title, width=int(11 * 4.2 * ncols)), fontsize=10)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Command line


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="zotune-paper-table", description=__doc__.splitlines()[0])
    p.add_argument("input", help="a grid's collect output (CSV or JSON) or a folder of run logs")
    p.add_argument("--table", required=True, help=f"which table: {', '.join(SPECS)}")
    p.add_argument("--markdown", help="write the Markdown table here (default: print it)")
    p.add_argument("--latex", help="write a LaTeX tabular here")
    p.add_argument("--csv", help="write one row per cell here")
    p.add_argument("--plot", help="write the training-loss / dev-metric (/ threshold) figure here")
    p.add_argument("--select", choices=SELECT_MODES,
                   help="learning-rate selection: best dev averaged over seeds, per seed, or by the search seed's "
                        "dev (default: the table's own, mean for most)")
    p.add_argument("--threshold", type=float, help="threshold tables: the training loss to reach")
    p.add_argument("--window", type=int, help="smoothing window in steps (default: 50, or a twentieth of a short run)")
    p.add_argument("--source", help="how the caption names the input (default: the INPUT as given)")
    a = p.parse_args(argv)
    try:
        records = load_runs(a.input)
        table = build_table(records, a.table, select=a.select, threshold=a.threshold, window=a.window)
    except (TableError, ValueError) as e:
        print(f"zotune-paper-table: error: {e}", file=sys.stderr)
        return 1
    source = a.source or a.input
    text = markdown(table, source)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)
        print(f"wrote {a.markdown}")
    else:
        sys.stdout.write(text)
    if a.latex:
        with open(a.latex, "w") as f:
            f.write(latex(table, source))
        print(f"wrote {a.latex}")
    if a.csv:
        csv_frame(table).to_csv(a.csv, index=False)
        print(f"wrote {a.csv}")
    if a.plot:
        plot(table, a.plot, a.window)
        print(f"wrote {a.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
