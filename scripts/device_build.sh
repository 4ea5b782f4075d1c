#!/usr/bin/env bash
# Builds zotune on the GPU machine (Ubuntu image, see DEVELOPERS.md) into build-dev/. That
# image has no OpenBLAS: when pkg-config cannot find it, the Debian packages carried in the
# folder given as $1 (libopenblas*, libgfortran5, pkgconf) are unpacked under /tmp/ob and
# used from there. Targets to build follow the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
debs=${1:?usage: device_build.sh DEB_FOLDER [targets...]}
shift
extra=()
if ! pkg-config --exists openblas 2>/dev/null; then
  rm -rf /tmp/ob && mkdir -p /tmp/ob
  for f in "$debs"/*.deb; do dpkg -x "$f" /tmp/ob; done
  pc=/tmp/ob/usr/lib/x86_64-linux-gnu/pkgconfig
  mkdir -p "$pc"
  src=$(find /tmp/ob -name 'openblas-pthread.pc' | head -1)
  sed "s#^prefix=.*#prefix=/tmp/ob/usr#" "$src" > "$pc/openblas.pc"
  export LD_LIBRARY_PATH=/tmp/ob/usr/lib/x86_64-linux-gnu:/tmp/ob/usr/lib/x86_64-linux-gnu/openblas-pthread:${LD_LIBRARY_PATH:-}
  export PKG_CONFIG_PATH=$pc
  extra+=(-DPKG_CONFIG_EXECUTABLE=/tmp/ob/usr/bin/pkgconf)
  echo "device_build: OpenBLAS from the carried Debian packages (/tmp/ob)"
fi
cmake -S . -B build-dev -G Ninja -DCMAKE_BUILD_TYPE=Release "${extra[@]}" > build-dev.configure.log 2>&1 || {
  tail -40 build-dev.configure.log; exit 1; }
grep -E "^-- zotune:" build-dev.configure.log || true
ninja -C build-dev "$@" > build-dev.log 2>&1 || { grep -E "error|Error" build-dev.log | head -30; tail -20 build-dev.log; exit 1; }
echo "device_build: ok"
