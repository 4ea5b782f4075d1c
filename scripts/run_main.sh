#!/usr/bin/env bash
# README command 1: installs dependencies and models, builds, and runs the main job.
# Until training lands this is the inference demo on the real SmolLM2-135M (GGUF, Q4_1)
# and all-MiniLM-L6-v2 models: inspect, greedy generation with a KV cache, next-token loss.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
smol=models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf
echo; echo "== zotune inspect $smol"
./build/zotune inspect "$smol"
echo; echo "== zotune inspect models/minilm-l6"
./build/zotune inspect models/minilm-l6
echo; echo "== zotune generate (greedy, KV cache)"
./build/zotune generate "$smol" --prompt "The capital of France is" --max-new-tokens 12
echo; echo "== zotune score: mean next-token loss on English sentences"
./build/zotune score "$smol" \
  --text "The quick brown fox jumps over the lazy dog." \
  --text "Paris is the capital and most populous city of France." \
  --text "Water is made of hydrogen and oxygen atoms." \
  --text "She opened the door and walked into the garden."
