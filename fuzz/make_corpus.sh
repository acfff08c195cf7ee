#!/usr/bin/env bash
# Remakes the seed corpus fuzz/corpus/<target>/ with the project's own writers: fuzz/make_seeds.c
# (linked against the normal build's libicstr.a) writes small valid and broken images, gt.txt
# lists, LMDB records, safetensors files, YAML configs and pool records, and `icstr data synth`
# renders two real word crops. Usage: fuzz/make_corpus.sh  (uses $ICSTR_BUILD_DIR, default build/,
# configured and built here when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${ICSTR_BUILD_DIR:-$ROOT/build}
if [ ! -x "$BUILD/icstr" ] || [ ! -f "$BUILD/libicstr.a" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j2 --target icstr >/dev/null
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

targets=(fuzz_image fuzz_gt fuzz_lmdb fuzz_safetensors fuzz_config fuzz_pool_record fuzz_store_cache)
for t in "${targets[@]}"; do
  rm -rf "fuzz/corpus/$t"
  mkdir -p "fuzz/corpus/$t"
done

PKGS="openblas lmdb yaml-0.1 stb"
${CC:-cc} -std=c11 -D_GNU_SOURCE -O1 -fopenmp -Icore -Idata -Ipool -Irecognizer $(pkg-config --cflags $PKGS) \
  fuzz/make_seeds.c "$BUILD/libicstr.a" $(pkg-config --libs $PKGS) -lm -lpthread -o "$TMP/make_seeds"
"$TMP/make_seeds" fuzz/corpus "$TMP" "$ROOT"

# two rendered crops, clean and small, as the recognizer sees real input
"$BUILD/icstr" data synth --n 2 --out "$TMP/synth.lmdb" --seed 3 --difficulty 0 --min-len 2 --max-len 4 \
  --min-height 16 --max-height 16 --threads 1 2>"$TMP/log" || { cat "$TMP/log" >&2; exit 1; }
"$BUILD/icstr" data unpack "$TMP/synth.lmdb" "$TMP/synth" >/dev/null 2>"$TMP/log" || { cat "$TMP/log" >&2; exit 1; }
i=0
for f in "$TMP"/synth/images/*; do
  cp "$f" "fuzz/corpus/fuzz_image/rendered_$i.${f##*.}"
  i=$((i + 1))
done

# the config fuzzer's dictionary: YAML syntax and every key the writer knows
{
  echo "# libFuzzer dictionary for fuzz_config (made by fuzz/make_corpus.sh): YAML syntax and every key"
  cat <<'DICT'
"model:"
"train:"
": "
"\x0a  "
"- path: "
"weight: "
"&a "
"*a"
"!!str "
"true"
"false"
"null"
"~"
"1e9"
"-1"
"0x10"
".nan"
".inf"
"\"\\u00e9\""
DICT
  sed -n 's/^  \([a-z_0-9]*\):.*/"\1: "/p' fuzz/corpus/fuzz_config/all_keys.yaml | sort -u
} >fuzz/fuzz_config.dict

for t in "${targets[@]}"; do
  printf '%-18s %3d files %6d bytes\n' "$t" "$(ls "fuzz/corpus/$t" | wc -l)" \
    "$(cat fuzz/corpus/$t/* | wc -c)"
done
