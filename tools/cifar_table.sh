#!/usr/bin/env bash
# Runs the CIFAR-10 ResNet-20 quantization table of docs/quantization-results.md:
# presets paper and deploy x bit widths w8a8 w4a8 w4a4 w3a3 w2a4 x methods
# (one `--method lapq` run gives the max, Lp(p*) and Powell stages; one
# `--method mse` run gives MSE), each with calibration loss and top-1 on all of
# test/ after every stage. Then prints the markdown table (tools/cifar_table.py).
#
#   tools/cifar_table.sh [--lapq BIN] [--out DIR] [--jobs 2] [--only PRESET_BITS...]
#
# Every run writes DIR/<preset>_<bits>_<method>.{json,log}; a run whose JSON
# already exists is skipped, so the script can be resumed. Needs
# ../shared/data/cifar10 (exits 0 with a note when it is absent).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
C=${LAPQ_CIFAR_DIR:-$ROOT/../shared/data/cifar10}
LAPQ=$ROOT/build/bin/lapq OUT=$ROOT/build/cifar_table JOBS=2 ONLY=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --lapq) LAPQ=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --only) shift; while [[ $# -gt 0 && $1 != --* ]]; do ONLY+=("$1"); shift; done ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "cifar_table.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -f $C/resnet20.onnx ]] || { echo "cifar_table.sh: $C/resnet20.onnx not found; nothing to do"; exit 0; }
[[ -x $LAPQ ]] || { echo "cifar_table.sh: $LAPQ not built (tools/build.sh)" >&2; exit 2; }
mkdir -p "$OUT"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

# One line per run: preset bits method extra-options, the 4-bit and lower
# cells first. The reference ran Powell with maxiter 2 on the paper preset at
# W4A4 (lapq-method.md); every other cell uses one Powell iteration (the
# reference's default for networks other than ResNet-18).
RUNS=()
for bits in w4a4 w3a3 w2a4 w4a8 w8a8; do
  iters=1
  [[ $bits == w4a4 ]] && iters=2
  RUNS+=("paper $bits lapq --maxiter $iters" "paper $bits mse")
  RUNS+=("deploy $bits lapq --maxiter 1" "deploy $bits mse")
done

run_one() {
  local preset=$1 bits=$2 method=$3; shift 3
  local name=$OUT/${preset}_${bits}_${method}
  [[ -f $name.json ]] && { echo "skip $name (done)"; return 0; }
  echo "run  $name $*"
  # Threads: one per job, so JOBS runs share the cores without OpenMP contention.
  "$LAPQ" quantize --model "$C/resnet20.onnx" --labels "$C/labels.txt" --pre resize=none --pre crop=none \
    --calib "$C/calib" --calib-size 512 --seed 0 --eval "$C/test" --threads 1 \
    --preset "$preset" --bits "$bits" --method "$method" "$@" \
    --report "$name.json.part" --out "$name.lapq" >"$name.log" 2>&1 && mv "$name.json.part" "$name.json"
}

pids=()
for r in "${RUNS[@]}"; do
  read -r preset bits method extra <<<"$r"
  if [[ ${#ONLY[@]} -gt 0 ]]; then
    keep=0; for o in "${ONLY[@]}"; do [[ ${preset}_${bits} == "$o" ]] && keep=1; done
    [[ $keep == 1 ]] || continue
  fi
  # shellcheck disable=SC2086
  run_one "$preset" "$bits" "$method" $extra &
  pids+=($!)
  while [[ $(jobs -rp | wc -l) -ge $JOBS ]]; do sleep 2; done
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
[[ $status == 0 ]] || echo "cifar_table.sh: some runs failed; see $OUT/*.log" >&2
/usr/bin/python3 "$ROOT/tools/cifar_table.py" "$OUT"
exit $status
