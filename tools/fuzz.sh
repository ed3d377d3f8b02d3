#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan + coverage) and runs
# each for a bounded time on a copy of its seed corpus (tests/fuzz/corpus).
# Fails on any crash, leak, timeout or sanitizer report.
#   tools/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
tools/install_deps.sh
if ! command -v clang++ >/dev/null || ! dpkg-query -W libclang-rt-14-dev >/dev/null 2>&1; then
  echo "lapq: installing clang and libclang-rt-14-dev for fuzzing"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
fi
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAPQ_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_onnx_loader fuzz_image fuzz_cli_values

declare -A corpus=([fuzz_onnx_loader]=onnx [fuzz_image]=image [fuzz_cli_values]=cli_values)
status=0
for target in fuzz_onnx_loader fuzz_image fuzz_cli_values; do
  work=$(mktemp -d)
  cp tests/fuzz/corpus/"${corpus[$target]}"/* "$work"/
  log="build-fuzz/$target.log"
  echo "== $target: ${seconds}s"
  if ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     build-fuzz/tests/fuzz/"$target" "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
       -max_len=65536 -artifact_prefix="build-fuzz/$target-" -print_final_stats=1 >"$log" 2>&1; then
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" | sed "s/^/   /"
  else
    echo "lapq: $target FAILED (see $log)"; tail -40 "$log"; status=1
  fi
  rm -rf "$work"
done
exit $status
