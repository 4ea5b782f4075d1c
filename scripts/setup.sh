#!/usr/bin/env bash
# Installs every build and test dependency of zotune from Debian packages, then fetches the
# real pretrained models (scripts/fetch_models.sh). Idempotent and quiet when all is there.
# Usage: bash scripts/setup.sh [--no-models]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates unzip
  libopenblas-dev libgtest-dev libyaml-cpp-dev libhdf5-dev libopenmpi-dev openmpi-bin
  nlohmann-json3-dev libcli11-dev
  python3 python3-pip python3-numpy python3-h5py python3-pandas python3-matplotlib
  slurmctld slurmd slurm-client munge
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" != "--no-models" ]; then
  bash scripts/fetch_models.sh
fi
