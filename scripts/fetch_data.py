#!/usr/bin/env python3
"""Fetch the benchmark task files into one folder laid out as zotune's tasks expect.

    python3 scripts/fetch_data.py DEST              # the pinned files below, checked by sha256
    python3 scripts/fetch_data.py DEST --official   # also the official full distributions
    python3 scripts/fetch_data.py --list            # what would be fetched, from where (no network)
    python3 scripts/fetch_data.py --verify DIR      # check a folder against the sha256 list (no network)

Then point a run at the folder: `task.data_dir: DEST` (every registered task finds its usual
files: SST-2/train.tsv, RTE/val.jsonl, ...), or name files with task.train / dev / test.

The default set is the one zotune's tests and docs/RESULTS.md used: real GLUE / SuperGLUE /
SST / TREC / SNLI files copied byte for byte from public GitHub repositories at pinned
commits (table SOURCES; raw.githubusercontent.com serves them). Each file is checked against
the sha256 of the copy the project's runs read, so a moved or changed upstream file is an
error, never a silent difference. What that set lacks (the full train sets of BoolQ, WiC,
WSC, MultiRC and ReCoRD, QNLI's and SNLI's train sets, MNLI, SQuAD, DROP, MR) comes from the
official distributions with --official (OFFICIAL: archives from the datasets' own hosts; no
checksums are pinned for them). The data keep their upstream licences (GLUE / SuperGLUE
cards; research use). Standard library only; needs internet, so no test runs it.
"""

import argparse
import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
import zipfile

# id: (GitHub owner/name, commit)
SOURCES = {
    "A": ("eyalbd2/Reproducing-AutoPrompt", "6288fb5bec9c572f2492875ae0111df5b6daed11"),
    "B": ("thunlp/DPT", "da6c9cda656993f9e512cfce253de089cc4ed2ca"),
    "C": ("tonyzhaozh/few-shot-learning", "e04d8643be91c2cce63f33e07760ff75d5aa3ad0"),
    "D": ("louisbzk/pet", "e29a6f0ef752b3d1f37b1d735585eeaef7a0477d"),
    "E": ("THUDM/P-tuning", "f4225d4d8003868b31ed659dfe9732a351ad42d9"),
    "F": ("jonny-vr/LLMCBench", "720be179c2492271f61d7a09291ffd003f36f47d"),
    "G": ("Deltaus/sBiMPM", "8f1b040cd1a4b5ef3515a14b2a401906a5b82bbf"),
}

# (destination, source id, path(s) in the source repository joined by " + " (concatenated in
# that order: COPA's 400 training examples are split over two files there), sha256, bytes).
# SST-2/train.tsv is GLUE's full 67,349-phrase train set (the repository's train_full.tsv);
# SNLI's two files are the 1,289- and 1,277-row prefixes that repository holds.
FILES = [
    ("BoolQ/fewglue/dev32.jsonl", "E", "FewGLUE_32dev/BoolQ/dev32.jsonl", "0af324b658a72fdd7767aa3c27c1dfafbc03e8e987a148b29e42a72d84b9f9e3", 21820),
    ("BoolQ/fewglue/train.jsonl", "E", "FewGLUE_32dev/BoolQ/train.jsonl", "317245ba0842129234a368274701dfc196139aa627eff44aefc827c6888935e1", 24840),
    ("BoolQ/val.jsonl", "E", "FewGLUE_32dev/BoolQ/val.jsonl", "0c86a5045886e5795fe9052003873f7d94b88ed3028a33007c51d99e44fd66d9", 2254565),
    ("CB/fewglue/dev32.jsonl", "E", "FewGLUE_32dev/CB/dev32.jsonl", "ec7e1bfe37a7ea4514fc2335bfa3b35be77bfe084aae2e7ca55f765aaee41337", 11703),
    ("CB/fewglue/train.jsonl", "E", "FewGLUE_32dev/CB/train.jsonl", "e6f446e5f117cbfbcd156d8221d163cc370924fa594a1d67f44a151ce5c171b2", 13510),
    ("CB/test.jsonl", "C", "data/cb/test.jsonl", "860679c4ef6f56758f5530bfbcbf2fd7905667184144f3594ace9bb4c435618d", 99881),
    ("CB/train.jsonl", "C", "data/cb/train.jsonl", "32017480d3a10508646e3efd64502c639f13d4d15077f278d2fd0992c33a3126", 99499),
    ("CB/val.jsonl", "C", "data/cb/val.jsonl", "c6125587e9601560cb16ea223c33964c5a915568d2af68a81f651b6ef25395ec", 24598),
    ("COPA/fewglue/dev32.jsonl", "E", "FewGLUE_32dev/COPA/dev32.jsonl", "eb43b015d061738467f284c60049ef0afcaf707ec8e528ab3c5c4285a5f5618a", 5874),
    ("COPA/fewglue/train.jsonl", "E", "FewGLUE_32dev/COPA/train.jsonl", "9955ae6e0ee109c96c00c0957d5873c0cb4ea9aced83b6a15b15258bb64b7dd5", 5818),
    ("COPA/test.jsonl", "D", "data/copa/test.jsonl", "7c7cd9fb3aa90bb56e0c683b6e556f6640d75388159fd6b551aa87e8a04c667e", 82735),
    ("COPA/train.jsonl", "D", "data/copa/train.jsonl + data/copa/unlabeled.jsonl", "e74ed25f36119fff954d90900ebbaae277e2cc4864be4b961e7a46c8f67d11a9", 72323),
    ("COPA/val.jsonl", "D", "data/copa/val.jsonl", "fa61467cc251010178ed72f8ca82a0fceefc4ca9a85f87ec3b6102955e1a1f1a", 18169),
    ("MultiRC/fewglue/dev32.jsonl", "E", "FewGLUE_32dev/MultiRC/dev32.jsonl", "3734d2cac8d1e8d13e2f5e13bec727be7576b45453e9fd765e2075e163f9653d", 65041),
    ("MultiRC/fewglue/train.jsonl", "E", "FewGLUE_32dev/MultiRC/train.jsonl", "e584db1b55f7da7c1e6a2d0a6b56eb6edcaff26e69393d628390e70c39ccb561", 64111),
    ("MultiRC/val.jsonl", "E", "FewGLUE_32dev/MultiRC/val.jsonl", "d2b480195b15574ac00d52c4479f630bc161a7ab2de77e970fd00652846953ee", 550086),
    ("QNLI/dev.tsv", "F", "data/QNLI/dev.tsv", "763e95932dd3578251de71582e06829015f9c3815a518c751dc537219b159de4", 1367333),
    ("QNLI/test.tsv", "F", "data/QNLI/test.tsv", "6d856264e292fa7a7bc7b8e182efa1454ffd9532733c12ad813017dd5b377a5a", 1300988),
    ("RTE/fewglue/dev32.jsonl", "E", "FewGLUE_32dev/RTE/dev32.jsonl", "a3ba6200d2f27691d927ab97d387292b045316956f877fbfccc9a4658af2b351", 14751),
    ("RTE/fewglue/train.jsonl", "E", "FewGLUE_32dev/RTE/train.jsonl", "91a83197e3a286a8bf102e483646f87cd8b1e4c9c5ccd893bc0b9dba0643d580", 12775),
    ("RTE/test.jsonl", "C", "data/rte/test.jsonl", "fb4025a8b072862f0323423dff1de8980a024bfb8775e09c80ff3cf1c77677b1", 1056063),
    ("RTE/train.jsonl", "C", "data/rte/train.jsonl", "fdfb03443abe3ec0424b7fc5d1a8863361719bc061338b7a63e56b94d615f201", 977550),
    ("RTE/val.jsonl", "C", "data/rte/val.jsonl", "ab990507bf5f35dc176cba7770a72bfa2c50a88ed72b8cc95cfbf9db95ab1af1", 104895),
    ("ReCoRD/fewglue/dev32.jsonl", "E", "FewGLUE_32dev/ReCoRD/dev32.jsonl", "c420c9c49ee310d8648e64893c72b8f69b94085d3207c303787c24409c438663", 60220),
    ("ReCoRD/fewglue/train.jsonl", "E", "FewGLUE_32dev/ReCoRD/train.jsonl", "22bbee303ffd8e2c29f36d253c14a1c3d072ceab18c31481cea8ba3ea28d89ca", 62448),
    ("SNLI/snli_1.0_dev.jsonl", "G", "snli_1.0/snli_1.0_dev.jsonl", "d28f65fc66b8943787b53ff1db0a8e69a9ca86ebafd1a140c741323402f3cf34", 1266726),
    ("SNLI/snli_1.0_test.jsonl", "G", "snli_1.0/snli_1.0_test.jsonl", "032b2d5720d402c7c521fb92363ba0d435839ad1bb822308ddec5b247be0482e", 1235489),
    ("SST-2/dev.tsv", "A", "glue_data/SST-2/dev.tsv", "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0", 94931),
    ("SST-2/lm-bff/dev.tsv", "B", "data/original/SST-2/dev.tsv", "628b5f860a1584f172b9c7b0323315531ced8bee0bc142a2187d9c97db27946d", 93985),
    ("SST-2/lm-bff/test.tsv", "B", "data/original/SST-2/test.tsv", "6a80dc9b9a0db2d3b37f2f809304febad31c90ab67a5b4157b7d9f881c53ef5b", 193562),
    ("SST-2/lm-bff/train.tsv", "B", "data/original/SST-2/train.tsv", "0e2eb9cad237f8bc597742bdc136d3382e4b030018f9120b84d9ae9144a2e4ed", 735994),
    ("SST-2/test.tsv", "A", "glue_data/SST-2/test.tsv", "69a938605609b3e6663b4487918fe1565eb293734e6e520d0366d1d412fd2a13", 197335),
    ("SST-2/train.tsv", "A", "glue_data/SST-2/train_full.tsv", "48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1", 3806081),
    ("SST-5/dev.tsv", "B", "data/original/sst-5/dev.tsv", "0330fcfa53fa2acf52e345040289249c4d706c8492c74e6ca4518e62bc5b04dd", 117239),
    ("SST-5/test.tsv", "B", "data/original/sst-5/test.tsv", "c5817993bc7760d5f49959a93b1bbad5c47cf014c061baa3e06425f4d91f4693", 233634),
    ("SST-5/train.tsv", "B", "data/original/sst-5/train.tsv", "3c70cffa87b8e6adc4ced657c7e1c031076ca7593872d372440973b9e047c692", 902818),
    ("TREC/test.csv", "B", "data/original/trec/test.csv", "163c5ab23c5c318d6fcad0dc7cb72e78fade69e696dff7e2c74e88cb564fc432", 19503),
    ("TREC/test.txt", "C", "data/trec/test.txt", "69b2d406aa15b3b514b6bf9b3bf1fa2c3515ce7ae744651173f8e57347bfb2a9", 23353),
    ("TREC/train.csv", "B", "data/original/trec/train.csv", "0c93aa8cf23f5a945f2a56d34d23ead6aa06221b5641637b9edfc557d849cc9d", 293197),
    ("TREC/train.txt", "C", "data/trec/train.txt", "202e3e1ad6143ed4f147f199324277e25b2573a78c08c3af1ff840b49c0779de", 335859),
    ("WSC/fewglue/dev32.jsonl", "E", "FewGLUE_32dev/WSC/dev32.jsonl", "2bbaca5c995778e7e14f389f1fe9a4be9a58d99e66db0d73d868ab66564b9da7", 8368),
    ("WSC/fewglue/train.jsonl", "E", "FewGLUE_32dev/WSC/train.jsonl", "e814e1a9a781c1e4b1ad98151f09f2e9326a3db51f9c52639cb0f8b1f428ad47", 7947),
    ("WSC/val.jsonl", "E", "FewGLUE_32dev/WSC/val.jsonl", "e5c685ea4bdc347354036a28176459f6feeb0b6870375ecfb3d6ddb1f0e28bef", 31167),
    ("WiC/fewglue/dev32.jsonl", "E", "FewGLUE_32dev/WiC/dev32.jsonl", "3df4ca565f109be9476caa51884ba13c5f2a33c939898cf80bb53e09fdc73062", 7328),
    ("WiC/fewglue/train.jsonl", "E", "FewGLUE_32dev/WiC/train.jsonl", "b82c0c3f79d2f19bdd3c894f90f9deff0ebff787822a99ff6420db733c2a88f0", 7477),
    ("WiC/val.jsonl", "E", "FewGLUE_32dev/WiC/val.jsonl", "9f7207c88beba42cbc139de4c62ce05b23bffc189b3d561594b160e0c3920c0b", 146302),
]

# The official distributions: (archive URL, {member in the archive: destination}). Where a
# destination is also in FILES (CB, COPA and RTE from SuperGLUE; SST-2 from GLUE) the official
# file is the same data; it is written only if the pinned file is absent.
SUPERGLUE = "https://dl.fbaipublicfiles.com/glue/superglue/data/v2/"
GLUE = "https://dl.fbaipublicfiles.com/glue/data/"
OFFICIAL = [
    *[(f"{SUPERGLUE}{task}.zip", {f"{task}/{split}.jsonl": f"{task}/{split}.jsonl" for split in ("train", "val", "test")})
      for task in ("BoolQ", "CB", "COPA", "MultiRC", "ReCoRD", "RTE", "WiC", "WSC")],
    (f"{GLUE}QNLIv2.zip", {"QNLI/train.tsv": "QNLI/train.tsv"}),
    (f"{GLUE}MNLI.zip", {f"MNLI/{name}": f"MNLI/{name}" for name in
                         ("train.tsv", "dev_matched.tsv", "dev_mismatched.tsv")}),
    ("https://nlp.stanford.edu/projects/snli/snli_1.0.zip",
     {"snli_1.0/snli_1.0_train.jsonl": "SNLI/full/snli_1.0_train.jsonl",
      "snli_1.0/snli_1.0_dev.jsonl": "SNLI/full/snli_1.0_dev.jsonl",
      "snli_1.0/snli_1.0_test.jsonl": "SNLI/full/snli_1.0_test.jsonl"}),
    ("https://rajpurkar.github.io/SQuAD-explorer/dataset/train-v1.1.json", {"": "SQuAD/train-v1.1.json"}),
    ("https://rajpurkar.github.io/SQuAD-explorer/dataset/dev-v1.1.json", {"": "SQuAD/dev-v1.1.json"}),
    ("https://s3-us-west-2.amazonaws.com/allennlp/datasets/drop/drop_dataset.zip",
     {"drop_dataset/drop_dataset_train.json": "DROP/drop_dataset_train.json",
      "drop_dataset/drop_dataset_dev.json": "DROP/drop_dataset_dev.json"}),
    # LM-BFF's data (download_dataset.sh): MR as label,sentence CSV.
    ("https://nlp.cs.princeton.edu/projects/lm-bff/datasets.tar",
     {"original/mr/train.csv": "MR/train.csv", "original/mr/test.csv": "MR/test.csv"}),
]


def raw_url(source, path):
    repo, commit = SOURCES[source]
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def download(url):
    request = urllib.request.Request(url, headers={"User-Agent": "zotune-fetch-data"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.read()
    except Exception as e:  # urllib raises several kinds; the message names the URL
        raise RuntimeError(f"{url}: download failed ({e})") from None


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_atomically(dest, data):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=".fetch-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, dest)


def fetch_pinned(root, force):
    failures = []
    for dest, source, paths, sha, size in FILES:
        target = os.path.join(root, dest)
        if not force and os.path.isfile(target) and sha256_of(target) == sha:
            print(f"  have  {dest}")
            continue
        try:
            data = b"".join(download(raw_url(source, p)) for p in paths.split(" + "))
            got = hashlib.sha256(data).hexdigest()
            if got != sha:
                raise RuntimeError(f"sha256 {got} ({len(data)} bytes), expected {sha} ({size} bytes): "
                                   f"the file at {SOURCES[source][0]}@{SOURCES[source][1][:12]} differs")
            write_atomically(target, data)
            print(f"  got   {dest}  ({size:,} bytes)")
        except RuntimeError as e:
            failures.append(f"{dest}: {e}")
            print(f"  FAILED {dest}: {e}", file=sys.stderr)
            if len(failures) == 3 and not any(os.path.isfile(os.path.join(root, d)) for d, *_ in FILES):
                failures.append("stopped after 3 failed downloads and none done (no internet here?)")
                break
    return failures


def fetch_official(root, force):
    failures = []
    pinned = {dest for dest, *_ in FILES}
    for url, members in OFFICIAL:
        todo = {m: d for m, d in members.items() if force and d not in pinned or not os.path.isfile(os.path.join(root, d))}
        if not todo:
            print(f"  have  {', '.join(members.values())}")
            continue
        try:
            data = download(url)
            if url.endswith(".zip"):
                archive = zipfile.ZipFile(io.BytesIO(data))
                read = archive.read
            elif url.endswith(".tar"):
                archive = tarfile.open(fileobj=io.BytesIO(data))
                read = lambda name: archive.extractfile(name).read()  # noqa: E731
            else:
                read = lambda name: data  # noqa: E731
            for member, dest in todo.items():
                try:
                    content = read(member)
                except KeyError:
                    raise RuntimeError(f"{url}: no member {member} in the archive") from None
                write_atomically(os.path.join(root, dest), content)
                print(f"  got   {dest}  ({len(content):,} bytes, from {url})")
        except RuntimeError as e:
            failures.append(str(e))
            print(f"  FAILED {e}", file=sys.stderr)
    return failures


def verify(root):
    """Every pinned file present under root with its sha256; returns the problems."""
    problems = []
    for dest, _, _, sha, _ in FILES:
        path = os.path.join(root, dest)
        if not os.path.isfile(path):
            problems.append(f"{dest}: missing")
        elif sha256_of(path) != sha:
            problems.append(f"{dest}: sha256 {sha256_of(path)}, expected {sha}")
    return problems


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("dest", nargs="?", help="folder to fill (created if needed)")
    p.add_argument("--official", action="store_true", help="also fetch the official full distributions (about 1 GB of archives)")
    p.add_argument("--force", action="store_true", help="download again files that are already there")
    p.add_argument("--list", action="store_true", help="print what would be fetched and from where; no network")
    p.add_argument("--verify", metavar="DIR", help="check DIR's files against the pinned sha256 list; no network")
    a = p.parse_args(argv)
    if a.list:
        for dest, source, paths, sha, size in FILES:
            urls = " + ".join(raw_url(source, path) for path in paths.split(" + "))
            print(f"{dest}\t{size}\t{sha}\t{urls}")
        for url, members in OFFICIAL:
            for member, dest in members.items():
                print(f"{dest}\t(official)\t\t{url}{'#' + member if member else ''}")
        return 0
    if a.verify:
        problems = verify(a.verify)
        for line in problems:
            print(f"{a.verify}: {line}", file=sys.stderr)
        print(f"{a.verify}: {len(FILES) - len(problems)} of {len(FILES)} pinned files present with their sha256")
        return 1 if problems else 0
    if not a.dest:
        p.error("give DEST (the folder to fill), or --list / --verify DIR")
    root = os.path.abspath(a.dest)
    print(f"fetching {len(FILES)} pinned files into {root}")
    failures = fetch_pinned(root, a.force)
    if a.official:
        print("fetching the official distributions")
        failures += fetch_official(root, a.force)
    if failures:
        print(f"{len(failures)} failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print(f"done: set task.data_dir: {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
