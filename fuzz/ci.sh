#!/usr/bin/env bash
# CI hook: builds the fuzz targets and runs each for a few seconds (about a minute in all), failing
# when any target crashes, leaks or trips a sanitizer. Usage: fuzz/ci.sh [SECONDS_PER_TARGET]
# (default 8). Needs clang 14 and libclang-rt-14-dev (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz/build.sh >/dev/null
fuzz/run.sh "${1:-8}"
