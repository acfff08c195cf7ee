#!/usr/bin/env bash
# Builds the libFuzzer targets fuzz/fuzz_*.c into build-fuzz/ (or $ICSTR_FUZZ_BUILD): the library
# sources (core/ data/ pool/ recognizer/ except recognizer/main.c) compiled with clang,
# AddressSanitizer, UndefinedBehaviorSanitizer and coverage for the fuzzer, then one program per
# target. Incremental: an object is rebuilt when its source or any project header is newer.
# Needs clang 14 and libclang-rt-14-dev (scripts/setup.sh installs them).
# Usage: fuzz/build.sh [-j N]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${ICSTR_FUZZ_BUILD:-$ROOT/build-fuzz}
JOBS=2
[ "${1:-}" = "-j" ] && JOBS=${2:-2}
CC=${CC_FUZZ:-clang}
command -v "$CC" >/dev/null || { echo "fuzz/build.sh: $CC not found (run scripts/setup.sh)" >&2; exit 1; }
# clang's OpenMP runtime is a separate package from gcc's libgomp
if ! echo 'int main(void) { return 0; }' | "$CC" -fopenmp -x c - -o /dev/null 2>/dev/null; then
  echo "fuzz/build.sh: $CC -fopenmp cannot link: install libomp-dev (LLVM's OpenMP runtime)" >&2
  exit 1
fi

PKGS="openblas lmdb yaml-0.1 stb"
CFLAGS=(-std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Wshadow -Wno-pass-failed
        -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined -fopenmp
        -Icore -Idata -Ipool -Irecognizer "-DICSTR_SOURCE_DIR=\"$ROOT\"" $(pkg-config --cflags $PKGS))
LIBS=($(pkg-config --libs $PKGS) -lm -lpthread)

mkdir -p "$OUT/obj"
# the newest header: every object older than it is rebuilt
newest_h=$(ls -t core/*.h data/*.h pool/*.h recognizer/*.h | head -1)
srcs=()
for s in core/*.c data/*.c pool/*.c recognizer/*.c; do
  [ "$s" = recognizer/main.c ] && continue
  srcs+=("$s")
done
todo=()
for s in "${srcs[@]}"; do
  o="$OUT/obj/${s//\//_}.o"
  if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ "$newest_h" -nt "$o" ]; then todo+=("$s"); fi
done
if ((${#todo[@]})); then
  echo "fuzz/build.sh: compiling ${#todo[@]} sources" >&2
  export OUT
  printf '%s\n' "${todo[@]}" |
    xargs -P "$JOBS" -I{} sh -c 'o="$OUT/obj/$(echo {} | tr / _).o"; exec "$0" "$@" -c {} -o "$o"' \
      "$CC" "${CFLAGS[@]}"
  rm -f "$OUT/libicstr-fuzz.a"
fi
if [ ! -f "$OUT/libicstr-fuzz.a" ]; then
  objs=()
  for s in "${srcs[@]}"; do objs+=("$OUT/obj/${s//\//_}.o"); done
  ar rcs "$OUT/libicstr-fuzz.a" "${objs[@]}"
fi
for t in fuzz/fuzz_*.c; do
  name=$(basename "$t" .c)
  if [ ! -x "$OUT/$name" ] || [ "$t" -nt "$OUT/$name" ] || [ "$OUT/libicstr-fuzz.a" -nt "$OUT/$name" ]; then
    echo "fuzz/build.sh: linking $name" >&2
    "$CC" "${CFLAGS[@]}" -fsanitize=fuzzer "$t" "$OUT/libicstr-fuzz.a" "${LIBS[@]}" -o "$OUT/$name"
  fi
done
echo "fuzz/build.sh: targets in $OUT" >&2
