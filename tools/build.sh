#!/usr/bin/env bash
# Configures and builds lapq (Release) into ./build. Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
