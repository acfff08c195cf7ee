#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing, builds, and runs icstr.
# Until a trained model ships, it shows the commands and runs the installation self-check.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build/icstr --help
build/icstr selfcheck
