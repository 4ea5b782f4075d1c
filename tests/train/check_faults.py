#!/usr/bin/env python3
"""End-to-end fault checks of `zotune train` and `zotune replay` (issue 17), one subcommand
per finding, each run by CTest (tests/CMakeLists.txt, train.fault_*) and exiting non-zero when
the property fails (77: cannot run here, with the reason):

  diverged          lr 1e6 on the tiny model: exit 1, status 'failed: diverged at step N (loss
                    X > 100 x initial Y)', every step up to N logged, on 1 and 2 ranks;
                    run.divergence_factor=0 turns the guard off
  nan-weights       a copy of the tiny model with one NaN weight: the error names the tensor
                    ("the model's weights hold NaN/Inf"), not the learning rate
  disk-full         the log on a tmpfs of a few KB (mounted here; root): exit 1 with an error
                    naming the file and ENOSPC, no crash at exit; on a size where the first
                    flushes fit, the log stays readable with the rows of its last good flush
  stray-log         a run file that does not parse writes no log, so its corrected rerun
                    starts; a run that failed before its first step (missing model) leaves a
                    failed log that the corrected rerun replaces without --overwrite, while a
                    failed log with steps is kept
  head-only-replay  a head-only run on an encoder checkpoint without a head (a fixture written
                    here: BERT, head size 3): zotune replay rebuilds the fresh head and matches
                    the final checksum; zotune eval --weights scores the replayed weights

Every run writes into --work (a folder of the build tree). Needs h5py and numpy.
"""
import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_train_runs import (CheckFailed, mpi_launcher, open_log, require, run_file_variant,  # noqa: E402
                              summary, text)

SKIP = 77


class CannotRun(Exception):
    pass


def run_zotune(args, argv, ranks=1, timeout=300, env=None):
    command = mpi_launcher(args, ranks) + [args.zotune, *argv]
    print("$", " ".join(command), flush=True)
    done = subprocess.run(command, cwd=args.work, capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else {**os.environ, **env})
    sys.stdout.write(done.stdout)
    sys.stdout.write(done.stderr)
    return done


def require_clean_failure(done, what):
    """Exit code 1 (a zotune::Error), not a signal: a crash reads as a negative return code."""
    require(done.returncode >= 0, f"{what}: zotune died of signal {-done.returncode}")
    require("Process received signal" not in done.stderr and "Segmentation" not in done.stderr,
            f"{what}: zotune crashed (stderr reports a signal)")
    require(done.returncode == 1, f"{what}: exit code {done.returncode}, expected 1")
    require("zotune: error: " in done.stderr, f"{what}: stderr has no 'zotune: error: ' line")


def tiny_dir(args):
    return os.path.join(args.repo, "tests", "fixtures", "train", "tiny_lm")


def tiny_run(args):
    return os.path.join(args.repo, "experiments", "runs", "tiny_mezo.yaml")


def read_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        require(info["dtype"] == "F32", f"{path}: {name} is {info['dtype']}, the test writes F32 only")
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + begin:8 + n + end], dtype="<f4").reshape(info["shape"]).copy()
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))


# ---------------------------------------------------------------------------------------
# diverged


def check_diverged(args):
    for ranks in ([1, 2] if args.mpiexec else [1]):
        log_path = os.path.join(args.work, f"runs/diverged_{ranks}.h5")
        run_file = run_file_variant(tiny_run(args), os.path.join(args.work, f"diverged_{ranks}.yaml"),
                                    {"model.path": tiny_dir(args), "run.output": log_path, "run.steps": 200,
                                     "run.progress": "off", "optimizer.lr": "1e6"})
        done = run_zotune(args, ["train", run_file], ranks)
        require_clean_failure(done, f"lr 1e6 on {ranks} rank(s)")
        named = re.search(r"diverged at step (\d+) \(loss ([-+0-9.e]+) > 100 x initial ([-+0-9.e]+)\)", done.stderr)
        require(named, "the error does not say 'diverged at step N (loss X > 100 x initial Y)'")
        step, loss, initial = int(named.group(1)), float(named.group(2)), float(named.group(3))
        with open_log(log_path) as log:
            status = summary(log)["status"]
            steps = log["steps"]["step"][()]
            losses = log["steps"]["loss"][: len(steps)]
        require(status.startswith(f"failed: diverged at step {step} (loss "), f"{log_path}: status {status!r}")
        require(np.array_equal(steps, np.arange(step + 1)), f"/steps/step is {steps.tolist()}, expected 0..{step}")
        require(np.isclose(losses[0], initial, rtol=1e-5) and np.isclose(losses[step], loss, rtol=1e-5),
                f"the logged losses {losses[0]}, {losses[step]} are not the error's {initial}, {loss}")
        require(losses[step] > 100 * losses[0] and np.all(losses[1:step] <= 100 * losses[0]),
                "the run did not stop at the first loss above 100 x the initial one")
        print(f"{ranks} rank(s): stopped at step {step}, loss {loss:g} > 100 x {initial:g}; {step + 1} steps logged")
    # 0 = off: the same run is not stopped for diverging (it may still end on a non-finite loss).
    off = run_file_variant(tiny_run(args), os.path.join(args.work, "diverged_off.yaml"),
                           {"model.path": tiny_dir(args), "run.output": "runs/diverged_off.h5", "run.steps": 20,
                            "run.progress": "off", "optimizer.lr": "1e6", "run.divergence_factor": 0})
    done = run_zotune(args, ["train", off])
    require("diverged at step" not in done.stderr, "run.divergence_factor=0 still stopped the run for diverging")
    print(f"run.divergence_factor=0: not stopped for diverging (exit code {done.returncode})")


# ---------------------------------------------------------------------------------------
# nan-weights


def check_nan_weights(args):
    model = os.path.join(args.work, "tiny_nan")
    shutil.copytree(tiny_dir(args), model)
    tensors = read_safetensors(os.path.join(model, "model.safetensors"))
    bad = "model.layers.1.mlp.up_proj.weight"
    tensors[bad].reshape(-1)[7] = np.nan
    write_safetensors(os.path.join(model, "model.safetensors"), tensors)
    run_file = run_file_variant(tiny_run(args), os.path.join(args.work, "nan_weights.yaml"),
                                {"model.path": model, "run.output": "runs/nan_weights.h5", "run.steps": 5, "run.progress": "off"})
    done = run_zotune(args, ["train", run_file])
    require_clean_failure(done, "NaN weights")
    expected = f"the model's weights hold NaN/Inf (tensor {bad}, element 7 is nan)"
    require(expected in done.stderr, f"the error does not say {expected!r}")
    require("lower the learning rate" not in done.stderr, "the error still blames the learning rate")
    with open_log(os.path.join(args.work, "runs/nan_weights.h5")) as log:
        status = summary(log)["status"]
    require(expected in status, f"the log's status {status!r} does not name the tensor")
    print(f"refused: {expected}")


# ---------------------------------------------------------------------------------------
# disk-full


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], capture_output=True, text=True)
    if done.returncode != 0:
        raise CannotRun(f"cannot mount a {size} tmpfs at {path} (root needed): {done.stderr.strip()}")


def umount(path):
    subprocess.run(["umount", path], capture_output=True)


def check_disk_full(args):
    fs = os.path.join(args.work, "small_fs")
    umount(fs)
    # 16k: the log cannot even be created; 400k: it is created and its flushes fit until the
    # rows cross a chunk boundary (1024 rows: every series opens a new 8 KB chunk).
    for size, steps_expected in (("16k", False), ("400k", True)):
        mount_tmpfs(fs, size)
        try:
            log_path = os.path.join(fs, "run.h5")
            run_file = run_file_variant(tiny_run(args), os.path.join(args.work, f"disk_full_{size}.yaml"),
                                        {"model.path": tiny_dir(args), "run.output": log_path, "run.steps": 1100,
                                         "run.flush_every": 20, "run.checksum_every": 0, "run.progress": "off"})
            done = run_zotune(args, ["train", run_file])
            require_clean_failure(done, f"a {size} filesystem")
            require(log_path in done.stderr and "No space left on device" in done.stderr,
                    f"{size}: the error does not name {log_path} and 'No space left on device'")
            if steps_expected:
                with open_log(log_path) as log:
                    status = summary(log).get("status")
                    rows = len(log["steps"]["step"])
                    losses = log["steps"]["loss"][:rows]
                require(rows > 0 and rows % 20 == 0 and np.all(np.isfinite(losses)),
                        f"{size}: the log kept {rows} steps, expected whole flushes of 20")
                require(rows >= 1000, f"{size}: the disk filled after {rows} steps: the space reserved per flush is far too generous")
                require(str(status).startswith("failed: ") and "No space left on device" in status, f"{size}: status {status!r}")
                print(f"{size}: exit 1 naming the file; the log opens with {rows} steps, status {status!r}")
            else:
                print(f"{size}: exit 1 naming the file, no crash")
        finally:
            umount(fs)


# ---------------------------------------------------------------------------------------
# stray-log


def check_stray_log(args):
    # 1. A run file that does not parse: no log at runs/<stem>.h5, and the fixed file then runs.
    broken = os.path.join(args.work, "broken.yaml")
    with open(broken, "w") as f:
        f.write(f"run:\n  steps: 3\n  progress: off\n  output: runs/fixed.h5\nmodel:\n  path: {tiny_dir(args)}\n"
                "task:\n  name: lm\n  texts: [\"a b c d e f\"]\noptimizer:\n  name: mezo\n     lr: 1e-3\n")
    done = run_zotune(args, ["train", broken])
    require_clean_failure(done, "a malformed run file")
    require("malformed YAML" in done.stderr, "the error does not say malformed YAML")
    for stray in ("runs/broken.h5", "runs/fixed.h5"):
        require(not os.path.exists(os.path.join(args.work, stray)), f"{stray} was written for a run file that does not parse")
    with open(broken, "w") as f:
        f.write(f"run:\n  steps: 3\n  progress: off\n  output: runs/fixed.h5\nmodel:\n  path: {tiny_dir(args)}\n"
                "task:\n  name: lm\n  texts: [\"a b c d e f\"]\noptimizer:\n  name: mezo\n  lr: 1e-3\n")
    done = run_zotune(args, ["train", broken])
    require(done.returncode == 0, f"the corrected run file exited {done.returncode}")
    print("malformed run file: no log written; the corrected rerun ran")

    # 2. A run that parses but cannot start: its failed log (no steps) gives way to the rerun.
    missing = run_file_variant(tiny_run(args), os.path.join(args.work, "unstartable.yaml"),
                               {"model.path": os.path.join(args.work, "no_such_model"), "run.output": "runs/unstartable.h5",
                                "run.steps": 3, "run.progress": "off"})
    log_path = os.path.join(args.work, "runs/unstartable.h5")
    require_clean_failure(run_zotune(args, ["train", missing]), "a missing model")
    with open_log(log_path) as log:
        require(summary(log)["status"].startswith("failed: "), "the unstartable run's log does not say failed")
    fixed = run_file_variant(tiny_run(args), missing, {"model.path": tiny_dir(args), "run.output": "runs/unstartable.h5",
                                                        "run.steps": 3, "run.progress": "off"})
    done = run_zotune(args, ["train", fixed])
    require(done.returncode == 0, f"the rerun after fixing the model path exited {done.returncode} (refused by its failed log?)")
    with open_log(log_path) as log:
        require(summary(log)["status"] == "completed" and len(log["steps"]["step"]) == 3, "the rerun did not replace the log")
    print("unstartable run: the failed log without steps was replaced by the corrected rerun")

    # 3. A failed log that holds steps is kept: only --overwrite (or --resume) replaces it.
    diverging = run_file_variant(tiny_run(args), os.path.join(args.work, "kept.yaml"),
                                 {"model.path": tiny_dir(args), "run.output": "runs/kept.h5", "run.steps": 50,
                                  "run.progress": "off", "optimizer.lr": "1e6"})
    require_clean_failure(run_zotune(args, ["train", diverging]), "the diverging run")
    done = run_zotune(args, ["train", diverging])
    require(done.returncode == 1 and "the run log exists" in done.stderr,
            "a failed log with logged steps was replaced without --overwrite")
    print("a failed log with steps is kept (the rerun is refused: the run log exists)")


# ---------------------------------------------------------------------------------------
# head-only-replay


def write_headless_encoder(args, dest, seed=5):
    """A BERT encoder without a head (architectures BertModel) using the tiny fixture's
    byte-level tokenizer (257 ids), hidden 12 in 4 heads of size 3, seeded random weights."""
    os.makedirs(dest, exist_ok=True)
    shutil.copy(os.path.join(tiny_dir(args), "tokenizer.json"), dest)
    vocab, hidden, inter, layers, positions = 257, 12, 24, 2, 64
    config = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": vocab, "hidden_size": hidden,
              "num_hidden_layers": layers, "num_attention_heads": 4, "intermediate_size": inter, "hidden_act": "gelu",
              "max_position_embeddings": positions, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 256}
    with open(os.path.join(dest, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    rng = np.random.default_rng(seed)
    t = {}
    e = "embeddings."
    t[e + "word_embeddings.weight"] = rng.standard_normal((vocab, hidden)) * 0.5
    t[e + "position_embeddings.weight"] = rng.standard_normal((positions, hidden)) * 0.1
    t[e + "token_type_embeddings.weight"] = rng.standard_normal((2, hidden)) * 0.1
    t[e + "LayerNorm.weight"], t[e + "LayerNorm.bias"] = np.ones(hidden), np.zeros(hidden)
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name, shape in ((p + "attention.self.query", (hidden, hidden)), (p + "attention.self.key", (hidden, hidden)),
                            (p + "attention.self.value", (hidden, hidden)), (p + "attention.output.dense", (hidden, hidden)),
                            (p + "intermediate.dense", (inter, hidden)), (p + "output.dense", (hidden, inter))):
            t[name + ".weight"] = rng.standard_normal(shape) / np.sqrt(shape[1])
            t[name + ".bias"] = np.zeros(shape[0])
        for norm in (p + "attention.output.LayerNorm", p + "output.LayerNorm"):
            t[norm + ".weight"], t[norm + ".bias"] = np.ones(hidden), np.zeros(hidden)
    write_safetensors(os.path.join(dest, "model.safetensors"), {k: np.asarray(v, dtype=np.float32) for k, v in t.items()})
    return dest


def check_head_only_replay(args):
    model = write_headless_encoder(args, os.path.join(args.work, "headless_bert"))
    reviews = os.path.join(args.repo, "experiments", "data", "movie_reviews")
    run_file = os.path.join(args.work, "head_only.yaml")
    with open(run_file, "w") as f:
        f.write(f"""run:
  seed: 4
  steps: 12
  progress: off
  output: runs/head_only.h5
model:
  path: {model}
task:
  name: sst2
  train: {reviews}/train.tsv
  test: {reviews}/test.tsv
  num_train: 32
  num_dev: 16
  num_test: 16
  max_length: 32
  template: head
trainable:
  mode: head
optimizer:
  name: bszo
  lr: 0.5
  eps: 1e-3
  k: 2
  m: 3
data:
  batch_size: 8
eval:
  every: 4
""")
    done = run_zotune(args, ["train", run_file])
    require(done.returncode == 0, f"the head-only run exited {done.returncode}")
    log_path = os.path.join(args.work, "runs/head_only.h5")
    with open_log(log_path) as log:
        final = text(summary(log)["final_checksum"])
    out = os.path.join(args.work, "replayed", "model.safetensors")
    done = run_zotune(args, ["replay", log_path, "--out", out])
    require(done.returncode == 0, f"zotune replay exited {done.returncode}")
    require(f"parameter checksum {final} matches the log's final_checksum" in done.stdout,
            f"the replay does not match the logged final checksum {final}")
    replayed = read_safetensors(out)
    require(any(name.startswith("classifier.") for name in replayed), "the replayed weights hold no classifier head")
    done = run_zotune(args, ["eval", run_file, "--weights", out, "--splits", "test"])
    require(done.returncode == 0, f"zotune eval --weights exited {done.returncode}")
    require(re.search(r"test +16 examples +loss [0-9.]+ +accuracy [0-9.]+", done.stdout), "zotune eval printed no test score")
    print(f"head-only run replayed to {final}; zotune eval --weights scored the replayed weights")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=["diverged", "nan-weights", "disk-full", "stray-log", "head-only-replay"])
    parser.add_argument("--zotune", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--work", required=True, help="a folder of the build tree (made empty)")
    parser.add_argument("--mpiexec", default="")
    parser.add_argument("--numproc-flag", default="-np")
    args = parser.parse_args()
    args.repo, args.zotune, args.work = map(os.path.abspath, (args.repo, args.zotune, args.work))
    marker = os.path.join(args.work, ".check_faults")
    os.makedirs(args.work, exist_ok=True)
    if os.listdir(args.work) and not os.path.exists(marker):
        print(f"check_faults.py: --work {args.work} is a folder this script did not make; not emptying it", file=sys.stderr)
        return 2
    umount(os.path.join(args.work, "small_fs"))
    for entry in os.scandir(args.work):
        shutil.rmtree(entry.path) if entry.is_dir(follow_symlinks=False) else os.remove(entry.path)
    open(marker, "w").close()
    checks = {"diverged": check_diverged, "nan-weights": check_nan_weights, "disk-full": check_disk_full,
              "stray-log": check_stray_log, "head-only-replay": check_head_only_replay}
    try:
        checks[args.check](args)
    except CannotRun as e:
        print(f"SKIPPED ({args.check}): {e}")
        return SKIP
    except (CheckFailed, subprocess.TimeoutExpired) as e:
        print(f"FAILED ({args.check}): {e}", file=sys.stderr)
        return 1
    print(f"passed ({args.check})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
