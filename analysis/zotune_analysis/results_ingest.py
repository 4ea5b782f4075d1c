"""Bring a grid's finished runs into the repository's results (experiments/results/NAME/).

A paper grid is trained over several GPU sessions (scripts/device_paper_grid.sh); each session
returns `zotune grid GRID collect` output, whose log paths are absolute on the machine that ran
them, with rows for runs that were still pending or cut off. `ingest` merges the finished rows
(completed, or failed: a failed run is a result, e.g. fp16 Adam's NaN loss at step 1) into the
committed experiments/results/NAME/collect.csv, the file docs/RESULTS.md's generated tables are
made from, and which the next session's `DONE=` skips:

    python3 analysis/update_results.py ingest OUT/NAME_collect.csv --runs OUT/NAME_runs.tar.xz \\
        --into experiments/results/NAME

- Log paths become relative to the folder the grid ran in (ROOT: the part before `/runs/`, or
  --root), as `zotune grid ... run` writes them in a clone (runs/grids/papers/NAME/RUN.h5).
- model.path and task.name, which a grid sets once and so are no columns of its collect output,
  are added per row from the run's log (paths relative to ROOT): tables name the model and the
  task without the logs.
- A run already in the results stays unless the new row completed and the old did not; a row
  whose index names another run than the committed file's is an error (another grid).
- --logs also keeps a slim copy of each new run's log beside collect.csv (what tables and plots
  read: configuration, summary, evaluations, the per-step series except the per-probe vectors,
  gzip; without the replay record /updates). A 2000-step log is about 75 KB that way against
  0.3 MB; the repository travels to the GPU machine within 64 MiB, so grids of hundreds of runs
  keep collect.csv only.
"""

import csv
import glob
import os
import shutil
import sys
import tarfile
import tempfile

os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
import h5py  # noqa: E402

FINISHED = ("completed", "failed")
CONSTANT_KEYS = ("model.path", "task.name")  # set once by a grid, named by every table's caption


class IngestError(ValueError):
    pass


def compact_copy(src, dst, slim=False):
    """The log with the same groups, datasets, values and attributes, stored contiguously
    (zotune writes extendable 1024-row chunks: 250 KB for a 12-step run). slim: leaves out the
    replay record (/updates) and the per-probe vectors (`*.values`, `*.offsets`), and stores the
    remaining series gzip-compressed."""
    with h5py.File(src, "r") as fi, h5py.File(dst, "w") as fo:
        for k, v in fi.attrs.items():
            fo.attrs[k] = v

        def copy(name, obj):
            if slim and (name == "updates" or name.startswith("updates/") or name.endswith((".values", ".offsets"))):
                return
            if isinstance(obj, h5py.Group):
                g = fo.require_group(name)
                for k, v in obj.attrs.items():
                    g.attrs[k] = v
                return
            compress = slim and obj.shape and obj.size > 64
            d = fo.create_dataset(name, data=obj[()], dtype=obj.dtype,  # contiguous: the smallest
                                  **(dict(compression="gzip", compression_opts=9, shuffle=True) if compress else {}))
            for k, v in obj.attrs.items():
                d.attrs[k] = v
        fi.visititems(copy)


def read_collect(path):
    """(header, rows as dicts of the CSV's text: numbers kept as written)."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise IngestError(f"{path}: cannot read it as a collect CSV ({e})") from None
    missing = [c for c in ("index", "name", "status", "log") if c not in header]
    if missing:
        raise IngestError(f"{path}: not a `zotune grid ... collect` CSV (no {', '.join(missing)} column)")
    return header, rows


def _root_of(log_path, root):
    if root:
        return root.rstrip("/")
    cut = log_path.rfind("/runs/")
    if not os.path.isabs(log_path) or cut < 0:
        return None
    return log_path[:cut]


def _relative(path, root):
    if root and path.startswith(root + "/"):
        return path[len(root) + 1:]
    return path


class LogSource:
    """Where the new runs' logs are: a tar of the grid's folder (device_paper_grid.sh collect's
    NAME_runs.tar.xz, paths relative to ROOT), a folder standing for ROOT, or (None) the paths the
    collect rows name."""

    def __init__(self, runs):
        self.tmp = None
        self.base = None
        parts = sorted(glob.glob(glob.escape(runs) + ".[0-9][0-9]")) if runs and not os.path.exists(runs) else []
        if runs and (os.path.isfile(runs) or parts):
            self.tmp = tempfile.mkdtemp(prefix="zotune_ingest_")
            if parts:  # collect's split of a large archive: NAME_runs.tar.xz.00, .01, ... in order
                joined = os.path.join(self.tmp, "runs.tar.xz")
                with open(joined, "wb") as out:
                    for part in parts:
                        with open(part, "rb") as f:
                            shutil.copyfileobj(f, out)
                runs = joined
            try:
                with tarfile.open(runs) as t:
                    members = [m for m in t.getmembers() if m.isfile() and m.name.endswith(".h5")
                               and not os.path.isabs(m.name) and ".." not in m.name.split("/")]
                    try:
                        t.extractall(self.tmp, members=members, filter="data")
                    except TypeError:  # Python before 3.11.4: no filter (the members are checked above)
                        t.extractall(self.tmp, members=members)
            except (tarfile.TarError, OSError, EOFError) as e:
                raise IngestError(f"{runs}: cannot read the run logs from it ({e})") from None
            self.base = self.tmp
        elif runs:
            if not os.path.isdir(runs):
                raise IngestError(f"{runs}: no such file or folder (--runs: the grid's runs tarball or folder)")
            self.base = runs

    def find(self, relative_log, absolute_log):
        candidates = [os.path.join(self.base, relative_log)] if self.base else [absolute_log]
        return next((c for c in candidates if os.path.isfile(c)), None)

    def close(self):
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _config_values(log_path, keys, root):
    """{key: value} from the log's resolved configuration; paths relative to root (None: the
    folder the log's own run.output names before /runs/)."""
    from . import zotune_log as zl
    # the configuration alone: the per-step series are not read
    values = zl.config_frame(zl.resolved_config(log_path) or zl.config(log_path))["value"]
    root = root or _root_of(str(values.get("run.output", "")), None)
    out = {}
    for k in keys:
        if k in values:
            v = str(values[k])
            out[k] = _relative(v, root) if k.endswith(".path") else v
    return out


def ingest(collect_csv, into, runs=None, root=None, keep_logs=False, log=print):
    """Merges collect_csv's finished rows into INTO/collect.csv; returns (added, replaced, kept,
    skipped) counts."""
    header, rows = read_collect(collect_csv)
    finished = [r for r in rows if r["status"] in FINISHED]
    skipped = len(rows) - len(finished)
    target = os.path.join(into, "collect.csv")
    old_header, old_rows = read_collect(target) if os.path.exists(target) else ([], [])
    source = LogSource(runs)
    added = replaced = 0
    try:
        by_name = {r["name"]: r for r in old_rows}
        index_of = {r["index"]: r["name"] for r in old_rows}
        columns = list(old_header) or [c for c in header if c != "log"]
        for c in header:
            if c not in columns and c != "log":
                columns.append(c)
        for k in CONSTANT_KEYS:
            if k not in columns:
                columns.append(k)
        columns = [c for c in columns if c != "log"] + ["log"]
        new_logs = []
        for r in finished:
            if index_of.get(r["index"], r["name"]) != r["name"]:
                raise IngestError(f"{collect_csv}: run {r['index']} is {r['name']!r}, but {target} has "
                                  f"{index_of[r['index']]!r} at that index (runs of another grid?)")
            old = by_name.get(r["name"])
            if old is not None and not (r["status"] == "completed" and old["status"] != "completed"):
                continue
            run_root = _root_of(r["log"], root)
            row = dict(r)
            row["log"] = _relative(r["log"], run_root)
            missing = [k for k in CONSTANT_KEYS if not row.get(k)]
            path = source.find(row["log"], r["log"]) if r["log"] else None
            if missing and path is None and r["status"] == "failed":
                # a run that failed before its log was written: a result without the model's name
                log(f"{collect_csv}: failed run {r['name']!r} has no log; its {' and '.join(missing)} left empty")
            elif missing:
                if path is None:
                    raise IngestError(f"{collect_csv}: run {r['name']!r}: its log ({row['log'] or 'none named'}) is not in "
                                      f"{runs or 'its recorded place'}; it names the run's {' and '.join(missing)} "
                                      f"(pass the grid's runs with --runs)")
                try:
                    row.update(_config_values(path, missing, run_root))
                except (OSError, ValueError, KeyError) as e:
                    raise IngestError(f"{path}: cannot read the run's configuration ({e})") from None
            if old is None:
                added += 1
            else:
                replaced += 1
            by_name[r["name"]] = row
            index_of[r["index"]] = r["name"]
            if keep_logs and path:
                new_logs.append((path, os.path.join(into, os.path.basename(row["log"]))))
        os.makedirs(into, exist_ok=True)
        for src, dst in new_logs:
            compact_copy(src, dst, slim=True)
        merged = sorted(by_name.values(), key=lambda r: int(r["index"]))
        tmp = target + ".tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            for r in merged:
                w.writerow({c: r.get(c, "") for c in columns})
        os.replace(tmp, target)
    finally:
        source.close()
    kept = len(old_rows) - replaced
    log(f"{target}: {len(by_name)} runs ({added} added, {replaced} replaced, {kept} kept; "
        f"{skipped} rows of {collect_csv} not finished, left out)")
    return added, replaced, kept, skipped


def main(argv):
    import argparse
    p = argparse.ArgumentParser(prog="update_results ingest", description=__doc__.splitlines()[0])
    p.add_argument("collect", help="a `zotune grid GRID collect --csv` file (device_paper_grid.sh: NAME_collect.csv)")
    p.add_argument("--into", required=True, help="the grid's results folder (experiments/results/NAME)")
    p.add_argument("--runs", help="the grid's run logs: NAME_runs.tar.xz (or, where it is absent, its parts "
                                  "NAME_runs.tar.xz.00, .01, ... joined in order) or a folder standing for the grid's "
                                  "root (default: the paths the collect rows name)")
    p.add_argument("--root", help="the folder the grid ran in (default: the part of each log path before /runs/)")
    p.add_argument("--logs", action="store_true", help="also keep a slim copy of each new run's log beside collect.csv")
    a = p.parse_args(argv)
    try:
        ingest(a.collect, a.into, runs=a.runs, root=a.root, keep_logs=a.logs)
    except (IngestError, OSError) as e:
        print(f"update_results ingest: error: {e}", file=sys.stderr)
        return 1
    return 0
