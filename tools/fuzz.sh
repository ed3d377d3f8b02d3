#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan + coverage) and runs
# each on a copy of its seed corpus (tests/fuzz/corpus). Fails on any crash,
# leak, timeout or sanitizer report; the input is saved as
# <build>/<target>-crash-* (add it to the corpus once fixed).
#   tools/fuzz.sh            CI mode: a fixed seed and a fixed number of runs per
#                            target (reproducible), capped at 150 s per target
#   tools/fuzz.sh SECONDS    exploration: a random seed for SECONDS per target
# LAPQ_FUZZ_BUILD=DIR builds in DIR instead of build-fuzz; LAPQ_FUZZ_TARGETS="a b"
# runs only those targets.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-}"
build="${LAPQ_FUZZ_BUILD:-build-fuzz}"
targets=(${LAPQ_FUZZ_TARGETS:-fuzz_onnx_loader fuzz_image fuzz_cli_values fuzz_qmodel_file fuzz_qdq_import})
declare -A runs=([fuzz_onnx_loader]=60000 [fuzz_image]=12000 [fuzz_cli_values]=40000 [fuzz_qmodel_file]=20000
             [fuzz_qdq_import]=150000)
tools/install_deps.sh
if ! command -v clang++ >/dev/null || ! dpkg-query -W libclang-rt-14-dev >/dev/null 2>&1; then
  echo "lapq: installing clang and libclang-rt-14-dev for fuzzing"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
fi
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAPQ_FUZZ=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

declare -A corpus=([fuzz_onnx_loader]=onnx [fuzz_image]=image [fuzz_cli_values]=cli_values [fuzz_qmodel_file]=qmodel
                [fuzz_qdq_import]=qdq)
status=0
for target in "${targets[@]}"; do
  work=$(mktemp -d)
  cp tests/fuzz/corpus/"${corpus[$target]}"/* "$work"/
  log="$build/$target.log"
  if [[ -n "$seconds" ]]; then limits=(-max_total_time="$seconds"); else
    limits=(-seed=1 -runs="${runs[$target]}" -max_total_time=150); fi
  echo "== $target: ${limits[*]}"
  if ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     "$build"/tests/fuzz/"$target" "$work" "${limits[@]}" -timeout=10 -rss_limit_mb=4096 \
       -max_len=65536 -artifact_prefix="$build/$target-" -print_final_stats=1 >"$log" 2>&1; then
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" | sed "s/^/   /"
  else
    echo "lapq: $target FAILED (see $log)"; tail -40 "$log"; status=1
  fi
  rm -rf "$work"
done
exit $status
