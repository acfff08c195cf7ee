#!/usr/bin/env bash
# The whole benchmark in one go: icstr's accuracy (with misread sheets) and speed, the installed
# peers on the same crops, then the report (Markdown, CSV, SVG plots). See bench/README.md.
#
# Usage: bench/run_all.sh [--model M] [--out DIR] [--limit N] [--no-peers] [--pool CSV] [DATA...]
#   DATA defaults to the benchmark and domain sets in ../shared/data (or $ICSTR_DATA); speed is
#   measured on the first DATA. The icstr binary is $ICSTR, else build/icstr.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out=bench-results
model=()
limit=()
pool=()
peers=1
data=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=(--model "$2"); shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --limit) limit=(--limit "$2"); shift 2 ;;
    --pool) pool=(--pool "$2"); shift 2 ;;
    --no-peers) peers=0; shift ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run_all: unknown option $1" >&2; exit 2 ;;
    *) data+=("$1"); shift ;;
  esac
done
ICSTR="${ICSTR:-$repo/build/icstr}"
export ICSTR
[ -x "$ICSTR" ] || { echo "run_all: no icstr binary at $ICSTR (build first, or set ICSTR)" >&2; exit 1; }
if [ ${#data[@]} -eq 0 ]; then
  root="${ICSTR_DATA:-$repo/../shared/data}"
  for s in benchmarks/iiit5k_test benchmarks/svt_test benchmarks/ic15_test domains/us_plates domains/receipt_lines; do
    [ -e "$root/$s/gt.txt" ] && data+=("$root/$s")
  done
  [ ${#data[@]} -gt 0 ] || { echo "run_all: no data given and none found in $root" >&2; exit 2; }
fi
dargs=()
for d in "${data[@]}"; do dargs+=(--data "$d"); done

echo "== accuracy" >&2
"$ICSTR" bench accuracy "${dargs[@]}" "${model[@]}" --out "$out" --errors "${limit[@]}"
echo "== speed" >&2
"$ICSTR" bench speed --data "${data[0]}" "${model[@]}" --out "$out"
if [ "$peers" = 1 ]; then
  echo "== peers" >&2
  "$repo/bench/run_peers.sh" --out "$out" "${limit[@]}" "${data[@]}" || echo "run_all: a peer failed (see above)" >&2
fi
echo "== report" >&2
"$ICSTR" bench report "$out" "${pool[@]}"
