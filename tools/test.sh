#!/usr/bin/env bash
# Builds lapq and runs the whole test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
