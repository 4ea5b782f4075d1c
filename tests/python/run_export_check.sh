#!/usr/bin/env bash
# An export end to end (docs/EXPORT.md): train RUN_FILE, export its log with zotune's own
# logits of two texts, and load the export with transformers (and peft) to compare
# (check_hf_export.py). Exit 77 (ctest SKIP_RETURN_CODE) when PYTHON cannot import what the
# check needs or when the run's model file is absent.
# ZOTUNE_EXPORT_ALSO (environment): a second export of the same weights to check the same way.
# usage: run_export_check.sh ZOTUNE PYTHON RUN_FILE WORK_DIR MODEL_PATH [zotune export options...]
set -euo pipefail
zotune=$1 python=$2 run_file=$3 work=$4 model=$5
shift 5
modules="torch, transformers, safetensors"
case " $* " in *" --merge-lora "*) modules="$modules, peft" ;; esac
if [ ! -e "$model" ]; then echo "SKIP: $model is absent (scripts/fetch_models.sh fetches it)"; exit 77; fi
if ! "$python" -c "import $modules" 2>/dev/null; then
  echo "SKIP: $python cannot import $modules (set ZOTUNE_HF_PYTHON to a Python that can)"; exit 77
fi
rm -rf "$work" && mkdir -p "$work"
"$zotune" train "$run_file" --overwrite
"$zotune" export "$run_file" --out "$work/export" --reference-logits "$work/zotune_logits.safetensors" \
  --reference-text "The capital of France is Paris." --reference-text "Every rank holds a full replica, 42 times." "$@"
merged=()
case " $* " in *" --merge-lora "*) merged=(--merged) ;; esac
"$python" "$(dirname "$0")/check_hf_export.py" "$work/export" "$work/zotune_logits.safetensors" "${merged[@]}"
# ZOTUNE_EXPORT_ALSO: another export of the same weights (the run's own run.save directory).
if [ -n "${ZOTUNE_EXPORT_ALSO:-}" ]; then
  "$python" "$(dirname "$0")/check_hf_export.py" "$ZOTUNE_EXPORT_ALSO" "$work/zotune_logits.safetensors" "${merged[@]}"
fi
