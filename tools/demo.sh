#!/usr/bin/env bash
# The README's first command: installs what is missing, builds lapq (Release)
# and runs the main job on the embedded default model (a residual CNN trained
# on Fashion-MNIST, models/fashion_resnet.onnx): model summary, classify a few
# test images, evaluate on all 10,000 test images.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh
lapq=build/bin/lapq
model=models/fashion_resnet.onnx
data=build/data/fashion-mnist-test

if [[ ! -f "$data/.complete" ]]; then
  echo "== exporting the Fashion-MNIST test set (Debian's dataset-fashion-mnist) to $data"
  build/bin/lapq_fashion_mnist_to_folder --split test --out "$data"
  touch "$data/.complete"
fi

echo; echo "== lapq info --model $model"
"$lapq" info --model "$model" | tail -4

echo; echo "== lapq classify --model $model (one image of four classes)"
imgs=()
for cls in Trouser Sneaker Bag Ankle_boot; do
  files=("$data/$cls"/*.png)
  imgs+=("${files[0]}")
done
"$lapq" classify --model "$model" --top 3 "${imgs[@]}"

echo; echo "== lapq eval --model $model --data $data"
"$lapq" eval --model "$model" --data "$data"

# Quantization: W8A8 and W4A4 with LAPQ, calibrated on 512 images of a
# 2,000-image export of the TRAIN split (never the test images reported on).
calib=build/data/fashion-mnist-calib
if [[ ! -f "$calib/.complete" ]]; then
  echo; echo "== exporting 2,000 Fashion-MNIST training images to $calib (calibration)"
  build/bin/lapq_fashion_mnist_to_folder --split train --limit 2000 --out "$calib"
  touch "$calib/.complete"
fi
fp32_top1=$("$lapq" eval --model "$model" --data "$data" --json -q | sed 's/.*"top1": \([0-9.]*\).*/\1/')
declare -A qtop1
for bits in w8a8 w4a4; do
  echo; echo "== lapq quantize --model $model --calib $calib --bits $bits --method lapq --out build/fashion_resnet_$bits.lapq"
  "$lapq" quantize --model "$model" --calib "$calib" --calib-size 256 --bits "$bits" --method lapq \
    --p-count 5 --max-evals 300 --out "build/fashion_resnet_$bits.lapq" --report "build/fashion_resnet_$bits.json"
  qtop1[$bits]=$("$lapq" eval --model "build/fashion_resnet_$bits.lapq" --data "$data" --json -q |
                 sed 's/.*"top1": \([0-9.]*\).*/\1/')
done
echo; echo "== top-1 on the 10,000 Fashion-MNIST test images"
printf '%-8s %8s\n' model top-1
printf '%-8s %7.2f%%\n' FP32 "$fp32_top1" W8A8 "${qtop1[w8a8]}" W4A4 "${qtop1[w4a4]}"
