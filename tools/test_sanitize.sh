#!/usr/bin/env bash
# Builds the test suite with AddressSanitizer + UndefinedBehaviorSanitizer
# (-O1, no benchmarks) into ./build-asan and runs it through ctest.
# LAPQ_SANITIZER_RUN=1 tells the data-heavy tests to use a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DLAPQ_SANITIZE=ON -DLAPQ_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$(nproc)"
export LAPQ_SANITIZER_RUN=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
