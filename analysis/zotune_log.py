"""Read zotune run logs (one HDF5 file per run) with h5py and pandas.

The layout is documented in core/log/run_log.h. In short: /config (YAML text), /provenance
(attributes), /steps (one 1-D dataset per scalar series, plus <name>.values / <name>.offsets
for per-step vectors), /updates (the replay record), /eval, /summary (attributes).

Row counts come from each group's `step` dataset (the writer extends it last), so a log read
while its run is still writing, or after the run was killed, is always consistent.

    import zotune_log as zl
    df = zl.load_steps("run.h5")                       # one row per logged step
    fd = zl.vector("run.h5", "finite_differences", 10) # row 10's vector
    up = zl.updates("run.h5")                          # step, query, coefficient, seed

From the shell: python3 analysis/zotune_log.py run.h5 [ROWS] prints the summary and the last
ROWS steps.
"""

import sys

import h5py
import numpy as np
import pandas as pd

FORMAT = "zotune-run-log"
FORMAT_VERSION = 1


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def open_log(path):
    """Opens a run log read-only, checking its format. HDF5 file locking is off so that a log
    can be read while its run holds it open for writing. Use as a context manager."""
    try:
        f = h5py.File(path, "r", locking=False)
    except TypeError:  # h5py < 3.5 has no locking argument
        f = h5py.File(path, "r")
    fmt = f.attrs.get("format")
    if fmt is None or _text(fmt) != FORMAT:
        f.close()
        raise ValueError(f"{path}: not a zotune run log (no root attribute format = {FORMAT!r})")
    version = int(f.attrs["format_version"])
    if version > FORMAT_VERSION:
        f.close()
        raise ValueError(f"{path}: run log format_version {version} is newer than this reader ({FORMAT_VERSION})")
    return f


def _column(dset, rows):
    """The first `rows` values of a 1-D series; integer series become pandas nullable integers
    with the dataset's fill value (e.g. -1 for `queries`) as <NA>; float missing values are NaN.
    A series shorter than `rows` (a flush cut short) is padded as missing."""
    values = dset[:rows]
    if np.issubdtype(values.dtype, np.integer):
        mask = values == dset.fillvalue
        if len(values) < rows:
            values = np.concatenate([values, np.zeros(rows - len(values), values.dtype)])
            mask = np.concatenate([mask, np.ones(rows - len(mask), bool)])
        return pd.arrays.IntegerArray(values, mask)
    values = values.astype(np.float64)
    if len(values) < rows:
        values = np.concatenate([values, np.full(rows - len(values), np.nan)])
    return values


def _series_frame(group):
    rows = len(group["step"])
    data = {"step": group["step"][:rows]}
    for name in sorted(group):
        if name != "step" and "." not in name:
            data[name] = _column(group[name], rows)
    return pd.DataFrame(data)


def load_steps(path):
    """All scalar series of /steps as a DataFrame: one row per logged step (row i is the row
    index `vector` takes), a `step` column, then one column per series in name order."""
    with open_log(path) as f:
        return _series_frame(f["steps"])


def load_eval(path):
    """The /eval series as a DataFrame: `step` and one column per metric (NaN where missing)."""
    with open_log(path) as f:
        return _series_frame(f["eval"])


def vector_names(path):
    """Names of the per-step vector series (e.g. finite_differences, posterior_mean)."""
    with open_log(path) as f:
        names = set(f["steps"])
        return sorted(n[: -len(".offsets")] for n in names if n.endswith(".offsets") and n[: -len(".offsets")] + ".values" in names)


def vector(path, name, step_index):
    """The vector of series `name` at row `step_index` of /steps (0-based row, not the step
    number) as a float64 array; empty where the series was absent at that step."""
    with open_log(path) as f:
        steps = f["steps"]
        rows = len(steps["step"])
        if not 0 <= step_index < rows:
            raise IndexError(f"{path}: /steps/{name}: row {step_index} out of range ({rows} steps logged)")
        offsets = steps[name + ".offsets"]
        if len(offsets) < step_index + 2:
            return np.zeros(0)
        begin, end = offsets[step_index : step_index + 2]
        return steps[name + ".values"][begin:end].astype(np.float64)


def vectors(path, name):
    """Every row's vector of series `name`, as a list of float64 arrays (one read of the file)."""
    with open_log(path) as f:
        steps = f["steps"]
        rows = len(steps["step"])
        offsets = steps[name + ".offsets"][: rows + 1]
        values = steps[name + ".values"][: offsets[-1] if len(offsets) else 0]
        out = [values[offsets[i] : offsets[i + 1]].astype(np.float64) for i in range(len(offsets) - 1)]
        return out + [np.zeros(0)] * (rows - len(out))


def updates(path):
    """The replay record as a DataFrame with columns step (int64), query (int32), coefficient
    (float64), seed (uint64), in application order: theta += coefficient * z(seed, step, query)."""
    with open_log(path) as f:
        g = f["updates"]
        rows = min(len(g[c]) for c in ("step", "query", "coefficient", "seed"))
        return pd.DataFrame({c: g[c][:rows] for c in ("step", "query", "coefficient", "seed")})


def config(path):
    """The run's YAML config text."""
    with open_log(path) as f:
        return _text(f["config"][()])


def provenance(path):
    """The /provenance attributes as a dict; hostnames and devices as lists."""
    with open_log(path) as f:
        out = {}
        for key, value in f["provenance"].attrs.items():
            out[key] = int(value) if key == "ranks" else _text(value)
        for key in ("hostnames", "devices"):
            if key in out:
                out[key] = out[key].split(",") if out[key] else []
        return out


def summary(path):
    """The /summary attributes as a dict of str or float."""
    with open_log(path) as f:
        return {k: _text(v) if isinstance(v, (str, bytes)) else float(v) for k, v in f["summary"].attrs.items()}


def _main(argv):
    """python3 analysis/zotune_log.py RUN.h5 [N]: the summary and the last N (10) steps."""
    if len(argv) not in (2, 3):
        print("usage: zotune_log.py RUN.h5 [ROWS]", file=sys.stderr)
        return 2
    rows = int(argv[2]) if len(argv) == 3 else 10
    for key, value in summary(argv[1]).items():
        print(f"{key:>20}  {value}")
    with pd.option_context("display.width", 160, "display.max_columns", 12):
        print(load_steps(argv[1]).tail(rows))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
