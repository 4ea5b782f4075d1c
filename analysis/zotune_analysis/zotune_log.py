"""Read zotune run logs (one HDF5 file per run) with h5py and pandas.

The layout is documented in docs/LOGS.md (and core/log/run_log.h). In short: /config (the run
file as read, YAML text), /config_resolved (every key in force, in newer logs), /provenance
(attributes), /steps (one 1-D dataset per scalar series, plus <name>.values / <name>.offsets
for per-step vectors), /updates (the replay record), /eval, /summary (attributes). Newer logs
give every dataset `description` and `unit` attributes and store counts as integers; older
ones do not, so both are read here as optional.

Row counts come from each group's `step` dataset (the writer extends it last), so a log read
while its run is still writing, or after the run was killed, is always consistent.

    import zotune_log as zl                            # or: from zotune_analysis import zotune_log as zl
    run = zl.load("run.h5")                            # everything as pandas
    run.steps, run.eval, run.summary, run.config       # DataFrames
    run.units["loss"], run.descriptions["loss"]        # where the log has them
    fd = zl.vector("run.h5", "finite_differences", 10) # row 10's vector
    up = zl.updates("run.h5")                          # step, query, coefficient, seed

From the shell: `zotune-log RUN.h5 [ROWS]` (after `pip install ./analysis`) or
`python3 analysis/zotune_log.py RUN.h5 [ROWS]` prints the summary and the last ROWS steps.
"""

import os
import sys
from dataclasses import dataclass, field

import h5py
import numpy as np
import pandas as pd

FORMAT = "zotune-run-log"
FORMAT_VERSION = 1


def _text(value):
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def open_log(path):
    """Opens a run log read-only, checking its format. HDF5 file locking is off so that a log
    can be read while its run holds it open for writing. Use as a context manager. Raises
    ValueError with the path for a missing file, a file HDF5 cannot open, or one that is not a
    zotune run log."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"{path}: no such file")
    try:
        try:
            f = h5py.File(path, "r", locking=False)
        except TypeError:  # h5py < 3.5 has no locking argument
            f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path}: cannot be read as an HDF5 file ({e})") from None
    fmt = f.attrs.get("format")
    if fmt is None or _text(fmt) != FORMAT:
        f.close()
        raise ValueError(f"{path}: not a zotune run log (no root attribute format = {FORMAT!r})")
    version = int(f.attrs.get("format_version", 1))
    if version > FORMAT_VERSION:
        f.close()
        raise ValueError(f"{path}: run log format_version {version} is newer than this reader ({FORMAT_VERSION})")
    return f


def _column(dset, rows):
    """The first `rows` values of a 1-D series. Integer series (counts: int32 in older logs,
    int64 in newer ones) become pandas nullable integers with the dataset's fill value (-1)
    as <NA>; float series float64 with NaN for missing. A series shorter than `rows` (a flush
    cut short) is padded as missing."""
    values = dset[:rows]
    if np.issubdtype(values.dtype, np.integer):
        mask = values == dset.fillvalue
        if len(values) < rows:
            values = np.concatenate([values, np.zeros(rows - len(values), values.dtype)])
            mask = np.concatenate([mask, np.ones(rows - len(mask), bool)])
        return pd.arrays.IntegerArray(values.astype(np.int64), mask)
    values = values.astype(np.float64)
    if len(values) < rows:
        values = np.concatenate([values, np.full(rows - len(values), np.nan)])
    return values


def _attrs_of(dset):
    """(description, unit) of a dataset; None where the log does not carry them."""
    description = dset.attrs.get("description")
    unit = dset.attrs.get("unit")
    return (None if description is None else _text(description), None if unit is None else _text(unit))


def _series_frame(f, group_name):
    """One group's scalar series as a DataFrame (a `step` column first, then one column per
    series in name order) plus {name: unit} and {name: description} for the columns that
    carry them. A missing group, or one without a `step` dataset (a run that failed before its
    first row), gives an empty frame with a `step` column."""
    group = f.get(group_name)
    if not isinstance(group, h5py.Group) or "step" not in group:
        return pd.DataFrame({"step": np.zeros(0, np.int64)}), {}, {}
    rows = len(group["step"])
    data = {"step": group["step"][:rows].astype(np.int64)}
    units, descriptions = {}, {}
    for name in sorted(group):
        item = group[name]
        if not isinstance(item, h5py.Dataset) or len(item.shape) != 1:
            continue
        if name != "step" and "." not in name:
            data[name] = _column(item, rows)
        if "." not in name:
            description, unit = _attrs_of(item)
            if unit is not None:
                units[name] = unit
            if description is not None:
                descriptions[name] = description
    frame = pd.DataFrame(data)
    frame.attrs["units"] = units
    frame.attrs["descriptions"] = descriptions
    return frame, units, descriptions


def load_steps(path):
    """All scalar series of /steps as a DataFrame: one row per logged step (row i is the row
    index `vector` takes), a `step` column, then one column per series in name order.
    `frame.attrs["units"]` / `["descriptions"]` hold the datasets' attributes where present."""
    with open_log(path) as f:
        return _series_frame(f, "steps")[0]


def load_eval(path):
    """The /eval series as a DataFrame: `step` and one column per metric (NaN where missing)."""
    with open_log(path) as f:
        return _series_frame(f, "eval")[0]


def _summary_value(value):
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, (str, bytes)):
        return _text(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return value.tolist() if isinstance(value, np.ndarray) else value


def _summary(f):
    group = f.get("summary")
    if not isinstance(group, h5py.Group):
        return {}
    return {k: _summary_value(v) for k, v in group.attrs.items()}


def summary(path):
    """The /summary attributes as a dict of str, int (counts, in newer logs) or float."""
    with open_log(path) as f:
        return _summary(f)


def _config_text(f, name):
    item = f.get(name)
    if isinstance(item, h5py.Dataset):
        return _text(item[()])
    return None


def config(path):
    """The run's YAML config text: the run file as the run read it."""
    with open_log(path) as f:
        return _config_text(f, "config") or ""


def resolved_config(path):
    """The resolved configuration (every key in force, defaults applied) as YAML text, or None
    for a log written before zotune recorded it."""
    with open_log(path) as f:
        return _config_text(f, "config_resolved")


def _scalar(text):
    """A YAML plain scalar as Python: int, float, bool, None or the string (fallback parser)."""
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    lowered = t.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "~", ""):
        return None
    for kind in (int, float):
        try:
            return kind(t)
        except ValueError:
            pass
    return t


def _typed(tree):
    if isinstance(tree, dict):
        return {k: _typed(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_typed(v) for v in tree]
    return _scalar(tree) if isinstance(tree, str) else tree


def _parse_yaml(text):
    """The config as nested dicts: PyYAML where installed; else a reader for what zotune
    writes (block mappings, `- item` lists, plain or quoted scalars, # comments)."""
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is not None:
        # Every scalar as text, then typed as YAML 1.2 (zotune's reader) types it: PyYAML's
        # YAML 1.1 would read `3e-2` as a string and `off` as false.
        loaded = yaml.load(text, Loader=yaml.BaseLoader)
        return _typed(loaded) if isinstance(loaded, dict) else {}
    root = {}
    stack = [(-1, root)]  # (indent, container)
    last_key = None
    for raw in text.splitlines():
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip() or line.strip() == "---":
            continue
        indent = len(line) - len(line.lstrip())
        body = line.strip()
        while len(stack) > 1 and indent <= stack[-1][0] and not (body.startswith("- ") and indent == stack[-1][0]):
            stack.pop()
        parent = stack[-1][1]
        if body.startswith("- "):
            if isinstance(parent, dict) and last_key is not None and not isinstance(parent.get(last_key), list):
                parent[last_key] = []
            target = parent[last_key] if isinstance(parent, dict) else parent
            target.append(_scalar(body[2:]))
            continue
        key, _, value = body.partition(":")
        key = key.strip()
        if value.strip():
            parent[key] = _scalar(value)
        else:
            parent[key] = {}
            stack.append((indent, parent[key]))
        last_key = key
    return root


def _flatten(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def config_frame(text):
    """A config's YAML text as a DataFrame indexed by the dotted key ("optimizer.lr") with one
    column `value`. Empty for empty or unparsable text."""
    try:
        flat = _flatten(_parse_yaml(text or ""))
    except Exception:  # a config this reader cannot parse still leaves the text available
        flat = {}
    frame = pd.DataFrame({"value": pd.Series(list(flat.values()), index=list(flat.keys()), dtype=object)})
    frame.index.name = "key"
    return frame


def _provenance(f):
    group = f.get("provenance")
    if not isinstance(group, h5py.Group):
        return {}
    out = {}
    for key, value in group.attrs.items():
        value = _summary_value(value)
        out[key] = value
    for key in ("hostnames", "devices"):
        if isinstance(out.get(key), str):
            out[key] = out[key].split(",") if out[key] else []
    return out


def provenance(path):
    """The /provenance attributes as a dict; hostnames and devices as lists."""
    with open_log(path) as f:
        return _provenance(f)


@dataclass
class Run:
    """One run log read into pandas (see `load`)."""

    path: str
    steps: pd.DataFrame  # one row per logged step: `step`, then one column per scalar series
    eval: pd.DataFrame  # one row per evaluation: `step`, then dev/test metrics (dev_loss, dev_accuracy, ...)
    summary: pd.DataFrame  # one row, one column per /summary attribute (status, final_loss, test_accuracy, ...)
    config: pd.DataFrame  # index: dotted key; column `value` (the resolved configuration where logged)
    config_text: str = ""  # /config: the run file as the run read it
    resolved_config_text: str = None  # /config_resolved, None in older logs
    provenance: dict = field(default_factory=dict)
    units: dict = field(default_factory=dict)  # series name -> unit ("nats", "ms", "count", ...)
    descriptions: dict = field(default_factory=dict)  # series name -> description

    @property
    def status(self):
        """The summary's status ("completed", "failed: ...", "interrupted: ..."); "" if unset
        (a run still writing, or killed before its summary)."""
        return str(self.summary["status"].iloc[0]) if "status" in self.summary else ""

    def summary_dict(self):
        return {} if self.summary.empty else {k: v for k, v in self.summary.iloc[0].items()}


def load(path):
    """Reads a run log into pandas: a `Run` whose steps, eval, summary and config are
    DataFrames (see `Run`). Works on completed, failed, interrupted and still-running logs:
    groups or series a log lacks come back empty, never as a KeyError."""
    path = os.fspath(path)
    with open_log(path) as f:
        steps, step_units, step_descriptions = _series_frame(f, "steps")
        evals, eval_units, eval_descriptions = _series_frame(f, "eval")
        summary_values = _summary(f)
        text = _config_text(f, "config") or ""
        resolved = _config_text(f, "config_resolved")
        prov = _provenance(f)
    units = {**step_units, **{k: v for k, v in eval_units.items() if k != "step"}}
    descriptions = {**step_descriptions, **{k: v for k, v in eval_descriptions.items() if k != "step"}}
    summary_frame = pd.DataFrame([summary_values]) if summary_values else pd.DataFrame(index=[0])
    return Run(path=path, steps=steps, eval=evals, summary=summary_frame,
               config=config_frame(resolved if resolved else text), config_text=text,
               resolved_config_text=resolved, provenance=prov, units=units, descriptions=descriptions)


def vector_names(path):
    """Names of the per-step vector series (e.g. finite_differences, posterior_mean)."""
    with open_log(path) as f:
        names = set(f["steps"]) if "steps" in f else set()
        return sorted(n[: -len(".offsets")] for n in names if n.endswith(".offsets") and n[: -len(".offsets")] + ".values" in names)


def vector(path, name, step_index):
    """The vector of series `name` at row `step_index` of /steps (0-based row, not the step
    number) as a float64 array; empty where the series was absent at that step."""
    with open_log(path) as f:
        steps = f["steps"]
        rows = len(steps["step"]) if "step" in steps else 0
        if not 0 <= step_index < rows:
            raise IndexError(f"{path}: /steps/{name}: row {step_index} out of range ({rows} steps logged)")
        if name + ".offsets" not in steps:
            raise KeyError(f"{path}: /steps has no vector series {name!r} (it has: {', '.join(vector_names(path)) or 'none'})")
        offsets = steps[name + ".offsets"]
        if len(offsets) < step_index + 2:
            return np.zeros(0)
        begin, end = offsets[step_index : step_index + 2]
        return steps[name + ".values"][begin:end].astype(np.float64)


def vectors(path, name):
    """Every row's vector of series `name`, as a list of float64 arrays (one read of the file)."""
    with open_log(path) as f:
        steps = f["steps"]
        rows = len(steps["step"]) if "step" in steps else 0
        if name + ".offsets" not in steps:
            raise KeyError(f"{path}: /steps has no vector series {name!r}")
        offsets = steps[name + ".offsets"][: rows + 1]
        values = steps[name + ".values"][: offsets[-1] if len(offsets) else 0]
        out = [values[offsets[i] : offsets[i + 1]].astype(np.float64) for i in range(len(offsets) - 1)]
        return out + [np.zeros(0)] * (rows - len(out))


def updates(path):
    """The replay record as a DataFrame with columns step (int64), query (int32), coefficient
    (float64), seed (uint64), in application order: theta += coefficient * z(seed, step, query)."""
    columns = ("step", "query", "coefficient", "seed")
    with open_log(path) as f:
        g = f.get("updates")
        if not isinstance(g, h5py.Group) or any(c not in g for c in columns):
            return pd.DataFrame({c: [] for c in columns})
        rows = min(len(g[c]) for c in columns)
        return pd.DataFrame({c: g[c][:rows] for c in columns})


def main(argv=None):
    """zotune-log RUN.h5 [ROWS]: the summary and the last ROWS (10) steps."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (1, 2) or argv[0] in ("-h", "--help"):
        print("usage: zotune-log RUN.h5 [ROWS]   (the summary and the last ROWS steps, default 10)", file=sys.stderr)
        return 2
    try:
        rows = int(argv[1]) if len(argv) == 2 else 10
        run = load(argv[0])
    except ValueError as e:
        print(f"zotune-log: error: {e}", file=sys.stderr)
        return 1
    for key, value in run.summary_dict().items():
        print(f"{key:>20}  {value}")
    if run.steps.empty:
        print(f"{run.path}: no steps logged (status: {run.status or 'none yet'})")
        return 0
    with pd.option_context("display.width", 160, "display.max_columns", 12):
        print(run.steps.tail(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
