#!/usr/bin/env bash
# Reading options tried on the POOL SIDE of the two domains only, never on their test parts, so
# an option can be chosen before bench/incontext.sh measures it once. Each domain's pool
# candidates (bench/incontext.sh's split) are cut in two folds; a fold's pool is made from one
# half and scored on the other, then the other way round:
#   us_plates      the 100 candidate plates: pool = 50 of them, validation = the other 50
#   receipt_lines  receipts 000-004 against 005-009: pool = 100 candidate lines of one half
#                  (labels of at most 25 characters), validation = every line of the other half
# For every fold: word accuracy with no pool, and with the pool for each --reading R (a string of
# `icstr eval` options, e.g. "--shots 1" or "--no-compare-plain"; "" = the default reading, also
# what is scored when no --reading is given).
# Each fold's pool chooses its view from its own records (`icstr pool view --auto`; --view full:
# whole crops).
# Output: DIR/incontext_val.csv (domain,fold,n,accuracy,one_minus_ned,reading,view; reading "none"
# = no pool) and one line per fold and reading on stdout.
#
# usage: bench/incontext_val.sh [--model M] [--out DIR] [--data DIR] [--limit N] [--view auto|full]
#                               [--reading R]...
set -euo pipefail
cd "$(dirname "$0")/.."
ICSTR=${ICSTR:-build/icstr}
model=models/icstr.safetensors
out=bench-results/incontext_val
data=../shared/data/domains
limit=()
readings=()
view=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --limit) limit=(--limit "$2"); shift 2 ;;
    --view) view=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --reading) readings+=("$2"); shift 2 ;;
    *) echo "incontext_val.sh: unknown argument $1 (readings come with --reading)" >&2; exit 2 ;;
  esac
done
[ ${#readings[@]} -gt 0 ] || readings=("")
case "$view" in auto|full) ;; *) echo "incontext_val.sh: --view is auto or full" >&2; exit 2 ;; esac
mkdir -p "$out"
data=$(cd "$data" && pwd)
. bench/score_lib.sh

make_fold() { # domain fold -> $out/<domain>-<fold>-pool.txt, -val.txt and the pool $out/<domain>-<fold>-P
  local d=$1 f=$2 p="$out/$1-$2"
  case "$d" in
    us_plates)
      if [ "$f" = a ]; then head -n 50 "$out/$d-pool.txt" > "$p-pool.txt"; tail -n +51 "$out/$d-pool.txt" > "$p-val.txt"
      else tail -n +51 "$out/$d-pool.txt" > "$p-pool.txt"; head -n 50 "$out/$d-pool.txt" > "$p-val.txt"; fi ;;
    receipt_lines)
      local mine='/00[0-4]_' other='/00[5-9]_'
      [ "$f" = a ] || { mine='/00[5-9]_'; other='/00[0-4]_'; }
      grep -E "$mine" "$out/$d-pool.txt" | awk 'NR <= 100' > "$p-pool.txt" # awk reads it all: head would end grep with SIGPIPE (fatal under pipefail)
      grep -E "$other" "$out/$d-all.txt" > "$p-val.txt" ;;
  esac
  rm -rf "$p-P"
  "$ICSTR" pool create "$p-P" --model "$model" > /dev/null
  "$ICSTR" pool add "$p-P" --data "$p-pool.txt" --tag "$d-$f" > /dev/null ||
    echo "incontext_val.sh: some crops of $d fold $f were not added to the pool (see above)" >&2
  make_view "$p-P" > "$p-view.txt"
}

csv="$out/incontext_val.csv"
echo "domain,fold,n,accuracy,one_minus_ned,reading,view" > "$csv"
for d in us_plates receipt_lines; do
  [ -f "$data/$d/gt.txt" ] || { echo "incontext_val.sh: $data/$d/gt.txt missing, skipped" >&2; continue; }
  split_domain "$d"
  for f in a b; do
    make_fold "$d" "$f"
    reading=
    read -r n acc ned <<< "$(score "$out/$d-$f-val.txt")"
    echo "$d,$f,$n,$acc,$ned,none,full" | tee -a "$csv"
    for r in "${readings[@]}"; do
      reading=$r
      # shots come from the reading when it names them (score passes --shots first; a later one wins)
      read -r n acc ned <<< "$(score "$out/$d-$f-val.txt" "$out/$d-$f-P" 2)"
      echo "$d,$f,$n,$acc,$ned,${r:-default},$(cat "$out/$d-$f-view.txt")" | tee -a "$csv"
    done
  done
done
echo "incontext_val.sh: wrote $csv" >&2
