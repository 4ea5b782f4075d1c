#!/usr/bin/env bash
# README command 1: installs dependencies and models, builds, and runs the main job:
#   1. the real SmolLM2-135M (GGUF, Q4_1): greedy generation with the KV cache and the mean
#      next-token loss on four English sentences (the inference engine at work);
#   2. zeroth-order fine-tuning of the tiny Llama fixture on a toy corpus with MeZO and with
#      BSZO (experiments/runs/quickstart_*.yaml), BSZO once more on two MPI ranks (the same
#      parameter checksum: rank-count invariance), and a replay of the BSZO log that rebuilds
#      the trained weights from the logged scalars alone;
#   3. a real model on a real task: all-MiniLM-L6-v2 with a fresh classification head, trained
#      by BSZO on the shipped movie-review sentences (experiments/runs/reviews_minilm_bszo.yaml),
#      test accuracy before (zero-shot: an untrained head) and after, beside SmolLM2's prompted
#      zero-shot accuracy on the same sentences.
# Ends with the numbers, where the HDF5 logs are and how to look at them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ZOTUNE_TARGETS=zotune bash scripts/build.sh  # the command alone; README command 2 builds the tests
zotune=./build/zotune
smol=models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf

echo; echo "== 1. inference: $smol"
$zotune generate "$smol" --prompt "The capital of France is" --max-new-tokens 12
$zotune score "$smol" \
  --text "The quick brown fox jumps over the lazy dog." \
  --text "Paris is the capital and most populous city of France." \
  --text "Water is made of hydrogen and oxygen atoms." \
  --text "She opened the door and walked into the garden." | tail -1

mpirun=(mpirun -np 2)
if [ "$(id -u)" -eq 0 ]; then mpirun+=(--allow-run-as-root); fi
mpirun+=(--oversubscribe)

train() {  # train LABEL ARGS...: runs zotune train, keeps its summary lines for the end
  echo; echo "== $1"
  shift
  "$@" | tee /tmp/zotune_main_$$.out
  summary+=("$(grep -E '^loss before' /tmp/zotune_main_$$.out)")
  checksums+=("$(grep -E '^parameter checksum' /tmp/zotune_main_$$.out | awk '{print $3}')")
}
summary=(); checksums=()
train "2. MeZO, 1 rank" $zotune train experiments/runs/quickstart_mezo.yaml --overwrite
train "3. BSZO, 1 rank" $zotune train experiments/runs/quickstart_bszo.yaml --overwrite
train "4. BSZO, 2 MPI ranks (its three probes per step spread over the ranks)" \
  "${mpirun[@]}" $zotune train experiments/runs/quickstart_bszo.yaml --overwrite --output runs/quickstart_bszo_2ranks.h5
rm -f /tmp/zotune_main_$$.out
if [ "${checksums[1]}" != "${checksums[2]}" ]; then
  echo "main job: BSZO on 2 ranks ended on checksum ${checksums[2]}, on 1 rank on ${checksums[1]}" >&2
  exit 1
fi

echo; echo "== 5. replay: the trained BSZO weights rebuilt from the initial weights and the log"
$zotune replay runs/quickstart_bszo.h5 --out runs/quickstart_bszo_replayed/model.safetensors

echo; echo "== 6. all-MiniLM-L6-v2 on the movie reviews: zero-shot (untrained head), then BSZO"
$zotune eval experiments/runs/reviews_minilm_bszo.yaml | tee /tmp/zotune_main_$$.out
before=$(grep -E "^test " /tmp/zotune_main_$$.out | awk '{print $NF}')
$zotune train experiments/runs/reviews_minilm_bszo.yaml --overwrite | tee /tmp/zotune_main_$$.out
after=$(grep -E "^test accuracy" /tmp/zotune_main_$$.out | awk '{print $3}')
echo; echo "== 7. SmolLM2-135M prompted zero-shot on the same test sentences"
$zotune eval experiments/runs/reviews_smollm2_zero_shot.yaml | tee /tmp/zotune_main_$$.out
prompted=$(grep -E "^test " /tmp/zotune_main_$$.out | awk '{print $NF}')
rm -f /tmp/zotune_main_$$.out

echo; echo "== summary"
echo "MeZO         ${summary[0]}"
echo "BSZO         ${summary[1]}"
echo "BSZO 2 ranks ${summary[2]}"
echo "BSZO on 1 and 2 ranks: the same final parameter checksum ${checksums[1]}"
echo "movie reviews, 200 test sentences, accuracy:"
echo "  all-MiniLM-L6-v2, zero-shot (untrained head)  $before"
echo "  all-MiniLM-L6-v2, BSZO-trained head           $after   (300 steps, best dev weights)"
echo "  SmolLM2-135M, prompted zero-shot              $prompted"
echo "run logs (HDF5): runs/quickstart_mezo.h5 runs/quickstart_bszo.h5 runs/quickstart_bszo_2ranks.h5 runs/reviews_minilm_bszo.h5"
echo "look at them:    $zotune show runs/quickstart_bszo.h5"
echo "                 /usr/bin/python3 analysis/zotune_log.py runs/quickstart_bszo.h5   (h5py + pandas)"
echo "plot them:       PYTHONPATH=analysis /usr/bin/python3 -m zotune_analysis.plot runs/quickstart_*.h5 -o curves.png"
