#!/usr/bin/env bash
# Fills .carry/ (ignored by git) with what the GPU machine lacks, in pieces a device call can carry
# (64 MiB a call with the ~11 MB working tree): the OpenBLAS Debian packages scripts/device_build.sh
# unpacks (.carry/debs, 13 MB), SmolLM2's GGUF in three parts (.carry/q1/part .. q3/part, 33 MB each;
# `cat` joins them, md5 a1231443440b107ff29f02bdb38c9d0a), all-MiniLM-L6-v2's folder as a .tar.xz in
# three parts (.carry/m1/part .. m3/part; for MODEL_REL=models/minilm.tar.xz of
# scripts/device_paper_grid.sh) and the task data (.carry/data.tar.xz, 3 MB, for DATA_TAR).
# One call per part: e.g. [".carry/debs", ".carry/q1", ".carry/data.tar.xz"] with the build, then
# [".carry/q2"], then [".carry/q3"], copying each to /tmp there while the machine stays warm.
#   bash scripts/device_carry.sh [DATA_DIR (default ../shared/data)]
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath "${1:-../shared/data}")
bash scripts/fetch_models.sh
rm -rf .carry/debs .carry/q? .carry/m? && mkdir -p .carry/debs
(cd .carry/debs && apt-get download libopenblas0-pthread libopenblas-pthread-dev libopenblas-dev libopenblas0 \
  libgfortran5 pkgconf pkgconf-bin libpkgconf3 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
parts() {  # FILE PREFIX: FILE in three parts, .carry/PREFIX1/part .. PREFIX3/part
  local tmp
  tmp=$(mktemp -d)
  split -n 3 -d "$1" "$tmp/p."
  for i in 1 2 3; do mkdir -p ".carry/$2$i" && mv "$tmp/p.0$((i - 1))" ".carry/$2$i/part"; done
  rmdir "$tmp"
}
parts models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf q
tar -cJf .carry/minilm.tar.xz -C models minilm-l6 && parts .carry/minilm.tar.xz m && rm .carry/minilm.tar.xz
tar -cJf .carry/data.tar.xz -C "$(dirname "$data")" "$(basename "$data")"
cat .carry/q?/part | md5sum
du -sh .carry/*
