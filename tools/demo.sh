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
for cls in Trouser Sneaker Bag Ankle_boot; do imgs+=("$(ls "$data/$cls" | head -1 | sed "s|^|$data/$cls/|")"); done
"$lapq" classify --model "$model" --top 3 "${imgs[@]}"

echo; echo "== lapq eval --model $model --data $data"
"$lapq" eval --model "$model" --data "$data"
