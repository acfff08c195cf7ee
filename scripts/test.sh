#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite: the release build, then the same suite built
# with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/). Exit code is non-zero if any
# test fails. Usage: scripts/test.sh [--no-asan]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the build must be warning-free and complete; a failed compile stops here
cmake --build build -j"$(nproc)"
echo "== tests (release build)"
ctest --test-dir build --output-on-failure -j2

if [ "${1:-}" != "--no-asan" ]; then
  echo "== tests (AddressSanitizer + UndefinedBehaviorSanitizer build)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DICSTR_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$(nproc)" 2>&1 | grep -Ev '^\[ *[0-9]+%\]' || true
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ICSTR_SANITIZED=1 ctest --test-dir build-asan --output-on-failure -j2
fi
