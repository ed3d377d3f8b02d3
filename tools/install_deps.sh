#!/usr/bin/env bash
# Installs the Debian 12 packages lapq needs, only those that are missing.
# Usage: tools/install_deps.sh [--with-python]   (--with-python adds the
# packages of the Python tools: model training and golden-data scripts)
set -euo pipefail

packages=(build-essential cmake pkg-config
  libdnnl-dev libonnx-dev libprotobuf-dev protobuf-compiler libstb-dev
  libgtest-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev libonnx-testdata dataset-fashion-mnist)
if [[ "${1:-}" == "--with-python" ]]; then
  packages+=(python3-torch python3-torchvision python3-onnx python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "lapq: installing missing Debian packages: ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "lapq: error: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
if ! $sudo apt-get update -qq; then
  echo "lapq: error: 'apt-get update' failed; install by hand: apt-get install ${missing[*]}" >&2
  exit 1
fi
if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/lapq-apt.log 2>&1; then
  tail -20 /tmp/lapq-apt.log >&2
  echo "lapq: error: could not install: ${missing[*]} (see /tmp/lapq-apt.log)" >&2
  exit 1
fi
