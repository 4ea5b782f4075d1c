#!/usr/bin/env python3
"""End-to-end checks of `zotune train` (issue 3, "How we will know it works"), one subcommand
per property, each run by CTest (tests/CMakeLists.txt) and exiting non-zero when the property
fails:

  rank-invariance    mpirun -np 1, 2, 3 give bit-identical /steps, /updates, final checksum
  exchange-size      allreduce_bytes per step is a few doubles per probe loss and the
                     stop vote (one double), the same for a model ~35x larger (DESIGN.md section 2, "Exchange size"); every
                     other collective of a step (counted by the Communicator, whatever its
                     kind) is the checksum all-gather of one word per rank
  learning           a run lowers the training loss (/summary initial_loss -> final_loss)
  custom-task        a task defined only in the run file trains (lower loss) and evaluates
                     (dev metric and loss, the test metric in /summary)
  malformed-run-file exit code 1, the error names file and line, no runs/<stem>.h5 is written
  missing-model      the error names the model path, the log says failed
  refused-run        a setting the run refuses (e.g. inplace on 2 ranks): the log says failed
  nan-loss           the error names step and probe, the log keeps every step before it
  kill-resume        SIGTERM at a random step, --resume: checksum and every /steps,
                     /updates, /eval series identical to an uninterrupted run
  resume-refused     --resume with another configuration names the key; a completed log
                     has nothing to resume; a missing log is named
  stop-signals       SIGTERM, SIGINT, SIGUSR1: status 'interrupted: <SIG> at step N',
                     exit code 75; a second signal exits at once, the log readable
  hung-rank          a SIGSTOPped rank: the others stop after distributed.timeout_s
                     naming it and the step, exit code 76, status 'failed: ...'

Every run writes into --work (a folder of the build tree), never into the source tree.
Run files name models relative to their own folder, as zotune resolves them; the script
writes variants into --work that name the run file as their base and set their own keys.
Needs h5py and numpy; the rest is the standard library.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import time

import h5py
import numpy as np

# Per-rank measurements of /steps: wall time and resident memory differ between runs by
# nature, and the collectives of a step depend on the rank count (the replica checksum's
# all-gather runs only with several ranks and carries one word per rank: exchange-size checks
# them); every other series is a function of (weights, config, seed) and must not.
MEASURED_SERIES = {"ms", "peak_memory_bytes", "peak_device_memory_bytes", "exchange_bytes", "exchange_calls"}

# What one probe loss may cost in the step's all-reduce without data parallelism: its loss,
# or a loss sum and a count, and room for a scalar or two more, but nothing that grows with
# the model.
MAX_DOUBLES_PER_PROBE = 4
# And one double per step, whatever the model: every rank's stop vote (a received SIGTERM,
# SIGINT or SIGUSR1) rides in the step's first all-reduce, so all ranks stop after the same step.
STOP_VOTE_BYTES = 8


class CheckFailed(Exception):
    pass


def require(condition, message):
    if not condition:
        raise CheckFailed(message)


# ---------------------------------------------------------------------------------------
# Run files and running zotune


def run_file_variant(template, dest, settings):
    """Writes a run file `dest` that names `template` as its base and sets each dotted key of
    `settings` (relative paths in it are relative to `dest`'s folder, the template's own to
    the template's)."""
    sections = {}
    for dotted, value in settings.items():
        section, key = dotted.split(".")
        sections.setdefault(section, []).append(f"  {key}: {value}")
    lines = [f"base: {os.path.abspath(template)}"]
    for section, keys in sections.items():
        lines += [section + ":"] + keys
    with open(dest, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return dest


def model_path_of(run_file):
    """model.path of a run file as written (the same two-level layout as run_file_variant)."""
    section = None
    for line in open(run_file, encoding="utf-8").read().splitlines():
        if line and not line.startswith((" ", "#")):
            section = line.split(":")[0].strip()
        elif section == "model":
            m = re.match(r"^  path:\s*(\S+)", line)
            if m:
                return m.group(1)
    raise CheckFailed(f"{run_file}: no model.path")


def resolved_model_path(run_file, repo):
    """model.path as zotune resolves it: relative to the run file's folder."""
    path = model_path_of(run_file)
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(run_file)), path))


def mpi_launcher(args, ranks):
    """The command prefix that starts `ranks` processes, or [] to run zotune directly (built
    without MPI). Open MPI refuses root (CI runs as root) and more ranks than cores (CI has
    2) unless told; other MPIs do not know these flags."""
    if not args.mpiexec:
        require(ranks == 1, f"{ranks} ranks asked for, but no --mpiexec (zotune built without MPI?)")
        return []
    version = subprocess.run([args.mpiexec, "--version"], capture_output=True, text=True).stdout
    flags = ["--allow-run-as-root", "--oversubscribe"] if "Open MPI" in version or "OpenRTE" in version else []
    return [args.mpiexec, *flags, args.numproc_flag, str(ranks)]


def run_zotune(args, argv, ranks=1, timeout=300):
    command = mpi_launcher(args, ranks) + [args.zotune, *argv]
    print("$", " ".join(command), flush=True)
    done = subprocess.run(command, cwd=args.work, capture_output=True, text=True, timeout=timeout)
    sys.stdout.write(done.stdout)
    sys.stdout.write(done.stderr)
    return done


def train(args, run_file, ranks=1):
    """Runs `zotune train --overwrite run_file` and requires it to succeed."""
    done = run_zotune(args, ["train", "--overwrite", run_file], ranks)
    require(done.returncode == 0, f"zotune train {run_file} under {ranks} rank(s) exited {done.returncode}")
    return done


# ---------------------------------------------------------------------------------------
# Reading logs with h5py


def open_log(path):
    require(os.path.isfile(path), f"{path}: no run log was written")
    f = h5py.File(path, "r")
    fmt = f.attrs.get("format")
    require(fmt is not None and (fmt.decode() if isinstance(fmt, bytes) else fmt) == "zotune-run-log",
            f"{path}: not a zotune run log (root attribute format = {fmt!r})")
    return f


def text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def summary(log):
    return {k: text(v) if isinstance(v, (str, bytes)) else v for k, v in log["summary"].attrs.items()}


def datasets(group):
    """Every dataset of a group as {name: numpy array}, cut to the group's row count for
    the row-indexed series (a writer may have extended some further: see zotune_log.py)."""
    rows = len(group["step"])
    out = {}
    for name, dset in group.items():
        data = dset[()]
        if not name.endswith((".values", ".offsets")):
            data = data[:rows]
        elif name.endswith(".offsets"):
            data = data[: rows + 1]
        out[name] = data
    return out


def vectors(group, name):
    """Per-row vectors of the series `name` (its .values sliced by its .offsets)."""
    offsets = group[name + ".offsets"][()]
    values = group[name + ".values"][()]
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(group["step"]))]


def same_array(a, b):
    """Bit-identical: same dtype, shape and bytes (so NaN equals NaN, and -0.0 is not 0.0)."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def first_difference(a, b):
    if a.shape != b.shape:
        return f"shapes {a.shape} and {b.shape}"
    for i, (x, y) in enumerate(zip(a.tolist(), b.tolist())):
        if not (x == y or (x != x and y != y)):
            return f"row {i}: {a[i]!r} vs {b[i]!r}"
    return f"dtypes {a.dtype} and {b.dtype}, or bit patterns such as -0.0 and 0.0"


# ---------------------------------------------------------------------------------------
# rank-invariance


def check_rank_invariance(args):
    steps_expected = None
    reference = None
    for ranks in args.ranks:
        settings = {"model.path": resolved_model_path(args.run_file, args.repo), "run.output": f"runs/np{ranks}.h5"}
        if args.data_parallel:
            settings["distributed.data_parallel"] = str(args.data_parallel)
        settings.update(item.split("=", 1) for item in args.set)
        run_file = run_file_variant(args.run_file, os.path.join(args.work, f"np{ranks}.yaml"), settings)
        done = train(args, run_file, ranks)
        printed = re.search(r"parameter checksum ([0-9a-f]{16})", done.stdout)
        require(printed, f"np {ranks}: no 'parameter checksum' line on stdout")
        with open_log(os.path.join(args.work, f"runs/np{ranks}.h5")) as log:
            s = summary(log)
            require(s.get("status") == "completed", f"np {ranks}: /summary status {s.get('status')!r}")
            require(int(log["provenance"].attrs["ranks"]) == ranks,
                    f"np {ranks}: the log says {log['provenance'].attrs['ranks']} ranks: mpiexec did not start one job of {ranks}")
            require(s["final_checksum"] == printed.group(1), f"np {ranks}: /summary final_checksum {s['final_checksum']} "
                    f"differs from the printed checksum {printed.group(1)}")
            run = {
                "steps": {n: v for n, v in datasets(log["steps"]).items() if n.split(".")[0] not in MEASURED_SERIES},
                "updates": datasets(log["updates"]),
                # Every summary value but the timings: losses, dev selection, test score, checksums.
                "summary": {k: v for k, v in s.items() if k not in ("seconds", "status")},
            }
            probe_rows = vectors(log["steps"], "probe_losses")
        if steps_expected is None:
            steps_expected = len(run["steps"]["step"])
            require(steps_expected > 1, f"np {ranks}: only {steps_expected} steps logged")
            most = max(args.ranks)
            require(all(len(p) >= most for p in probe_rows), f"np {ranks}: a step with fewer than {most} probe "
                    f"losses: the run would not spread work over {most} ranks")
            # Optimizers whose updates are tensor passes (MeZO-Adam, HiZOO, LOZO, Sparse-MeZO) log no
            # /updates rows: replay re-runs them from the probe losses, which the comparison covers.
            require(args.tensor_passes or len(run["updates"]["step"]) >= steps_expected,
                    f"np {ranks}: fewer /updates rows than steps")
            for name in args.varying:
                # A schedule (e.g. AdaZeta's queries_used) must really change within the run.
                require(name in run["steps"], f"np {ranks}: no /steps/{name} series")
                values = sorted(set(run["steps"][name].tolist()))
                require(len(values) > 1, f"np {ranks}: /steps/{name} is {values} at every step: the run does not vary it")
                print(f"/steps/{name} takes the values {values}")
            reference = (ranks, run)
            continue
        ref_ranks, ref = reference
        for group in ("steps", "updates"):
            require(sorted(run[group]) == sorted(ref[group]),
                    f"/{group} datasets differ: np {ref_ranks} {sorted(ref[group])}, np {ranks} {sorted(run[group])}")
            for name in sorted(ref[group]):
                a, b = ref[group][name], run[group][name]
                require(same_array(a, b), f"/{group}/{name} of np {ranks} differs from np {ref_ranks}: {first_difference(a, b)}")
        for key, value in ref["summary"].items():
            require(run["summary"][key] == value, f"/summary {key}: np {ref_ranks} {value!r}, np {ranks} {run['summary'][key]!r}")
        print(f"np {ranks}: {steps_expected} steps, {len(run['steps'])} /steps and {len(run['updates'])} /updates datasets "
              f"and final checksum {run['summary']['final_checksum']} bit-identical to np {ref_ranks}")


# ---------------------------------------------------------------------------------------
# exchange-size

CHECKSUM_EVERY = 3  # the exchange-size runs check replicas every 3rd step, so the all-gather is seen


def write_wide_llama(tiny_dir, dest, hidden, intermediate, heads, kv_heads, seed=1):
    """A Llama like the tiny fixture (same tokenizer and vocabulary) but `hidden` wide, with
    seeded random weights: the large model of the exchange-size check, written at test time
    so that no large file is committed."""
    os.makedirs(dest, exist_ok=True)
    shutil.copy(os.path.join(tiny_dir, "tokenizer.json"), dest)
    config = json.load(open(os.path.join(tiny_dir, "config.json")))
    head_dim = hidden // heads
    config.update(hidden_size=hidden, intermediate_size=intermediate, num_attention_heads=heads,
                  num_key_value_heads=kv_heads, head_dim=head_dim)
    with open(os.path.join(dest, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    rng = np.random.default_rng(seed)
    vocab, layers = config["vocab_size"], config["num_hidden_layers"]
    shapes = {"model.embed_tokens.weight": (vocab, hidden), "lm_head.weight": (vocab, hidden), "model.norm.weight": (hidden,)}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes.update({
            p + "self_attn.q_proj.weight": (heads * head_dim, hidden), p + "self_attn.k_proj.weight": (kv_heads * head_dim, hidden),
            p + "self_attn.v_proj.weight": (kv_heads * head_dim, hidden), p + "self_attn.o_proj.weight": (hidden, heads * head_dim),
            p + "mlp.gate_proj.weight": (intermediate, hidden), p + "mlp.up_proj.weight": (intermediate, hidden),
            p + "mlp.down_proj.weight": (hidden, intermediate),
            p + "input_layernorm.weight": (hidden,), p + "post_attention_layernorm.weight": (hidden,)})
    header, blobs, offset = {}, [], 0
    for name in sorted(shapes):
        shape = shapes[name]
        value = np.ones(shape) if len(shape) == 1 else rng.standard_normal(shape) / np.sqrt(shape[1])
        data = value.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(os.path.join(dest, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))
    return dest


def check_exchange_size(args):
    tiny = resolved_model_path(args.run_file, args.repo)
    wide = write_wide_llama(tiny, os.path.join(args.work, "wide_llama"), hidden=128, intermediate=384, heads=4, kv_heads=2)
    ranks = 2 if args.mpiexec else 1  # a real exchange where there is MPI
    series = {}
    for label, model in (("tiny", tiny), ("wide", wide)):
        run_file = run_file_variant(args.run_file, os.path.join(args.work, f"{label}.yaml"),
                                    {"model.path": model, "run.output": f"runs/{label}.h5", "run.steps": "10",
                                     "run.checksum_every": str(CHECKSUM_EVERY)})
        train(args, run_file, ranks)
        with open_log(os.path.join(args.work, f"runs/{label}.h5")) as log:
            steps = log["steps"]
            series[label] = {
                "params": int(summary(log)["trainable_params"]),
                "bytes": steps["allreduce_bytes"][: len(steps["step"])],
                "exchanged": steps["exchange_bytes"][: len(steps["step"])],
                "calls": steps["exchange_calls"][: len(steps["step"])],
                "step": steps["step"][: len(steps["step"])],
                "probes": np.array([len(p) for p in vectors(steps, "probe_losses")]),
            }
    tiny_s, wide_s = series["tiny"], series["wide"]
    # Without a model at least 10x larger the comparison could not tell O(Q) from O(n).
    require(wide_s["params"] >= 10 * tiny_s["params"],
            f"the large model has {wide_s['params']} trainable parameters, not 10x the tiny one's {tiny_s['params']}")
    # O(queries): every probe loss costs the same few doubles (a loss sum and a token count
    # per data-parallel slice, say), at every step and for both models.
    per_probe = set()
    for label, s in series.items():
        require(len(s["bytes"]) > 0 and np.all(s["probes"] > 0), f"{label}: no steps or no probe losses logged")
        per_probe |= set(((s["bytes"] - STOP_VOTE_BYTES) / s["probes"]).tolist())
    require(len(per_probe) == 1, f"allreduce_bytes per probe loss (less the {STOP_VOTE_BYTES}-byte stop vote) varies: "
            f"{sorted(per_probe)}")
    bytes_per_probe = per_probe.pop()
    require(bytes_per_probe % 8 == 0 and 8 <= bytes_per_probe <= 8 * MAX_DOUBLES_PER_PROBE,
            f"{bytes_per_probe} bytes per probe loss: not 1 to {MAX_DOUBLES_PER_PROBE} doubles")
    require(np.array_equal(tiny_s["bytes"], wide_s["bytes"]),
            f"allreduce_bytes differs between {tiny_s['params']} and {wide_s['params']} parameters: "
            f"{tiny_s['bytes'][:5].tolist()}... vs {wide_s['bytes'][:5].tolist()}...")
    # Every collective of a step, not only the all-reduce: the only other one is the replica
    # checksum's all-gather of one 64-bit word per rank, on every CHECKSUM_EVERY-th step when
    # there are several ranks. No broadcast, no parameter bytes.
    for label, s in series.items():
        checksum_step = ((s["step"] + 1) % CHECKSUM_EVERY == 0) & (ranks > 1)
        expected_extra = np.where(checksum_step, 8 * ranks, 0)
        require(np.array_equal(s["exchanged"] - s["bytes"], expected_extra),
                f"{label}: bytes of all collectives minus the all-reduce's per step are "
                f"{(s['exchanged'] - s['bytes'])[:10].tolist()}..., expected {expected_extra[:10].tolist()}... "
                f"(the checksum all-gather alone)")
        rounds = s["calls"] - checksum_step
        require(np.all(rounds >= 1) and np.all(rounds <= s["probes"]),
                f"{label}: {s['calls'][:10].tolist()}... collectives per step for {s['probes'][:10].tolist()}... probe "
                f"losses: expected one all-reduce per round of probes plus the checksum all-gather")
    require(np.array_equal(tiny_s["exchanged"], wide_s["exchanged"]) and np.array_equal(tiny_s["calls"], wide_s["calls"]),
            "the collectives per step differ between the two model sizes")
    print(f"allreduce_bytes {sorted(set(tiny_s['bytes'].tolist()))} per step for both {tiny_s['params']} and "
          f"{wide_s['params']} trainable parameters ({bytes_per_probe:g} bytes per probe loss), {ranks} rank(s); "
          f"all collectives per step: {sorted(set(tiny_s['exchanged'].tolist()))} bytes in "
          f"{sorted(set(tiny_s['calls'].tolist()))} calls")


# ---------------------------------------------------------------------------------------
# learning


def check_learning(args):
    run_file = run_file_variant(args.run_file, os.path.join(args.work, os.path.basename(args.run_file)),
                                {"model.path": resolved_model_path(args.run_file, args.repo), "run.output": "runs/learning.h5",
                                 "run.progress": "off"})
    done = train(args, run_file)
    printed = re.search(r"loss before ([0-9.eE+-]+), after ([0-9.eE+-]+)", done.stdout)
    require(printed, "no 'loss before X, after Y' line on stdout")
    with open_log(os.path.join(args.work, "runs/learning.h5")) as log:
        s = summary(log)
    require(s.get("status") == "completed", f"/summary status {s.get('status')!r}")
    before, after = float(s["initial_loss"]), float(s["final_loss"])
    require(abs(before - float(printed.group(1))) < 1e-6 and abs(after - float(printed.group(2))) < 1e-6,
            f"printed losses {printed.groups()} differ from /summary {before}, {after}")
    require(np.isfinite(after) and after < before - args.min_decrease,
            f"training loss went from {before:.6f} to {after:.6f}: not lower by at least {args.min_decrease}")
    print(f"training loss {before:.6f} -> {after:.6f} (-{before - after:.6f}, at least {args.min_decrease} required)")


# ---------------------------------------------------------------------------------------
# custom-task


def custom_task_run(args, name, settings):
    """Trains a variant of the custom-task run file and returns (summary, /eval, /steps/loss)."""
    run_file = run_file_variant(args.run_file, os.path.join(args.work, name + ".yaml"),
                                {"model.path": resolved_model_path(args.run_file, args.repo),
                                 "run.output": f"runs/{name}.h5", "run.progress": "off", **settings})
    train(args, run_file)
    with open_log(os.path.join(args.work, f"runs/{name}.h5")) as log:
        return summary(log), datasets(log["eval"]), log["steps/loss"][()]


def check_custom_task(args):
    """A task defined only in the run file (task.name custom) trains and evaluates: dev metric
    and loss at every evaluation, the test metric of the selected weights in /summary, a
    lower loss at the end; with task.loss candidates and task.metric f1 it logs test_f1."""
    s, evals, losses = custom_task_run(args, "custom", {})
    require(s.get("status") == "completed", f"/summary status {s.get('status')!r}")
    require(str(s.get("task", "")).startswith("custom ("), f"/summary task {s.get('task')!r} is not the custom task")
    require("test_accuracy" in s, f"/summary has no test_accuracy: {sorted(s)}")
    require(0.0 <= float(s["test_accuracy"]) <= 1.0, f"test_accuracy {s['test_accuracy']} outside [0, 1]")
    for name in ("dev_accuracy", "dev_loss"):
        require(name in evals and len(evals[name]) >= 2 and np.all(np.isfinite(evals[name])),
                f"/eval/{name}: missing or not finite at every evaluation ({sorted(evals)})")
    first, last = float(np.mean(losses[:10])), float(np.mean(losses[-10:]))
    require(last < first - args.min_decrease,
            f"mean training loss of the first 10 steps {first:.4f}, of the last 10 {last:.4f}: not lower by {args.min_decrease}")
    dev_loss = evals["dev_loss"]
    require(dev_loss[-1] < dev_loss[0], f"dev loss {dev_loss[0]:.4f} before training, {dev_loss[-1]:.4f} after")
    print(f"custom task: training loss {first:.4f} -> {last:.4f}, dev loss {dev_loss[0]:.4f} -> {dev_loss[-1]:.4f}, "
          f"test accuracy {float(s['test_accuracy']):.4f}")
    s, evals, losses = custom_task_run(args, "custom_f1", {"task.loss": "candidates", "task.metric": "f1",
                                                            "eval.select": "metric"})
    require(s.get("status") == "completed", f"candidates + f1: /summary status {s.get('status')!r}")
    require("test_f1" in s and "dev_f1" in evals, f"candidates + f1: no test_f1 / dev_f1 ({sorted(s)}, {sorted(evals)})")
    require(np.all(np.isfinite(losses)) and abs(float(losses[0]) - np.log(2.0)) < 0.3,
            f"candidates: the first step's loss {losses[0]} is not a two-way cross-entropy near ln 2")
    print(f"candidates + f1: test f1 {float(s['test_f1']):.4f}, best dev f1 {float(s['best_dev_f1']):.4f}")


# ---------------------------------------------------------------------------------------
# bad input


def failed_run(args, run_file, log_path, ranks=1):
    """Runs a run file that must fail and returns its error message, after checking the exit
    code and that the log is a readable zotune log with status 'failed: <message>'."""
    if os.path.exists(log_path):
        os.remove(log_path)  # a log from an earlier ctest run would pass for this run's
    done = run_zotune(args, ["train", run_file], ranks)
    require(done.returncode == 1, f"exit code {done.returncode}, expected 1 (a zotune::Error)")
    require("zotune: error: " in done.stderr, "stderr has no 'zotune: error: ' line")
    with open_log(log_path) as log:
        s = summary(log)
        config_text = text(log["config"][()])
    require(str(s.get("status", "")).startswith("failed: "), f"{log_path}: /summary status {s.get('status')!r}")
    message = s["status"][len("failed: "):]
    require(message in done.stderr, f"{log_path}: the logged failure {message!r} is not the printed error")
    # A run file that parses is logged resolved (bases merged, paths absolute); one that does not, verbatim.
    resolved = run_zotune(args, ["config", run_file, "--resolved"], 1)
    expected = resolved.stdout if resolved.returncode == 0 else open(run_file, encoding="utf-8").read()
    require(config_text == expected, f"{log_path}: /config is neither the resolved run file nor its text")
    return message


def check_malformed_run_file(args):
    stem = os.path.splitext(os.path.basename(args.run_file))[0]
    done = run_zotune(args, ["train", args.run_file])
    require(done.returncode == 1, f"exit code {done.returncode}, expected 1 (a zotune::Error)")
    errors = [line[len("zotune: error: "):] for line in done.stderr.splitlines() if line.startswith("zotune: error: ")]
    require(errors, "stderr has no 'zotune: error: ' line")
    message = errors[0]
    where = f"{args.run_file}:{args.line}:"
    require(message.startswith(where), f"the error {message!r} does not start with {where!r} (file and line)")
    require(args.expect in message, f"the error {message!r} does not say {args.expect!r}")
    # A run file that does not parse is no run: no log (which would block the corrected rerun).
    require(not os.path.exists(os.path.join(args.work, "runs", stem + ".h5")), f"runs/{stem}.h5 was written")
    print(f"exit code 1, no log written: {message}")


def check_missing_model(args):
    stem = os.path.splitext(os.path.basename(args.run_file))[0]
    model = model_path_of(args.run_file)
    require(not os.path.exists(resolved_model_path(args.run_file, args.repo)), f"{model} exists: the test needs it absent")
    message = failed_run(args, args.run_file, os.path.join(args.work, "runs", stem + ".h5"))
    require(model in message, f"the error {message!r} does not name the model path {model!r}")
    print(f"exit code 1, runs/{stem}.h5 status 'failed: {message}'")


def check_refused_run(args):
    """A run file made invalid by --set (a value the run cannot start with, found only once it
    knows its ranks): the error must say --expect, the log at run.output must say failed."""
    settings = {"model.path": resolved_model_path(args.run_file, args.repo), "run.output": "runs/refused.h5"}
    settings.update(item.split("=", 1) for item in args.set)
    run_file = run_file_variant(args.run_file, os.path.join(args.work, "refused.yaml"), settings)
    message = failed_run(args, run_file, os.path.join(args.work, "runs/refused.h5"), args.ranks)
    require(args.expect in message, f"the error {message!r} does not say {args.expect!r}")
    print(f"exit code 1 under {args.ranks} rank(s), runs/refused.h5 status 'failed: {message}'")


def check_nan_loss(args):
    run_file = run_file_variant(args.run_file, os.path.join(args.work, "nan_loss.yaml"),
                                {"model.path": resolved_model_path(args.run_file, args.repo), "run.output": "runs/nan_loss.h5"})
    log_path = os.path.join(args.work, "runs/nan_loss.h5")
    # Under MPI, 2 ranks: every rank sees the non-finite loss after the all-reduce and fails
    # alike, and the log of rank 0 must still be complete.
    ranks = 2 if args.mpiexec else 1
    message = failed_run(args, run_file, log_path, ranks)
    named = re.search(r"step (\d+): the loss of probe (\d+) \(group \d+\) is ([-+a-z0-9.e]+)", message)
    require(named, f"the error {message!r} does not name a step and a probe")
    failed_step, value = int(named.group(1)), float(named.group(3))
    require(not np.isfinite(value), f"the error reports a finite loss {value}")
    require(failed_step >= 2, f"the run failed at step {failed_step}: the check needs several logged steps before the failure")
    with open_log(log_path) as log:
        steps = log["steps"]
        logged = steps["step"][()]
        losses = steps["loss"][: len(logged)]
        probe_rows = vectors(steps, "probe_losses")
        updates = log["updates"]["step"][()]
    require(np.array_equal(logged, np.arange(failed_step)),
            f"/steps/step is {logged.tolist()}, expected every step before the failed step {failed_step}")
    require(np.all(np.isfinite(losses)) and all(np.all(np.isfinite(p)) and len(p) > 0 for p in probe_rows),
            "a logged step before the failure has a non-finite or missing loss")
    require(len(updates) > 0 and set(updates.tolist()) <= set(range(failed_step)),
            f"/updates steps {sorted(set(updates.tolist()))} are not within the {failed_step} logged steps")
    print(f"stopped at step {failed_step} (probe {named.group(2)}: {named.group(3)}); the log keeps steps 0..{failed_step - 1}")


# ---------------------------------------------------------------------------------------
# Resume, signals and a hung rank (issue 17)

# zotune train's exit codes (core/util/stop_signals.h): stopped by a signal at a step boundary,
# and a rank that did not answer within distributed.timeout_s.
EXIT_INTERRUPTED = 75
EXIT_COLLECTIVE_TIMEOUT = 76
# Series and summary keys that differ between an uninterrupted run and a resumed one by nature.
RESUME_SUMMARY_SKIP = {"seconds", "status", "first_started_utc", "resumed_at_steps"}


def launcher_for_signals(args, ranks):
    """Open MPI 4.1's mpirun sends SIGTERM to the ranks on SIGTERM or SIGINT and SIGKILLs them
    odls_base_sigkill_timeout (1 s) later: the tiny model's steps end well within it. (A larger
    timeout delays the SIGTERM itself: the ranks would only be killed.) SIGUSR1 is forwarded as
    it is, without a kill."""
    return mpi_launcher(args, ranks) if args.mpiexec and ranks > 1 else []


def start_zotune(args, argv, ranks):
    command = launcher_for_signals(args, ranks) + [args.zotune, *argv]
    print("$", " ".join(command), "(in the background)", flush=True)
    return subprocess.Popen(command, cwd=args.work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def logged_steps(path):
    """Rows of /steps the run has flushed so far (0 while the log is not there or mid-write)."""
    try:
        with h5py.File(path, "r", locking=False) as f:
            return len(f["steps/step"])
    except Exception:  # not created yet, or caught in a flush: ask again
        return 0


def wait_for_steps(process, log_path, steps, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise CheckFailed(f"the run ended (exit {process.returncode}) before {steps} steps were logged:\n"
                              + process.stdout.read())
        if logged_steps(log_path) >= steps:
            return
        time.sleep(0.005)
    raise CheckFailed(f"{log_path}: {steps} steps not logged within {timeout} s")


def finish(process, timeout=120):
    out, _ = process.communicate(timeout=timeout)
    sys.stdout.write(out)
    return out


def run_variant(args, name, settings):
    base = {"model.path": resolved_model_path(args.run_file, args.repo), "run.output": f"runs/{name}.h5",
            "run.progress": "off"}
    base.update(settings)
    base.update(item.split("=", 1) for item in getattr(args, "set", []))
    return run_file_variant(args.run_file, os.path.join(args.work, f"{name}.yaml"), base), os.path.join(args.work, f"runs/{name}.h5")


def log_contents(path):
    with open_log(path) as log:
        return {
            "steps": {n: v for n, v in datasets(log["steps"]).items() if n.split(".")[0] not in MEASURED_SERIES},
            "updates": datasets(log["updates"]),
            "eval": datasets(log["eval"]),
            "summary": summary(log),
        }


def require_same_run(reference, resumed, what):
    """Every /steps (but the measured), /updates and /eval series bit-identical, and the summary."""
    for group in ("steps", "updates", "eval"):
        require(sorted(reference[group]) == sorted(resumed[group]),
                f"{what}: /{group} datasets differ: {sorted(reference[group])} vs {sorted(resumed[group])}")
        for name in sorted(reference[group]):
            a, b = reference[group][name], resumed[group][name]
            require(same_array(a, b), f"{what}: /{group}/{name} differs from the uninterrupted run: {first_difference(a, b)}")
    for key, value in reference["summary"].items():
        if key in RESUME_SUMMARY_SKIP:
            continue
        require(resumed["summary"].get(key) == value,
                f"{what}: /summary {key}: uninterrupted {value!r}, resumed {resumed['summary'].get(key)!r}")
    require(resumed["summary"].get("status") == "completed", f"{what}: status {resumed['summary'].get('status')!r}")


def stop_with_signals(args, name, ranks, signals, at_step, settings):
    """Starts a run, sends `signals` (one after the other, at once) when `at_step` steps are
    logged, and returns (exit code, output, log path)."""
    run_file, log_path = run_variant(args, name, settings)
    process = start_zotune(args, ["train", "--overwrite", run_file], ranks)
    try:
        wait_for_steps(process, log_path, at_step)
        for sig in signals:
            process.send_signal(sig)
        out = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, out, run_file, log_path


def check_kill_resume(args):
    steps = args.steps
    settings = {"run.steps": str(steps), "run.flush_every": "5"}
    full_file, full_log = run_variant(args, "full", settings)
    done = train(args, full_file, args.ranks)
    reference = log_contents(full_log)
    printed = re.search(r"parameter checksum ([0-9a-f]{16})", done.stdout).group(1)
    require(reference["summary"]["final_checksum"] == printed, "the uninterrupted run's printed checksum is not its log's")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    # The signal comes in the first third: mpirun forwards it to the ranks after a delay that a
    # loaded machine stretches (0.8 s was seen on 2 busy cores), and a signal that lands after
    # the last step's vote lets the run complete; two thirds of the run is ample margin.
    at = random.Random(seed).randrange(steps // 10 + 1, steps // 3)
    sig = getattr(signal, args.signal)
    print(f"{args.signal} once step {at} of {steps} is logged (random seed {seed}; --seed {seed} repeats it)")
    code, out, cut_file, cut_log = stop_with_signals(args, "cut", args.ranks, [sig], at, settings)
    # One rank: zotune's own exit code. Under mpirun, SIGTERM and SIGINT make mpirun end the job
    # (its exit code 1) after forwarding SIGTERM; SIGUSR1 is forwarded and the ranks' code comes back.
    expected = EXIT_INTERRUPTED if args.ranks == 1 or sig == signal.SIGUSR1 else None
    require(expected is None or code == expected, f"exit code {code} after {args.signal}, expected {expected}")
    with open_log(cut_log) as log:
        status = summary(log).get("status", "")
        cut_steps = len(log["steps/step"])
    forwarded = "SIGTERM" if args.ranks > 1 and sig == signal.SIGINT else args.signal
    m = re.fullmatch(rf"interrupted: {forwarded} at step (\d+)", status)
    require(m, f"{cut_log}: status {status!r}, expected 'interrupted: {forwarded} at step N'")
    stopped = int(m.group(1))
    require(at <= stopped < steps and cut_steps == stopped,
            f"stopped at step {stopped} with {cut_steps} steps logged; the signal came at step {at} of {steps}")
    resumed = run_zotune(args, ["train", cut_file, "--resume"], args.ranks)
    require(resumed.returncode == 0, f"zotune train --resume exited {resumed.returncode}")
    resumed_checksum = re.search(r"parameter checksum ([0-9a-f]{16})", resumed.stdout)
    require(resumed_checksum and resumed_checksum.group(1) == printed,
            f"resumed checksum {resumed_checksum and resumed_checksum.group(1)}, uninterrupted {printed}")
    contents = log_contents(cut_log)
    require_same_run(reference, contents, f"resumed at step {stopped}")
    require(contents["summary"].get("resumed_at_steps") == str(stopped),
            f"/summary resumed_at_steps {contents['summary'].get('resumed_at_steps')!r}, expected {stopped!r}")
    print(f"{args.ranks} rank(s): {args.signal} at step {stopped}, resumed: checksum {printed} and every /steps, /updates, "
          f"/eval series identical to the uninterrupted run's ({len(reference['steps'])} /steps datasets)")


def check_resume_refused(args):
    run_file, log_path = run_variant(args, "refused", {"run.steps": "20"})
    missing = run_zotune(args, ["train", run_file, "--resume"])
    require(missing.returncode == 1 and "no run log to resume" in missing.stderr and log_path in missing.stderr,
            "--resume without a log: not refused naming the log")
    require(not os.path.exists(log_path), "--resume without a log wrote one")
    train(args, run_file)
    before = os.path.getmtime(log_path)
    nothing = run_zotune(args, ["train", run_file, "--resume"])
    require(nothing.returncode == 0 and "nothing to resume" in nothing.stdout, "--resume of a completed log did not say "
            "there is nothing to do")
    # An interrupted log with another configuration: refused, naming the key; the log untouched.
    with h5py.File(log_path, "r+") as f:
        f["summary"].attrs["status"] = "interrupted: SIGTERM at step 20"
    changed = run_zotune(args, ["train", run_file, "--resume", "optimizer.lr=0.5"])
    require(changed.returncode == 1 and "optimizer.lr: the log has" in changed.stderr,
            "--resume with another optimizer.lr was not refused naming optimizer.lr")
    require(os.path.getmtime(log_path) == before or summary_status_of(log_path).startswith("interrupted"),
            "the refused resume changed the log")
    cosmetic = run_zotune(args, ["train", run_file, "--resume", "run.log_every=3"])
    require(cosmetic.returncode == 0, "--resume refused a change of run.log_every, which does not change the run")
    print("--resume: a missing log named, a completed log has nothing to do, another optimizer.lr refused naming the key")


def summary_status_of(path):
    with open_log(path) as log:
        return summary(log).get("status", "")


def check_stop_signals(args):
    steps = args.steps
    settings = {"run.steps": str(steps), "run.flush_every": "5"}
    for name in ("SIGTERM", "SIGINT", "SIGUSR1"):
        started = time.time()
        code, out, _, log_path = stop_with_signals(args, name.lower(), 1, [getattr(signal, name)], 20, settings)
        require(code == EXIT_INTERRUPTED, f"{name}: exit code {code}, expected {EXIT_INTERRUPTED}")
        status = summary_status_of(log_path)
        m = re.fullmatch(rf"interrupted: {name} at step (\d+)", status)
        require(m, f"{name}: status {status!r}")
        with open_log(log_path) as log:
            require(len(log["steps/step"]) == int(m.group(1)), f"{name}: {len(log['steps/step'])} steps logged, status says "
                    f"{m.group(1)}")
        require(f"interrupted: {name} at step" in out, f"{name}: the message does not say so")
        print(f"{name}: exit {code}, status {status!r}, in {time.time() - started:.1f} s")
    # A second signal: out at once (128 + its number), the log readable as of its last flush.
    full_file, full_log = run_variant(args, "full", settings)
    done = train(args, full_file)
    printed = re.search(r"parameter checksum ([0-9a-f]{16})", done.stdout).group(1)
    code, out, cut_file, cut_log = stop_with_signals(args, "twice", 1, [signal.SIGTERM, signal.SIGINT], 20, settings)
    # Both pending at once, the kernel delivers the lower-numbered first: the other one exits.
    require(code in (128 + signal.SIGINT, 128 + signal.SIGTERM),
            f"two signals: exit code {code}, expected 128 + SIGINT or 128 + SIGTERM")
    with open_log(cut_log) as log:
        kept = len(log["steps/step"])
        status = summary(log).get("status")
    require(kept >= 20 and kept % 5 == 0, f"two signals: {kept} steps in the log (flushed every 5)")
    print(f"two signals: exit {code} at once, log readable with {kept} steps, status {status!r}")
    # What the flushes kept is enough: resuming it ends on the uninterrupted checksum.
    resumed = run_zotune(args, ["train", cut_file, "--resume"])
    require(resumed.returncode == 0 and f"parameter checksum {printed}" in resumed.stdout,
            "resuming the log of a run stopped by two signals did not end on the uninterrupted checksum")
    require_same_run(log_contents(full_log), log_contents(cut_log), "resumed after two signals")
    print(f"resumed after two signals: checksum {printed} as uninterrupted")


def rank_pid(parent_pid, rank):
    """The pid of a rank started by mpirun (its OMPI_COMM_WORLD_RANK), searched under `parent_pid`."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != parent_pid:
                continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
            if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
                return int(entry)
        except (OSError, IndexError, ValueError):
            continue
    return None


def check_hung_rank(args):
    timeout_s = 3
    run_file, log_path = run_variant(args, "hung", {"run.steps": str(args.steps), "run.flush_every": "5",
                                                    "distributed.timeout_s": str(timeout_s)})
    command = mpi_launcher(args, 2) + [args.zotune, "train", "--overwrite", run_file]
    print("$", " ".join(command), "(rank 1 is stopped half way)", flush=True)
    process = subprocess.Popen(command, cwd=args.work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stopped_pid = None
    try:
        wait_for_steps(process, log_path, 20)
        stopped_pid = rank_pid(process.pid, 1)
        require(stopped_pid, "rank 1's process was not found under mpirun")
        os.kill(stopped_pid, signal.SIGSTOP)
        stopped_at = time.time()
        out = finish(process, timeout=timeout_s + 60)
        took = time.time() - stopped_at
    finally:
        if stopped_pid:
            try:
                os.kill(stopped_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if process.poll() is None:
            process.kill()
    require(process.returncode == EXIT_COLLECTIVE_TIMEOUT,
            f"exit code {process.returncode}, expected {EXIT_COLLECTIVE_TIMEOUT}")
    m = re.search(r"distributed.timeout_s: step (\d+): rank 0 waited [0-9.]+ s for .*: rank 1 did not answer", out)
    require(m, "no message naming the step and rank 1 as the rank that did not answer")
    require(took < timeout_s + 20, f"the job took {took:.1f} s to stop after rank 1 was stopped (timeout {timeout_s} s)")
    status = summary_status_of(log_path)
    require(status.startswith("failed: distributed.timeout_s: step ") and "rank 1 did not answer" in status,
            f"{log_path}: status {status!r}")
    print(f"rank 1 stopped: the job ended in {took:.1f} s (timeout {timeout_s} s), exit {process.returncode}, "
          f"status {status!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--zotune", required=True, help="the zotune executable")
    common.add_argument("--repo", required=True, help="the source tree (run files name models relative to it)")
    common.add_argument("--work", required=True, help="a folder of the build tree for run files and logs (made empty)")
    common.add_argument("--run-file", required=True, help="the run file (tests/train/*.yaml)")
    common.add_argument("--mpiexec", default="", help="MPIEXEC_EXECUTABLE; empty: run zotune directly")
    common.add_argument("--numproc-flag", default="-np", help="MPIEXEC_NUMPROC_FLAG")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("rank-invariance", parents=[common])
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--tensor-passes", action="store_true",
                   help="the optimizer updates through tensor passes and logs no /updates rows")
    p.add_argument("--data-parallel", type=int, default=0, help="distributed.data_parallel (0: as the run file says)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="run file setting (dotted key)")
    p.add_argument("--varying", action="append", default=[], metavar="SERIES",
                   help="a /steps series that must take more than one value (a schedule the run exercises)")
    p.set_defaults(check=check_rank_invariance)
    sub.add_parser("exchange-size", parents=[common]).set_defaults(check=check_exchange_size)
    p = sub.add_parser("learning", parents=[common])
    p.add_argument("--min-decrease", type=float, default=0.1, help="how much lower the final loss must be")
    p.set_defaults(check=check_learning)
    p = sub.add_parser("custom-task", parents=[common])
    p.add_argument("--min-decrease", type=float, default=0.5, help="how much lower the last steps' mean loss must be")
    p.set_defaults(check=check_custom_task)
    p = sub.add_parser("malformed-run-file", parents=[common])
    p.add_argument("--line", type=int, required=True, help="the line the error must name")
    p.add_argument("--expect", required=True, help="text the error must contain")
    p.set_defaults(check=check_malformed_run_file)
    sub.add_parser("missing-model", parents=[common]).set_defaults(check=check_missing_model)
    p = sub.add_parser("refused-run", parents=[common])
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="run file setting (dotted key)")
    p.add_argument("--ranks", type=int, default=1)
    p.add_argument("--expect", required=True, help="text the error must contain")
    p.set_defaults(check=check_refused_run)
    sub.add_parser("nan-loss", parents=[common]).set_defaults(check=check_nan_loss)
    p = sub.add_parser("kill-resume", parents=[common])
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--signal", default="SIGTERM", choices=["SIGTERM", "SIGINT", "SIGUSR1"])
    p.add_argument("--seed", type=int, default=None, help="seeds the step of the signal (default: random, printed)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="run file setting (dotted key)")
    p.set_defaults(check=check_kill_resume)
    sub.add_parser("resume-refused", parents=[common]).set_defaults(check=check_resume_refused)
    p = sub.add_parser("stop-signals", parents=[common])
    p.add_argument("--steps", type=int, default=3000)
    p.set_defaults(check=check_stop_signals)
    p = sub.add_parser("hung-rank", parents=[common])
    p.add_argument("--steps", type=int, default=100000)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="run file setting (dotted key)")
    p.set_defaults(check=check_hung_rank)
    args = parser.parse_args()

    args.run_file = os.path.abspath(args.run_file)
    args.repo = os.path.abspath(args.repo)
    args.zotune = os.path.abspath(args.zotune)
    args.work = os.path.abspath(args.work)
    # --work is emptied first (a stale log must not pass for this run's), but only a folder
    # this script made, or an empty one: a mistaken --work must not wipe a source folder.
    marker = os.path.join(args.work, ".check_train_runs")
    os.makedirs(args.work, exist_ok=True)
    if os.listdir(args.work) and not os.path.exists(marker):
        print(f"check_train_runs.py: --work {args.work} is a folder this script did not make; not emptying it", file=sys.stderr)
        return 2
    for entry in os.scandir(args.work):
        shutil.rmtree(entry.path) if entry.is_dir(follow_symlinks=False) else os.remove(entry.path)
    open(marker, "w").close()
    try:
        args.check(args)
    except (CheckFailed, subprocess.TimeoutExpired) as e:
        print(f"FAILED ({args.command}): {e}", file=sys.stderr)
        return 1
    print(f"passed ({args.command})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
