#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing, builds, and reads the example crops
# with the shipped model (models/icstr.safetensors), then scores them against their labels.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build/icstr selfcheck
echo "== recognizing examples/crops/images with models/icstr.safetensors"
build/icstr recognize examples/crops/images
echo "== scored against examples/crops/gt.txt (case-sensitive)"
build/icstr eval --data examples/crops --protocol cased
