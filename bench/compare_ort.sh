#!/usr/bin/env bash
# lapq vs ONNX Runtime on the same ONNX files, alternating, batch 1 (docs/benchmarks.md).
#
#   bench/compare_ort.sh [--lapq BIN] [--threads 1,2] [--rounds 3] [--runs 20] [--int8-bits w8a8]
#                        [--per-channel] [--no-fp32] [--no-int8] MODEL.onnx...
#
# Installs onnxruntime-node 1.30.0 from the npm registry into build/ort when missing
# (--ignore-scripts: the package ships libonnxruntime for linux-x64; its postinstall
# tries a download that fails offline). For every model and thread count it runs
# `lapq bench --bits fp32` and bench/ort/bench_ort.js in turn, --rounds times
# (so machine noise hits both alike), and prints the median over rounds of each
# tool's median latency and the ratio lapq/ORT (< 1: lapq is faster).
#
# int8: `lapq export --format onnx-qdq --bits w8a8 --quantize-layer-outputs M.onnx Q.onnx`
# quantizes the model on the spot (max clipping on random inputs: latency does not depend
# on the clipping values) and writes it as an ONNX QDQ model with int32 biases and every
# conv output quantized, the form ONNX Runtime runs entirely on QLinearConv / QLinearAdd /
# QGemm. `lapq import` reads that file back into a .lapq, so both tools time exactly the
# same quantized model (lapq: `lapq bench --bits file`). Rows are skipped when lapq has no
# `export` command.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAPQ="" THREADS="1,2" ROUNDS=3 RUNS=20 INT8_BITS=w8a8 PER_CHANNEL="" FP32=1 INT8=1
# lapq runs with the OpenMP waiting policy of the environment, by default GNU OpenMP's
# (spin a while, then sleep: what a user gets). On a loaded machine set
# OMP_WAIT_POLICY=passive (spinning pool threads starve the other runs), at the cost of
# a wake-up per layer at 2+ threads (docs/benchmarks.md).
MODELS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --lapq) LAPQ=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --int8-bits) INT8_BITS=$2; shift 2 ;;
    --per-channel) PER_CHANNEL=--per-channel; shift ;;
    --no-fp32) FP32=0; shift ;;
    --no-int8) INT8=0; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "compare_ort.sh: unknown option $1" >&2; exit 2 ;;
    *) MODELS+=("$1"); shift ;;
  esac
done
[[ ${#MODELS[@]} -gt 0 ]] || { echo "compare_ort.sh: give one or more ONNX files" >&2; exit 2; }
if [[ -z "$LAPQ" ]]; then
  for b in "$ROOT"/build*/bin/lapq; do [[ -x "$b" ]] && LAPQ=$b && break; done
fi
[[ -x "$LAPQ" ]] || { echo "compare_ort.sh: lapq binary not found (build it, or pass --lapq)" >&2; exit 2; }
command -v node >/dev/null || { echo "compare_ort.sh: node is required" >&2; exit 2; }

ORT_DIR="$ROOT/build/ort"
if [[ ! -d "$ORT_DIR/node_modules/onnxruntime-node" ]]; then
  echo "installing onnxruntime-node@1.30.0 into $ORT_DIR" >&2
  mkdir -p "$ORT_DIR"
  (cd "$ORT_DIR" && npm install onnxruntime-node@1.30.0 --ignore-scripts --no-audit --no-fund >&2)
fi
export ORT_NODE_MODULES="$ORT_DIR/node_modules"

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
json_field() { sed -n "s/.*\"$1\": *\([0-9.eE+-]*\).*/\1/p" | head -1; }

HAS_EXPORT=0
"$LAPQ" --help 2>/dev/null | grep -qE "^ +export( |$)" && HAS_EXPORT=1

echo "load: $(uptime | sed 's/.*load average/load average/')"
printf "%-22s %-6s %7s %12s %12s %10s\n" model bits threads "lapq ms" "ORT ms" lapq/ORT
for model in "${MODELS[@]}"; do
  # Batch-1 input shape from `lapq info` (the symbolic batch dimension set to 1).
  shape=$("$LAPQ" info --model "$model" | sed -n 's/^input .*\[\([^]]*\)\].*/\1/p' | head -1 | tr -d ' ' |
          sed 's/^[^,]*,/1,/')
  IFS=, read -ra tlist <<< "$THREADS"
  for t in "${tlist[@]}"; do
    [[ $FP32 -eq 1 ]] || continue
    lapq_ms=() ort_ms=()
    for ((r = 0; r < ROUNDS; ++r)); do
      lapq_ms+=("$("$LAPQ" bench --model "$model" --bits fp32 --threads "$t" --batch 1 --runs "$RUNS" --json |
                   json_field median_ms)")
      ort_ms+=("$(node "$ROOT/bench/ort/bench_ort.js" --model "$model" --shape "$shape" --threads "$t" --runs "$RUNS" |
                  json_field median_ms)")
    done
    l=$(printf "%s\n" "${lapq_ms[@]}" | median)
    o=$(printf "%s\n" "${ort_ms[@]}" | median)
    printf "%-22s %-6s %7s %12.3f %12.3f %10.2f\n" "$(basename "$model")" fp32 "$t" "$l" "$o" \
      "$(awk -v a="$l" -v b="$o" 'BEGIN {print a / b}')"
  done
  [[ $INT8 -eq 1 ]] || continue
  if [[ $HAS_EXPORT -eq 0 ]]; then
    echo "int8: skipped: this lapq has no 'export --format onnx-qdq' command" >&2
    continue
  fi
  tmp=$(mktemp -d)
  base="$tmp/$(basename "$model" .onnx).$INT8_BITS"
  "$LAPQ" export --format onnx-qdq --bits "$INT8_BITS" $PER_CHANNEL --quantize-layer-outputs "$model" \
    "$base.qdq.onnx" >&2
  "$LAPQ" import --format onnx-qdq "$base.qdq.onnx" "$base.lapq" > /dev/null
  for t in "${tlist[@]}"; do
    lapq_ms=() ort_ms=()
    for ((r = 0; r < ROUNDS; ++r)); do
      lapq_ms+=("$("$LAPQ" bench --model "$base.lapq" --bits file --threads "$t" --batch 1 --runs "$RUNS" --json |
                   json_field median_ms)")
      ort_ms+=("$(node "$ROOT/bench/ort/bench_ort.js" --model "$base.qdq.onnx" --shape "$shape" --threads "$t" \
                  --runs "$RUNS" | json_field median_ms)")
    done
    l=$(printf "%s\n" "${lapq_ms[@]}" | median)
    o=$(printf "%s\n" "${ort_ms[@]}" | median)
    printf "%-22s %-6s %7s %12.3f %12.3f %10.2f\n" "$(basename "$model")" "$INT8_BITS" "$t" "$l" "$o" \
      "$(awk -v a="$l" -v b="$o" 'BEGIN {print a / b}')"
  done
  rm -rf "$tmp"
done
